"""Which question words get underlined (qa.answer.terms.underline_terms): rare ones, whole, as typed or restored."""

from __future__ import annotations

import shutil
from pathlib import Path

from qa.answer.terms import underline_terms
from qa.config import Settings
from qa.startup import open_service
from tests.conftest import FakeEncoder

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_1ba926b528c724f1.txt"


def marked(text: str, hl: list) -> list[str]:  # type: ignore[type-arg]
    return [text[h.start:h.end] for h in hl]


def test_common_words_are_not_underlined_rare_ones_are_whole_runs() -> None:
    text = "Hội nghị do đồng chí Nguyễn Thị Nghĩa, Phó bí thư, chủ trì."
    df = {"hoi": 20, "nghi": 20, "chu": 15, "tri": 12, "nguyen": 9, "thi": 3, "nghia": 2, "bi": 18, "thu": 18}
    hl = underline_terms(text, 0, "Nguyễn Thị Nghĩa chủ trì hội nghị nào?", "Nguyễn Thị Nghĩa chủ trì hội nghị nào?",
                         df, 26)
    assert marked(text, hl) == ["Nguyễn Thị Nghĩa"]  # one run; "Hội nghị", "chủ trì" are everywhere


def test_a_word_matches_as_typed_or_as_restored_not_with_any_accent() -> None:
    text = "Bí thư Thành ủy. Thu ngân sách tăng."
    df = {"bi": 1, "thu": 1, "thanh": 1, "uy": 1, "ngan": 1, "sach": 1}
    # typed "thu" (no accents), restored to "thu": the "thư" of "Bí thư" is another word
    assert marked(text, underline_terms(text, 0, "thu ngan sach", "thu ngân sách", df, 10)) == ["Thu ngân sách"]
    # typed "bi thu", restored "bí thư": matches the restored spelling only (not "Thu" of "Thu ngân sách")
    assert marked(text, underline_terms(text, 0, "bi thu la ai", "bí thư là ai", df, 10)) == ["Bí thư"]
    # typed with diacritics: only as typed
    assert marked(text, underline_terms(text, 0, "Thư ngân", "Thư ngân", df, 10)) == ["thư", "ngân"]


def test_offsets_are_document_offsets() -> None:
    hl = underline_terms("xx Nghĩa", 100, "Nghĩa", "Nghĩa", {"nghia": 1}, 10)
    assert [(h.start, h.end, h.label) for h in hl] == [(103, 108, "term")]


def test_seed_cards_underline_little_and_never_the_common_syllables(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEED, docs / SEED.name)
    svc = open_service(Settings(docs_dir=docs, index_dir=tmp_path / "index", auto_build="missing"),
                       encoder=FakeEncoder(), log=lambda m: None, progress=False)
    for q in ("Ai chủ trì hội nghị?", "bi thu thanh uy la ai", "Thu ngân sách năm 2017 đạt bao nhiêu?"):
        ans = svc.ask(q)
        words = {p.text[h.start - p.start:h.end - p.start].lower() for p in ans.passages for h in p.highlights
                 if h.label == "term"}
        assert not words & {"hội", "nghị", "chủ", "thư", "bí thư", "hội nghị", "thành ủy"}, (q, words)
    ans = svc.ask("Thu ngân sách năm 2017 đạt bao nhiêu?")
    words = {p.text[h.start - p.start:h.end - p.start] for p in ans.passages for h in p.highlights if h.label == "term"}
    assert "Năm 2017" in words  # a rare number, with the question word next to it: one run
    # the document view marks by the same rule
    assert [(h.start, h.end) for h in svc.underline(svc.data.documents[SEED.name].text, 0, "Ai chủ trì hội nghị?")] \
        == []
