"""Chunking: exact offsets, whole sentences, size limits, overlap, and walls at removed text."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.chunking import ChunkingParams, ChunkingParamsError, chunk_document, chunk_documents
from qa.ingest.cleaning import clean_spans, removed_spans
from qa.ingest.documents import read_document
from qa.lang.sentences import split_sentences
from qa.schema import Chunk, Document
from tests.conftest import SEED


def make_doc(text: str, spans: tuple[tuple[int, int], ...] | None = None, doc_id: str = "d.txt") -> Document:
    return Document(doc_id, "Tiêu đề", text, "0" * 64, clean_spans(text) if spans is None else spans)


@pytest.fixture(scope="module")
def seed_doc() -> Document:
    return read_document(SEED, SEED.parent)


@pytest.fixture(scope="module")
def seed_chunks(seed_doc: Document) -> list[Chunk]:
    return chunk_document(seed_doc)


def starts_of(chunks: list[Chunk], needle: str) -> set[int]:
    """Document offsets of every occurrence of `needle` inside any chunk."""
    out = set()
    for c in chunks:
        pos = c.text.find(needle)
        while pos != -1:
            out.add(c.start + pos)
            pos = c.text.find(needle, pos + 1)
    return out


def test_seed_chunks_are_exact_slices_of_whole_sentences(
    seed_doc: Document, seed_chunks: list[Chunk]
) -> None:
    original = SEED.read_text(encoding="utf-8")
    assert len(seed_chunks) == 26
    assert (seed_chunks[0].start, seed_chunks[0].end) == (33, 857)
    for c in seed_chunks:
        assert original[c.start : c.end] == c.text
        assert c.doc_id == "000_1ba926b528c724f1.txt"
        assert c.title == seed_doc.title
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        assert all(a < b for a, b in c.sentences)
        assert all(p[1] <= n[0] for p, n in zip(c.sentences, c.sentences[1:], strict=False))


def test_seed_chunks_cover_every_kept_sentence_once_per_position(
    seed_doc: Document, seed_chunks: list[Chunk]
) -> None:
    expected = [s for a, b in seed_doc.spans for s in split_sentences(seed_doc.text, a, b)]
    covered = sorted({s for c in seed_chunks for s in c.sentences})
    assert covered == expected
    assert len({(c.start, c.end) for c in seed_chunks}) == len(seed_chunks)  # no duplicate chunks


def test_seed_furniture_and_header_are_in_no_chunk(seed_chunks: list[Chunk]) -> None:
    for needle in ("Print", "Tiện ích thông tin", "QR Code", "Tin khác", "Nguồn tin", "Fanpage", "\t"):
        assert not any(needle in c.text for c in seed_chunks), needle
    assert seed_chunks[-1].text.endswith("Báo Hải Phòng 15/1/2018")


def sentence_starts(chunks: list[Chunk], text: str, sentence: str) -> set[int]:
    """Document offsets of chunk sentences that read exactly `sentence`."""
    return {a for c in chunks for a, b in c.sentences if text[a:b] == sentence}


def test_seed_repeated_captions_are_kept_once(seed_chunks: list[Chunk]) -> None:
    original = SEED.read_text(encoding="utf-8")
    assert original.count("Ảnh: Duy Lê") == 2
    assert starts_of(seed_chunks, "Ảnh: Duy Lê") == {original.rindex("Ảnh: Duy Lê")}  # the copy without tabs
    for caption in (
        "Quang cảnh hội nghị",
        "Hải Phòng đang rộng, dài, rực sáng",
        "Đồng chí Nguyễn Văn Tùng, Phó bí thư Thành ủy, Chủ tịch UBND thành phố trình bày chương trình hành "
        "động của Ban Thường vụ Thành ủy",
    ):
        assert original.count(caption + "\n") == 2
        assert sentence_starts(seed_chunks, original, caption) == {original.index(caption + "\n")}, caption
    nghia = "ồng chí Nguyễn Thị Nghĩa, Phó Bí thư Thường trực Thành ủy phát biểu tại hội nghị"
    assert starts_of(seed_chunks, "đ" + nghia) == set()
    assert starts_of(seed_chunks, "Đ" + nghia) == {original.index("Đ" + nghia)}


@pytest.mark.parametrize("max_chars", [900, 500, 300, 120])
def test_size_limit_except_single_long_sentence(seed_doc: Document, max_chars: int) -> None:
    params = ChunkingParams(max_chars=max_chars, max_sentence_chars=400)
    chunks = chunk_document(seed_doc, params)
    for c in chunks:
        assert len(c.text) <= max_chars or len(c.sentences) == 1
        assert max(b - a for a, b in c.sentences) <= 400


def test_chunks_never_cross_removed_text(seed_doc: Document, seed_chunks: list[Chunk]) -> None:
    removed = removed_spans(seed_doc.text)
    for c in seed_chunks:
        assert not any(c.start < a < c.end for a, _ in removed)


def test_overlap_one_sentence_greedy_packing() -> None:
    text = "Một. Hai. Ba. Bốn. Năm."
    doc = make_doc(text)
    got = [c.text for c in chunk_document(doc, ChunkingParams(max_chars=13))]
    assert got == ["Một. Hai. Ba.", "Ba. Bốn. Năm."]
    got0 = [c.text for c in chunk_document(doc, ChunkingParams(max_chars=13, overlap_sentences=0))]
    assert got0 == ["Một. Hai. Ba.", "Bốn. Năm."]
    doc7 = make_doc("Một. Hai. Ba. Bốn. Năm. Sáu. Bảy.")
    got2 = [c.text for c in chunk_document(doc7, ChunkingParams(max_chars=30, overlap_sentences=2))]
    assert got2 == ["Một. Hai. Ba. Bốn. Năm. Sáu.", "Năm. Sáu. Bảy."]


def test_overlap_is_dropped_when_it_would_dominate_or_not_fit() -> None:
    long_a = "A" + "a" * 48 + "."  # 50 characters
    long_b = "B" + "b" * 48 + "."
    text = f"{long_a} Hai. {long_b} {long_a}"
    # a 50-character sentence would be half of the next chunk: it is not repeated
    chunks = chunk_document(make_doc(text), ChunkingParams(max_chars=110))
    assert [c.text for c in chunks] == [f"{long_a} Hai. {long_b}", long_a]
    # "Hai." (4 characters) is repeated
    chunks = chunk_document(make_doc(text), ChunkingParams(max_chars=60))
    assert [c.text for c in chunks] == [f"{long_a} Hai.", f"Hai. {long_b}", long_a]
    # the previous chunk's last sentence does not fit beside the next one: no overlap
    chunks = chunk_document(make_doc(f"{long_a} {long_b}"), ChunkingParams(max_chars=60))
    assert [c.text for c in chunks] == [long_a, long_b]


def test_single_over_long_sentence_is_its_own_chunk() -> None:
    big = "Câu " + "rất " * 60 + "dài."
    text = f"Ngắn. {big} Cuối."
    chunks = chunk_document(make_doc(text), ChunkingParams(max_chars=100, max_sentence_chars=1000))
    assert [c.text for c in chunks] == ["Ngắn.", big, "Cuối."]


def test_removed_region_is_a_wall_but_blank_lines_are_not() -> None:
    text = "Đoạn một. Câu hai.\n\nĐoạn hai.\n\nChèn giữa.\n\nĐoạn ba."
    a = text.index("Đoạn một")
    b = text.index("Đoạn hai")
    c = text.index("Đoạn ba")
    spans = ((a, a + 18), (b, b + 9), (c, c + 8))  # "Chèn giữa." is removed
    chunks = chunk_document(make_doc(text, spans), ChunkingParams(max_chars=900))
    assert [ch.text for ch in chunks] == ["Đoạn một. Câu hai.\n\nĐoạn hai.", "Đoạn ba."]


def test_empty_spans_mean_the_whole_text() -> None:
    doc = make_doc("  Một câu. Hai câu.  ", spans=())
    assert [(c.start, c.end, c.text) for c in chunk_document(doc)] == [(2, 19, "Một câu. Hai câu.")]
    assert chunk_document(make_doc("   ", spans=())) == []


def test_nfd_text_offsets(tmp_path: Path) -> None:
    nfc_text = SEED.read_text(encoding="utf-8")
    nfd = unicodedata.normalize("NFD", nfc_text)
    assert nfd != nfc_text
    (tmp_path / "nfd.txt").write_text(nfd, encoding="utf-8")
    doc = read_document(tmp_path / "nfd.txt", tmp_path)
    assert doc.text == nfd
    for c in chunk_document(doc):  # sizes count code points, so NFD text makes more, smaller chunks
        assert nfd[c.start : c.end] == c.text
        assert all(nfd[a:b] == nfd[a:b].strip() for a, b in c.sentences)
    # with limits out of the way, the same passages come out, only decomposed
    big = ChunkingParams(max_chars=100_000, max_sentence_chars=100_000)
    nfd_texts = [unicodedata.normalize("NFC", c.text) for c in chunk_document(doc, big)]
    assert nfd_texts == [c.text for c in chunk_document(read_document(SEED, SEED.parent), big)]
    assert len(nfd_texts) == 6  # one per stretch between the five removed caption lines


def test_chunk_documents_keeps_document_order() -> None:
    docs = [make_doc("Câu một. Câu hai.", doc_id="b.txt"), make_doc("Câu ba.", doc_id="a.txt")]
    chunks = chunk_documents(docs, ChunkingParams(max_chars=9, overlap_sentences=0))
    assert [(c.doc_id, c.text) for c in chunks] == [
        ("b.txt", "Câu một."),
        ("b.txt", "Câu hai."),
        ("a.txt", "Câu ba."),
    ]


def test_params_round_trip_and_validation() -> None:
    p = ChunkingParams(max_chars=500, overlap_sentences=2, max_sentence_chars=200)
    assert p.to_dict() == {"max_chars": 500, "overlap_sentences": 2, "max_sentence_chars": 200}
    assert ChunkingParams.from_dict(p.to_dict()) == p
    assert ChunkingParams.from_dict({}) == ChunkingParams()
    assert ChunkingParams.from_dict({"max_chars": "700", "future_field": 1}) == ChunkingParams(max_chars=700)
    with pytest.raises(ChunkingParamsError, match="max_chars must be >= 1, got 0"):
        ChunkingParams(max_chars=0)
    with pytest.raises(ValueError, match="overlap_sentences must be >= 0, got -1"):
        ChunkingParams(overlap_sentences=-1)
    with pytest.raises(ChunkingParamsError, match="not integers"):
        ChunkingParams.from_dict({"max_chars": "lots"})


ALPHABET = 'aăâbcdđeêghiklmnoôơpqrstuưvxyAĐHTNàáảãạếệốộứừ \t\n\n.,;:!?…"“”()0123456789/-\u0301\u0323'


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=ALPHABET, max_size=600),
    max_chars=st.integers(min_value=1, max_value=120),
    max_sentence_chars=st.integers(min_value=1, max_value=80),
    overlap=st.integers(min_value=0, max_value=3),
)
def test_chunk_invariants_on_arbitrary_text(
    text: str, max_chars: int, max_sentence_chars: int, overlap: int
) -> None:
    doc = make_doc(text)
    params = ChunkingParams(
        max_chars=max_chars, overlap_sentences=overlap, max_sentence_chars=max_sentence_chars
    )
    chunks = chunk_document(doc, params)
    kept = [s for a, b in doc.spans for s in split_sentences(text, a, b, max_sentence_chars)]
    assert sorted({s for c in chunks for s in c.sentences}) == kept  # every sentence lands in a chunk
    assert len({(c.start, c.end) for c in chunks}) == len(chunks)
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert len(c.text) <= max_chars or len(c.sentences) == 1
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        for a, b in c.sentences:
            assert b - a <= max_sentence_chars
            assert text[a:b] == text[a:b].strip() and a < b
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
