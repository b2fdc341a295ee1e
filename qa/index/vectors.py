"""Build-time vectors: which texts go through the model, and how chunk and sentence vectors are made.

Which texts are encoded is the `EncodeMode` (QA_ENCODE):

- "sentences" (default): each distinct sentence once; a chunk's vector is the length-weighted mean of
  its sentences' vectors. On the seed dev set this retrieves as well as encoding the chunks
  (R@1 0.86 vs 0.84-0.85) at half the model time.
- "both": chunks encoded too.
- "chunks": one pass over the chunks, sentence vectors pooled from its token embeddings (-0.03
  highlight hit).

    cvec, svec = encode_chunks(encoder, docs, chunks, mode="sentences")
    # one row per chunk, one per sentence of every chunk (in chunk order)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import numpy as np

from qa.errors import ConfigError
from qa.model.encoder import Encoder, encode_with_spans
from qa.schema import Chunk, Document

Progress = Callable[[int, int], None]  # (done, total) texts encoded


EncodeMode = Literal["sentences", "both", "chunks"]
ENCODE_MODES: tuple[EncodeMode, ...] = get_args(EncodeMode)


def check_mode(mode: str) -> EncodeMode:
    """`mode` if it is an EncodeMode, else ConfigError naming the choices."""
    if mode not in ENCODE_MODES:
        raise ConfigError(f"QA_ENCODE={mode!r}; use one of {', '.join(ENCODE_MODES)}")
    return mode


def _uses_pooling(encoder: Encoder, mode: str) -> bool:
    return mode == "chunks" and hasattr(encoder, "encode_documents_with_spans")


def chunk_vectors_from_sentences(chunks: list[Chunk], svec: np.ndarray) -> np.ndarray:
    """Per chunk, the unit-length mean of its sentence vectors weighted by sentence length.

    >>> two = Chunk("a.txt", "A", "x" * 41, 0, 41, ((0, 30), (31, 41)))  # sentences of 30 and 10 chars
    >>> chunk_vectors_from_sentences([two], np.eye(2, dtype=np.float32)).round(4)
    array([[0.9487, 0.3162]], dtype=float32)
    """
    out = np.zeros((len(chunks), svec.shape[1]), dtype=np.float32)
    row = 0
    for i, c in enumerate(chunks):
        n = len(c.sentences)
        if n:
            w = np.array([e - s for s, e in c.sentences], dtype=np.float32)
            v = w @ svec[row : row + n]
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        row += n
    return out


def encode_chunks(encoder: Encoder, docs: dict[str, Document], chunks: list[Chunk],
                  progress: Progress | None = None, batch: int = 64,
                  mode: EncodeMode = "sentences") -> tuple[np.ndarray, np.ndarray]:
    """Chunk vectors and per-sentence vectors (rows in chunk order, then sentence order), per `mode`.

    Overlapping chunks share sentences; each distinct sentence is encoded once.
    """
    mode = check_mode(mode)
    if _uses_pooling(encoder, mode):
        return _encode_pooled(encoder, chunks, progress, batch)
    sent_texts = [docs[c.doc_id].text[s:e] for c in chunks for s, e in c.sentences]
    unique = list(dict.fromkeys(sent_texts))
    own = [c.text for c in chunks] if mode != "sentences" else []
    texts = own + unique
    out = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    # longest first across all texts, so each batch pads little (sentences are much shorter than chunks)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for b in range(0, len(order), batch):
        ids = order[b : b + batch]
        out[ids] = encoder.encode_documents([texts[i] for i in ids])
        if progress:
            progress(min(b + batch, len(texts)), len(texts))
    row = {t: len(own) + i for i, t in enumerate(unique)}
    svec = out[[row[t] for t in sent_texts]] if sent_texts else np.zeros((0, encoder.dimension), np.float32)
    cvec = out[: len(chunks)] if own else chunk_vectors_from_sentences(chunks, svec)
    return cvec, svec


def _encode_pooled(encoder: Encoder, chunks: list[Chunk], progress: Progress | None,
                   batch: int) -> tuple[np.ndarray, np.ndarray]:
    dim = encoder.dimension
    cvec = np.zeros((len(chunks), dim), dtype=np.float32)
    per_chunk: list[np.ndarray] = [np.zeros((0, dim), np.float32)] * len(chunks)
    order = sorted(range(len(chunks)), key=lambda i: -len(chunks[i].text))
    for b in range(0, len(order), batch):
        ids = order[b : b + batch]
        spans = [[(s - chunks[i].start, e - chunks[i].start) for s, e in chunks[i].sentences] for i in ids]
        dv, sv = encode_with_spans(encoder, [chunks[i].text for i in ids], spans)
        cvec[ids] = dv
        for i, v in zip(ids, sv, strict=True):
            per_chunk[i] = v
        if progress:
            progress(min(b + batch, len(order)), len(order))
    svec = np.concatenate(per_chunk) if per_chunk else np.zeros((0, dim), np.float32)
    return cvec, np.ascontiguousarray(svec, dtype=np.float32)


def encoded_count(encoder: Encoder, docs: dict[str, Document], chunks: list[Chunk], mode: str) -> int:
    """Texts that went through the model (pooled sentence vectors are free, repeats are encoded once)."""
    if _uses_pooling(encoder, mode):
        return len(chunks)
    sentences = len({docs[c.doc_id].text[s:e] for c in chunks for s, e in c.sentences})
    return sentences + (len(chunks) if mode != "sentences" else 0)
