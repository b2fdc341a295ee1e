"""Section headings and passage titles (qa.ingest.headings): cards are told apart by their section."""

from __future__ import annotations

from pathlib import Path

from qa.ingest.chunking import chunk_document
from qa.ingest.documents import read_document
from qa.ingest.headings import first_words, section_headings, section_title
from qa.schema import Document

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_1ba926b528c724f1.txt"


def test_seed_headings_skip_captions_and_the_source_line() -> None:
    doc = read_document(SEED, SEED.parent)
    titles = [t for _, t in section_headings(doc)]
    assert titles == ["Quyết liệt triển khai các việc cần làm ngay",
                      "Tổ chức quán triệt và triển khai các kết luận và chỉ đạo của đồng chí Tổng Bí…",
                      "Hải Phòng vươn lên tầm vóc mới, vị thế mới"]
    # printed twice under photos: captions, not sections; the closing "Báo Hải Phòng 15/1/2018" has nothing after it
    assert not any("Quang cảnh" in t or "rực sáng" in t or "Báo Hải Phòng" in t for t in titles)


def test_seed_passages_get_distinct_titles_not_the_first_sentence() -> None:
    doc = read_document(SEED, SEED.parent)
    chunks = chunk_document(doc)
    titles = [section_title(doc, c.start, c.text) for c in chunks]
    assert not any(t == doc.title for t in titles)
    assert titles[0].startswith("Ngày 15/1, tại Cung Văn hóa") and titles[0].endswith("…")
    assert len(titles[0].split()) <= 11  # the passage's first words, short enough for a phone
    heading_start = doc.text.index("Quyết liệt triển khai")
    after = [t for c, t in zip(chunks, titles, strict=True) if c.start >= heading_start]
    assert after[0] == "Quyết liệt triển khai các việc cần làm ngay"
    assert len(set(titles)) >= 4


def test_markdown_headings_and_documents_without_any() -> None:
    text = "# Hà Nội\n\nHà Nội là thủ đô.\n\n## Phố cổ\n\nPhố cổ có 36 phố phường."
    doc = Document("hn.md", "Hà Nội", text, "0" * 64,
                   ((0, 8), (10, 27), (29, 38), (40, len(text))))
    assert section_headings(doc) == [(0, "Hà Nội"), (29, "Phố cổ")]
    assert section_title(doc, 40, "Phố cổ có 36 phố phường.") == "Phố cổ"
    plain = Document("a.txt", "A", "Một câu dài. Hai câu.", "0" * 64, ((0, 21),))
    assert section_headings(plain) == [] and section_title(plain, 0, "Một câu dài. Hai câu.") == "Một câu dài. Hai câu."


def test_first_words_cut_at_a_word() -> None:
    assert first_words("a " * 30, 10) == "a a a a a a a a a a…"
    assert first_words("x" * 200).endswith("…") and len(first_words("x" * 200)) <= 81
