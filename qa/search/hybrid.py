"""Hybrid retrieval: dense (FAISS) + lexical (bm25s, accented and folded fields), fused by z-scores.

Plain RRF loses to dense alone on Vietnamese QA (see shared notes), so each retriever's real
scores are standardized over the candidate set and mixed with tuned weights; a question typed
without diacritics is restored before the dense query (qa.search.query) and leans on the folded
lexical field. A chunk's dense score mixes in its best sentence's cosine; those sentence cosines
come back with the hits, so answering does not compute them again::

    result = Retriever(index, query_encoder).search("bi thu thanh uy la ai", k=3)
    [h.chunk_id for h in result.hits]           # [0, 4, 2]
    result.sentence_cos[0]                      # cosine of each sentence of chunk 0

>>> _z(np.array([1.0, 2.0, 3.0])).round(3).tolist()
[-1.225, 0.0, 1.225]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from qa.index.store import IndexData
from qa.model.encoder import Encoder
from qa.schema import Hit
from qa.search.query import Query, QueryPreparer


@dataclass(frozen=True)
class FusionParams:
    """Tuned on tests/data/seed_dev.json (see `qa eval` and benchmarks/tune.py --grid)."""

    dense_weight: float = 0.5
    lexical_weight: float = 0.5
    folded_weight: float = 0.5  # share of the lexical score from the folded field, for accented questions
    sentence_weight: float = 0.3  # share of a chunk's dense score taken from its best sentence
    candidates: int = 64
    exact_below: int = 20_000  # below this many chunks, score every chunk exactly


@dataclass(frozen=True)
class SearchResult:
    """The best chunks by fused score, and the cosine of every sentence of each of them."""

    query: Query
    hits: list[Hit]
    sentence_cos: dict[int, np.ndarray] = field(default_factory=dict)  # chunk id -> one cosine per sentence
    timings: dict[str, float] = field(default_factory=dict)


def _z(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-9 else np.zeros_like(x)


class Retriever:
    """Searches one loaded index; safe to share between threads (read-only after init)."""

    def __init__(self, index: IndexData, encoder: Encoder, params: FusionParams | None = None) -> None:
        self.index = index
        self.params = params or FusionParams()
        self.prepare = QueryPreparer(index, encoder)

    def _candidates(self, q: Query, lex: np.ndarray) -> np.ndarray:
        n = len(self.index.chunks)
        if n <= self.params.exact_below:
            return np.arange(n)
        k = self.params.candidates
        _, ids = self.index.dense.search(q.vectors, k)
        lex_top = np.argpartition(-lex, min(k, n - 1))[:k] if n else np.zeros(0, int)
        ids = np.concatenate([ids.ravel(), lex_top])
        return np.unique(ids[ids >= 0])

    def lexical_scores(self, q: Query) -> np.ndarray:
        """Accented field on the restored question + folded field, weighted by missing diacritics."""
        lx = self.index.lexical
        norm = lx.scores(q.restored, "norm")
        folded = lx.scores(q.expanded, "folded")
        w_f = self.params.folded_weight * q.accent_ratio + (1.0 - q.accent_ratio)
        return np.asarray((1.0 - w_f) * norm + w_f * folded, dtype=np.float32)

    def sentence_cosines(self, chunks: np.ndarray, q: Query) -> list[np.ndarray]:
        """Per chunk, the cosine of each of its sentences to the question (best of its forms)."""
        off = self.index.sentence_offsets
        counts = (off[chunks + 1] - off[chunks]).astype(int)
        rows = (np.concatenate([np.arange(off[c], off[c + 1]) for c in chunks]) if len(chunks)
                else np.zeros(0, int))
        cos = (self.index.sentence_vectors[rows] @ q.vectors.T).max(axis=1) if rows.size else np.zeros(0)
        return np.split(cos, np.cumsum(counts)[:-1]) if len(chunks) else []

    def search(self, question: str, k: int = 5, query: Query | None = None) -> SearchResult:
        """Top-k chunks by fused score."""
        t0 = time.perf_counter()
        q = query or self.prepare(question)
        t1 = time.perf_counter()
        lex_all = self.lexical_scores(q)
        cand = self._candidates(q, lex_all)
        if cand.size == 0:
            return SearchResult(q, [], {}, {"embed": t1 - t0})
        dense = (self.index.chunk_vectors[cand] @ q.vectors.T).max(axis=1)
        per_chunk: dict[int, np.ndarray] = {}
        p = self.params
        if p.sentence_weight > 0:
            # a chunk is as relevant as its best sentence too: facts sit in one sentence of a long chunk
            cosines = self.sentence_cosines(cand, q)
            best = np.array([c.max() if c.size else -1.0 for c in cosines], dtype=np.float32)
            dense = (1 - p.sentence_weight) * dense + p.sentence_weight * best
            per_chunk = dict(zip(cand.tolist(), cosines, strict=True))
        lex = lex_all[cand]
        fused = p.dense_weight * _z(dense) + p.lexical_weight * _z(lex)
        order = np.argsort(-fused, kind="stable")[:k]
        hits = [Hit(int(cand[i]), float(fused[i]), float(dense[i]), float(lex[i])) for i in order]
        ids = np.array([h.chunk_id for h in hits], dtype=np.int64)
        if not per_chunk:
            per_chunk = dict(zip(ids.tolist(), self.sentence_cosines(ids, q), strict=True))
        sentence_cos = {h.chunk_id: per_chunk[h.chunk_id] for h in hits}
        return SearchResult(q, hits, sentence_cos, {"embed": t1 - t0, "search": time.perf_counter() - t1})
