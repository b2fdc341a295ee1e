"""Index build/update, hybrid retrieval and answers with the fake encoder (fast)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.answer.answerer import Answerer, AnswerParams
from qa.answer.rules import RuleParams
from qa.config import Settings
from qa.index.build import build_index, staleness, update_index
from qa.index.store import load_index
from qa.search.hybrid import Retriever, _z
from qa.service import QAService
from qa.startup import open_service
from tests.conftest import FakeEncoder

CONTRACT_KEYS = {"question", "answer", "passages"}
PASSAGE_KEYS = {"doc", "title", "text", "start", "end", "score", "highlights"}


def answerer(index_dir: Path, encoder: FakeEncoder, **params: float) -> Answerer:
    """The sentence rules (no reader: another model) over a built index, never abstaining for low
    confidence unless told to."""
    data = load_index(index_dir)
    rules = RuleParams(**{"min_confidence": 0.0, "min_confidence_plain": 0.0, **params})
    return Answerer(data, Retriever(data, encoder), AnswerParams(rules=rules))


@pytest.fixture
def svc(small_docs: Path, tmp_path: Path, fake_encoder) -> QAService:
    return open_service(Settings(docs_dir=small_docs, index_dir=tmp_path / "index", auto_build="missing"),
                        encoder=fake_encoder, progress=False, log=lambda m: None)


def test_build_writes_manifest_and_chunk_offsets(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    rep = build_index(small_docs, tmp_path / "index", fake_encoder)
    assert rep.documents == 3 and rep.chunks >= 3
    data = load_index(tmp_path / "index")
    m = data.manifest
    assert m.format_version == 2 and m.model.id == "fake-encoder" and m.model.dimension == 64
    assert set(m.documents) == {"haiphong.txt", "hanoi.md", "hue.txt"}
    for c in data.chunks:
        assert data.documents[c.doc_id].text[c.start:c.end] == c.text
    assert data.sentence_vectors.shape == (m.counts.sentences, 64)


@pytest.mark.parametrize(
    ("question", "doc"),
    [("Hồ Hoàn Kiếm nằm ở đâu?", "hanoi.md"), ("ho hoan kiem nam o dau", "hanoi.md"),
     ("Sông Hương chảy qua đâu?", "hue.txt"), ("song huong chay qua dau", "hue.txt"),
     ("Năm 2017 thu ngân sách đạt bao nhiêu?", "haiphong.txt")],
)
def test_hybrid_retrieval_top_document(svc: QAService, question: str, doc: str) -> None:
    ans = svc.ask(question, top_k=3)
    assert ans.passages[0].doc == doc


def test_answer_contract_and_offsets(svc: QAService) -> None:
    ans = svc.ask("Sông Hương chảy qua thành phố nào?", top_k=5)
    d = json.loads(json.dumps(ans.to_dict(), ensure_ascii=False))
    assert set(d) == CONTRACT_KEYS
    assert d["answer"]["doc"] == "hue.txt"
    text = svc.document("hue.txt").text
    assert text[d["answer"]["start"]:d["answer"]["end"]] == d["answer"]["text"] == "Sông Hương chảy qua thành phố Huế."
    seen = set()
    for p in d["passages"]:
        assert set(p) == PASSAGE_KEYS
        doc_text = svc.document(p["doc"]).text
        assert doc_text[p["start"]:p["end"]] == p["text"]
        assert (p["doc"], p["start"], p["end"]) not in seen
        seen.add((p["doc"], p["start"], p["end"]))
        for h in p["highlights"]:
            assert p["start"] <= h["start"] < h["end"] <= p["end"] and h["label"] in ("answer", "phrase", "term")
    labels = {h["label"] for h in d["passages"][0]["highlights"]}
    assert labels == {"answer", "phrase", "term"}  # the (fake) reader marks a phrase inside the answer
    ph = d["answer"]["phrase"]
    assert d["answer"]["start"] <= ph["start"] < ph["end"] <= d["answer"]["end"]
    assert text[ph["start"]:ph["end"]] == ph["text"]
    terms = [text[h["start"]:h["end"]] for h in d["passages"][0]["highlights"] if h["label"] == "term"]
    assert any("Sông Hương" in t for t in terms), terms  # adjacent question words are one underlined run


def test_unaccented_question_highlights_accented_terms(svc: QAService) -> None:
    ans = svc.ask("song huong chay qua dau")
    p = ans.passages[0]
    doc = svc.document(p.doc).text
    assert any("Sông Hương" in doc[h.start:h.end] for h in p.highlights if h.label == "term")


def test_abstains_on_unrelated_question(svc: QAService) -> None:
    ans = svc.ask("zzqx wvyk plorf")
    assert ans.answer is None and ans.to_dict()["answer"] is None
    assert ans.passages  # nearest passages are still returned


def test_zscore_fusion_is_scale_free() -> None:
    a = np.array([1.0, 2.0, 3.0])
    assert np.allclose(_z(a), _z(a * 100 + 7))
    assert np.allclose(_z(np.array([5.0, 5.0])), 0)


def test_dense_weight_decides_when_lexical_is_silent(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    build_index(small_docs, tmp_path / "i", fake_encoder)
    res = Retriever(load_index(tmp_path / "i"), fake_encoder).search("Hồ Hoàn Kiếm", k=2)
    assert res.hits[0].dense >= res.hits[1].dense
    ans = answerer(tmp_path / "i", fake_encoder, min_confidence=0.0).ask("Hồ Hoàn Kiếm nằm ở đâu?")
    assert ans.answer is not None and ans.answer.text == "Hồ Hoàn Kiếm nằm ở trung tâm thành phố."


def _results(svc: QAService, questions: list[str]) -> list[list[tuple[str, int, int]]]:
    return [[(p.doc, p.start, p.end) for p in svc.ask(q, top_k=5).passages] for q in questions]


def test_incremental_update_equals_full_rebuild(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    idx = tmp_path / "index"
    build_index(small_docs, idx, fake_encoder)
    (small_docs / "hue.txt").write_text("Huế là cố đô. Chùa Thiên Mụ nằm bên sông Hương.", encoding="utf-8")
    (small_docs / "hanoi.md").unlink()
    (small_docs / "danang.txt").write_text("Đà Nẵng có cầu Rồng bắc qua sông Hàn.", encoding="utf-8")
    st = staleness(small_docs, idx)
    assert st == {"added": ["danang.txt"], "changed": ["hue.txt"], "removed": ["hanoi.md"]}
    before = fake_encoder.encoded
    rep = update_index(small_docs, idx, fake_encoder)
    assert not rep.full and rep.reused_documents == 1 and rep.removed == ["hanoi.md"]
    n_fresh = fake_encoder.encoded - before
    full_dir = tmp_path / "full"
    build_index(small_docs, full_dir, fake_encoder)
    upd, full = load_index(idx), load_index(full_dir)
    assert [c.to_dict() for c in upd.chunks] == [c.to_dict() for c in full.chunks]
    assert np.allclose(upd.chunk_vectors, full.chunk_vectors)
    assert np.allclose(upd.sentence_vectors, full.sentence_vectors)
    assert n_fresh < fake_encoder.encoded - before - n_fresh  # the update encoded less than the full build
    assert len({(c.doc_id, c.start) for c in upd.chunks}) == len(upd.chunks)
    qs = ["Chùa Thiên Mụ ở đâu?", "cau rong bac qua song nao", "Hải Phòng là gì?"]
    s1 = QAService(upd, fake_encoder, Settings(small_docs, idx))
    s2 = QAService(full, fake_encoder, Settings(small_docs, full_dir))
    assert _results(s1, qs) == _results(s2, qs)
    assert staleness(small_docs, idx) == {"added": [], "changed": [], "removed": []}


def test_service_rebuilds_stale_index_once(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    s = Settings(docs_dir=small_docs, index_dir=tmp_path / "index", auto_build="stale")
    open_service(s, encoder=fake_encoder, progress=False, log=lambda m: None)
    (small_docs / "new.txt").write_text("Cần Thơ có chợ nổi Cái Răng.", encoding="utf-8")
    logs: list[str] = []
    svc = open_service(s, encoder=fake_encoder, progress=False, log=logs.append)
    assert any("out of date" in m for m in logs)
    assert svc.ask("chợ nổi Cái Răng ở đâu").passages[0].doc == "new.txt"
    logs.clear()
    open_service(s, encoder=fake_encoder, progress=False, log=logs.append)
    assert not any("out of date" in m or "building" in m for m in logs)  # up to date: only the start-up steps


def test_bad_document_is_skipped_and_not_retried(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    (small_docs / "bad.txt").write_bytes("Hải Phòng".encode("cp1258", errors="replace") + b"\xff\xfe\xfa")
    rep = build_index(small_docs, tmp_path / "index", fake_encoder)
    assert rep.documents == 3 and any("bad.txt" in e for e in rep.errors)
    assert staleness(small_docs, tmp_path / "index")["added"] == []


def test_seed_chunks_cover_the_article(tmp_path: Path, fake_encoder) -> None:
    from tests.conftest import SEED

    docs = tmp_path / "seeds"
    docs.mkdir()
    shutil.copy(SEED, docs / SEED.name)
    svc = open_service(Settings(docs, tmp_path / "index", auto_build="missing"), encoder=fake_encoder,
                       progress=False, log=lambda m: None)
    text = svc.document(SEED.name).text
    joined = " ".join(c.text for c in svc.data.chunks)
    assert "Tiện ích thông tin" not in joined and "Print Thứ Bảy" not in joined
    assert joined.count("Ảnh: Duy Lê") == 1
    for c in svc.data.chunks:
        assert text[c.start:c.end] == c.text
    assert svc.ask("bi thu thanh uy la ai").passages


def test_sentence_scoring_prefers_the_wanted_answer_type(tmp_path: Path, fake_encoder) -> None:
    docs = tmp_path / "d"
    docs.mkdir()
    (docs / "a.txt").write_text(
        "Hội nghị tổng kết có nhiều ý kiến phát biểu sôi nổi. "
        "Ông Trần Văn Nam phát biểu tại hội nghị. Hội nghị kết thúc lúc chiều.", encoding="utf-8")
    build_index(docs, tmp_path / "i", fake_encoder)
    ans = answerer(tmp_path / "i", fake_encoder).ask("Ai phát biểu tại hội nghị tổng kết?")
    assert ans.answer is not None and ans.answer.text == "Ông Trần Văn Nam phát biểu tại hội nghị."


def test_old_leftover_build_folders_are_collected(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    import os
    import time

    idx = tmp_path / "index"
    stale, fresh = tmp_path / ".index.new-dead", tmp_path / ".index.new-running"
    for d in (stale, fresh):
        d.mkdir()
        (d / "chunk_vectors.npy").write_bytes(b"x" * 10)
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    build_index(small_docs, idx, fake_encoder)
    assert not stale.exists() and fresh.exists()  # a young folder may be a build in progress
    assert load_index(idx).manifest.counts.documents == 3


@pytest.mark.parametrize(("question", "answered"), [
    ("Năm 2017 thu ngân sách của thành phố đạt bao nhiêu?", True),
    ("Năm 2019 thu ngân sách của thành phố đạt bao nhiêu?", False),  # the year is nowhere in the passage
    ("Phố cổ Hà Nội có bao nhiêu phố phường?", True),
    ("Phố cổ Hà Nội có bao nhiêu cây cầu?", False),  # bridges are not counted there
    ("Sông Hương chảy qua thành phố nào?", True),
    ("Sông Hương chảy qua Thành phố Đà Nẵng không?", False),  # a name the documents never use
])
def test_abstains_when_the_best_sentence_lacks_what_is_asked(small_docs: Path, tmp_path: Path, fake_encoder,
                                                             question: str, answered: bool) -> None:
    build_index(small_docs, tmp_path / "i", fake_encoder)
    ans = answerer(tmp_path / "i", fake_encoder).ask(question)
    assert (ans.answer is not None) == answered, ans.answer
    assert ans.passages  # abstaining still shows the nearest passages


def test_abstention_reason_reaches_the_answer_but_not_the_json(small_docs: Path, tmp_path: Path,
                                                               fake_encoder) -> None:
    build_index(small_docs, tmp_path / "i", fake_encoder)
    a = answerer(tmp_path / "i", fake_encoder)
    ans = a.ask("Năm 2019 thu ngân sách của thành phố đạt bao nhiêu?")
    assert ans.answer is None and ans.missing == "các đoạn liên quan không nhắc đến “2019”"
    assert set(ans.to_dict()) == {"question", "answer", "passages"}  # the JSON contract is unchanged
    assert a.ask("Năm 2017 thu ngân sách của thành phố đạt bao nhiêu?").missing == ""


def test_reader_answers_with_a_phrase_inside_the_sentence(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    from qa.answer.decide import Decision
    from tests.conftest import FakeReader

    build_index(small_docs, tmp_path / "i", fake_encoder)
    data = load_index(tmp_path / "i")
    a = Answerer(data, Retriever(data, fake_encoder), reader=FakeReader(), decision=Decision.neutral())
    ans = a.ask("Sông Hương chảy qua thành phố nào?", top_k=3)
    d = json.loads(json.dumps(ans.to_dict(), ensure_ascii=False))
    text = data.documents["hue.txt"].text
    assert d["answer"]["text"] == "Sông Hương chảy qua thành phố Huế."
    phrase = d["answer"]["phrase"]
    assert phrase == {"text": "Huế", "start": text.index("Huế."), "end": text.index("Huế.") + 3}
    assert d["answer"]["start"] <= phrase["start"] < phrase["end"] <= d["answer"]["end"]
    assert 0.5 <= ans.confidence <= 1.0 and ans.confidence == pytest.approx(d["answer"]["score"], abs=1e-4)
    labels = [(h["label"], text[h["start"]:h["end"]]) for h in d["passages"][0]["highlights"]]
    assert ("answer", "Sông Hương chảy qua thành phố Huế.") in labels and ("phrase", "Huế") in labels
    assert labels.index(("answer", "Sông Hương chảy qua thành phố Huế.")) < labels.index(("phrase", "Huế"))


def test_reader_abstains_below_the_probability_threshold(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    from qa.answer.decide import Decision
    from tests.conftest import FakeReader

    build_index(small_docs, tmp_path / "i", fake_encoder)
    data = load_index(tmp_path / "i")
    a = Answerer(data, Retriever(data, fake_encoder), reader=FakeReader(), decision=Decision.neutral())
    ans = a.ask("Giá vàng hôm nay bao nhiêu?")
    assert ans.answer is None and ans.confidence < Decision.neutral().answer_at and ans.passages
    assert ans.to_dict()["answer"] is None


def test_search_scores_only_the_candidates_whatever_the_corpus_size(tmp_path: Path, fake_encoder) -> None:
    """Per question, sentence scoring touches each retriever's top candidates, never every chunk."""
    from dataclasses import replace

    from qa.search.hybrid import FusionParams

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        (docs / f"d{i:02d}.txt").write_text(f"Văn bản số {i} nói về chủ đề {i}. Câu thứ hai của văn bản {i}.",
                                            encoding="utf-8")
    (docs / "hue.txt").write_text("Sông Hương chảy qua thành phố Huế.", encoding="utf-8")
    build_index(docs, tmp_path / "i", fake_encoder)
    data = load_index(tmp_path / "i")
    r = Retriever(data, fake_encoder, replace(FusionParams(), candidates=3))
    seen: list[int] = []
    inner = r.backend.search

    def spy(request):  # type: ignore[no-untyped-def]
        found = inner(request)
        seen.append(len(found.ids))
        return found

    r.backend.search = spy  # type: ignore[method-assign]
    res = r.search("Sông Hương chảy qua đâu?", k=2)
    assert len(data.chunks) == 41 and 0 < seen[0] <= 2 * 3 + 3  # two question vectors + lexical, 3 each
    assert data.chunks[res.hits[0].chunk_id].doc_id == "hue.txt"
    assert set(res.sentence_cos) == {h.chunk_id for h in res.hits}
