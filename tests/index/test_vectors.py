"""Build-time vectors: what goes through the model in each encode mode, and how updates treat a mode change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.errors import QAError
from qa.index.build import BuildOptions, build_index, update_index
from qa.index.store import load_index
from qa.index.vectors import encode_chunks
from qa.ingest.chunking import ChunkingParams, chunk_document
from qa.schema import Document


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


def test_chunks_mode_without_span_support_equals_both(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    build_index(small_docs, tmp_path / "a", fake_encoder, BuildOptions(encode="both"))
    rep = build_index(small_docs, tmp_path / "b", fake_encoder, BuildOptions(encode="chunks"))
    a, b = load_index(tmp_path / "a"), load_index(tmp_path / "b")
    np.testing.assert_array_equal(a.sentence_vectors, b.sentence_vectors)
    np.testing.assert_array_equal(a.chunk_vectors, b.chunk_vectors)
    assert rep.encoded_texts == len(a.chunks) + len(a.sentence_vectors)  # all distinct here
    assert (a.manifest.encode, b.manifest.encode) == ("both", "chunks")


def test_update_after_a_mode_change_rebuilds_everything(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    build_index(small_docs, tmp_path / "i", fake_encoder, BuildOptions(encode="both"))
    rep = update_index(small_docs, tmp_path / "i", fake_encoder)
    assert rep.full and rep.reused_documents == 0
    fresh = build_index(small_docs, tmp_path / "j", fake_encoder)
    assert fresh.encoded_texts == rep.encoded_texts
    np.testing.assert_array_equal(load_index(tmp_path / "i").chunk_vectors, load_index(tmp_path / "j").chunk_vectors)


def test_encode_mode_is_checked(small_docs: Path, tmp_path: Path, fake_encoder) -> None:
    with pytest.raises(QAError, match="QA_ENCODE='pooled'; use one of sentences, both, chunks"):
        build_index(small_docs, tmp_path / "a", fake_encoder, BuildOptions(encode="pooled"))  # type: ignore[arg-type]
    assert not (tmp_path / "a").exists()
