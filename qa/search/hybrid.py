"""Hybrid retrieval: dense (FAISS) + lexical (bm25s, accented and folded fields), fused by z-scores.

Plain RRF loses to dense alone on Vietnamese QA (see shared notes), so each retriever's real
scores are standardized over the candidate set and mixed with tuned weights; a question typed
without diacritics is restored before the dense query and leans on the folded lexical field.

>>> r = Retriever(index_data, encoder)
>>> [h.chunk_id for h in r.search("bi thu thanh uy la ai", k=3).hits]
[0, 4, 2]
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

import numpy as np

from qa.index.store import IndexData
from qa.lang.shorthand import contract, expand
from qa.lang.text import tokenize
from qa.model.encoder import Encoder
from qa.schema import Hit


@dataclass(frozen=True)
class FusionParams:
    """Tuned on tests/data/seed_dev.json (see `qa eval` and benchmarks/tune.py --grid)."""

    dense_weight: float = 0.5
    lexical_weight: float = 0.5
    folded_weight: float = 0.5  # share of the lexical score from the folded field, for accented questions
    sentence_weight: float = 0.3  # share of a chunk's dense score taken from its best sentence
    candidates: int = 64
    exact_below: int = 20_000  # below this many chunks, score every chunk exactly


@dataclass
class Query:
    """A question prepared for search: forms, vectors and per-token facts, computed once."""

    raw: str
    expanded: str  # casual shorthand expanded (qa.lang.shorthand)
    restored: str  # expanded, with diacritics restored on unaccented words
    vectors: np.ndarray  # 1 or 2 rows: raw and restored (when they differ)
    accent_ratio: float  # share of letter tokens carrying diacritics as typed


@dataclass
class SearchResult:
    query: Query
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)


def _z(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-9 else np.zeros_like(x)


class QueryEmbedder:
    """Question -> vectors, with an LRU cache (chat users repeat and retry questions)."""

    def __init__(self, encoder: Encoder, size: int = 1024) -> None:
        self.encoder = encoder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vecs = self.encoder.encode_queries(missing)
            with self._lock:
                for t, v in zip(missing, vecs, strict=True):
                    self._cache[t] = v
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        with self._lock:
            for t in texts:
                if t in self._cache:
                    self._cache.move_to_end(t)
            return np.stack([self._cache[t] if t in self._cache else self.encoder.encode_queries([t])[0]
                             for t in texts])


class Retriever:
    """Searches one loaded index; safe to share between threads (read-only after init)."""

    def __init__(self, data: IndexData, encoder: Encoder, restorer: Any | None = None,
                 params: FusionParams | None = None, query_encoder: Encoder | None = None) -> None:
        self.data = data
        self.encoder = encoder
        self.params = params or FusionParams()
        self.embed = QueryEmbedder(query_encoder or encoder)
        if restorer is None:
            from qa.lang.diacritics import DiacriticRestorer

            # fit on the kept text of each document once: chunks overlap and would double-count
            restorer = DiacriticRestorer.fit(
                d.text[s:e] for d in data.documents.values() for s, e in (d.spans or ((0, len(d.text)),))
            )
        self.restorer = restorer
        self.vocab = frozenset(t.norm for c in data.chunks for t in tokenize(c.text))

    def prepare(self, question: str) -> Query:
        toks = [t for t in tokenize(question) if not t.norm.isdigit()]
        accented = sum(1 for t in toks if t.norm != t.folded)
        ascii_tokens = sum(1 for t in toks if t.norm.isascii())
        ratio = accented / max(1, accented + ascii_tokens)
        # casual shorthand spelled out; spelled-out phrases written as the documents abbreviate them
        expanded = contract(expand(question, self.vocab), self.vocab, self.data.lexical.has_phrase)
        restored = self.restorer.restore(expanded)
        forms = [question] if restored == question else [question, restored]
        return Query(question, expanded, restored, self.embed(forms), ratio)

    def _candidates(self, q: Query, lex: np.ndarray) -> np.ndarray:
        n = len(self.data.chunks)
        if n <= self.params.exact_below:
            return np.arange(n)
        k = self.params.candidates
        _, ids = self.data.dense.search(q.vectors, k)
        lex_top = np.argpartition(-lex, min(k, n - 1))[:k] if n else np.zeros(0, int)
        ids = np.concatenate([ids.ravel(), lex_top])
        return np.unique(ids[ids >= 0])

    def lexical_scores(self, q: Query) -> np.ndarray:
        """Accented field on the restored question + folded field, weighted by missing diacritics."""
        lx = self.data.lexical
        norm = lx.scores(q.restored, "norm")
        folded = lx.scores(q.expanded, "folded")
        w_f = self.params.folded_weight * q.accent_ratio + (1.0 - q.accent_ratio)
        return np.asarray((1.0 - w_f) * norm + w_f * folded, dtype=np.float32)

    def _best_sentence(self, cand: np.ndarray, q: Query) -> np.ndarray:
        """Per candidate chunk, the highest cosine of one of its sentences."""
        off = self.data.sentence_offsets
        rows = np.concatenate([np.arange(off[c], off[c + 1]) for c in cand]) if len(cand) else np.zeros(0, int)
        cos = (self.data.sentence_vectors[rows] @ q.vectors.T).max(axis=1)
        counts = (off[cand + 1] - off[cand]).astype(int)
        out = np.full(len(cand), -1.0, dtype=np.float32)
        nonempty = counts > 0
        if rows.size:
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            out[nonempty] = np.maximum.reduceat(cos, starts[nonempty])
        return out

    def search(self, question: str, k: int = 5, query: Query | None = None) -> SearchResult:
        """Top-k chunks by fused score."""
        import time

        t0 = time.perf_counter()
        q = query or self.prepare(question)
        t1 = time.perf_counter()
        lex_all = self.lexical_scores(q)
        cand = self._candidates(q, lex_all)
        if cand.size == 0:
            return SearchResult(q, [], {"embed": t1 - t0})
        dense = (self.data.chunk_vectors[cand] @ q.vectors.T).max(axis=1)
        if self.params.sentence_weight > 0:
            # a chunk is as relevant as its best sentence too: facts sit in one sentence of a long chunk
            w = self.params.sentence_weight
            dense = (1 - w) * dense + w * self._best_sentence(cand, q)
        lex = lex_all[cand]
        p = self.params
        fused = p.dense_weight * _z(dense) + p.lexical_weight * _z(lex)
        order = np.argsort(-fused, kind="stable")[:k]
        hits = [Hit(int(cand[i]), float(fused[i]), float(dense[i]), float(lex[i])) for i in order]
        return SearchResult(q, hits, {"embed": t1 - t0, "search": time.perf_counter() - t1})
