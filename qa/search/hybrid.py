"""Hybrid retrieval: dense + lexical (accented and folded fields), fused by z-scores.

The index's backend (`qa.index.engines.base`: FAISS + bm25s in process by default, or a Qdrant engine)
returns candidate chunks with their dense, best-sentence and BM25 scores; the fusion is here.

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

from qa.index.engines.base import Candidates, RowSearch, SearchRequest
from qa.index.engines.inprocess import InProcessBackend
from qa.index.engines.sparse import LexicalQuery
from qa.index.store import IndexData
from qa.lang.text import MIN_VIETNAMESE, vietnamese_share
from qa.model.encoder import Encoder
from qa.schema import Hit
from qa.search.features import QuestionTerms, TermCache, candidate_features
from qa.search.learned import RankModel
from qa.search.query import Query, QueryPreparer, accent_ratio


@dataclass(frozen=True)
class FusionParams:
    """Tuned on tests/data/seed_dev.json (see `qa eval` and benchmarks/tune.py --grid)."""

    dense_weight: float = 0.5
    lexical_weight: float = 0.5
    folded_weight: float = 0.5  # share of the lexical score from the folded field, for accented questions
    sentence_weight: float = 0.3  # share of a chunk's dense score taken from its best sentence
    candidates: int = 64
    # 0: fuse over the candidates (each retriever's top `candidates`) at every size, as the Qdrant
    # engines do. Standardizing over every chunk instead (the old default below 20 k chunks) ranked
    # worse on the held-out shared paragraphs (ViQuAD R@1 0.825 vs 0.835, Zalo 0.876 vs 0.894; same on
    # the seed sets) and made the per-question cost grow with the corpus.
    exact_below: int = 0


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
    """Searches one loaded index through its backend; safe to share between threads (read-only after init)."""

    def __init__(self, index: IndexData, encoder: Encoder, params: FusionParams | None = None,
                 ranker: RankModel | None = None) -> None:
        self.index = index
        self.params = params or FusionParams()
        self.prepare = QueryPreparer(index, encoder)
        self.backend: RowSearch = index.backend if index.backend is not None else InProcessBackend(index)
        self.ranker = ranker  # None: the hand fusion's order; else its top candidates re-ranked (qa.search.learned)
        self.terms = TermCache(index.chunks)
        self._idf: dict[str, float] | None = None

    @property
    def idf(self) -> dict[str, float]:
        """IDF of every folded syllable of the index (computed on first use)."""
        if self._idf is None:
            self._idf = self.index.terms.idf()
        return self._idf

    def features(self, q: Query, found: Candidates, fused: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The learned ranking's features (qa.search.features) of the candidates at `rows`."""
        sent = found.best_sentence if found.best_sentence is not None else found.dense
        return candidate_features(rows, hand=fused, chunk_cos=found.dense, sent_cos=sent, lexical=found.lexical,
                                  chunk_terms=[self.terms[int(i)] for i in found.ids[rows]],
                                  question=QuestionTerms.of(q.restored, q.expanded), idf=self.idf,
                                  # as expanded: shorthand spelled out ("hp" → "hải phòng") carries diacritics
                                  accent_ratio=accent_ratio(q.expanded))

    def rerank(self, q: Query, found: Candidates, fused: np.ndarray, ranker: RankModel) -> np.ndarray:
        """Candidate positions, best first: the hand fusion's top `ranker.top_k` re-scored by the model
        (blended with the hand z-score), then the others in hand order."""
        order = np.argsort(-fused, kind="stable")
        if vietnamese_share(q.expanded) < MIN_VIETNAMESE:  # only on the learned path: no cost otherwise
            return order  # the model learned from Vietnamese questions only: an English one keeps the hand order
        top = order[: ranker.top_k]
        learned = ranker.score(self.features(q, found, fused, top)) + ranker.blend * _z(fused[top])
        return np.concatenate([top[np.argsort(-learned, kind="stable")], order[ranker.top_k:]])

    def fuse(self, q: Query) -> tuple[Candidates, np.ndarray, np.ndarray]:
        """The backend's candidates for a prepared question, their dense score (chunk cosine mixed with the
        best sentence's) and their hand-fused score."""
        p = self.params
        # accented field on the restored question + folded field, weighted by missing diacritics
        w_f = p.folded_weight * q.accent_ratio + (1.0 - q.accent_ratio)
        found = self.backend.search(SearchRequest(q.vectors, LexicalQuery(q.restored, q.expanded, w_f), p.candidates,
                                                  p.exact_below, sentences=p.sentence_weight > 0))
        dense = found.dense
        if p.sentence_weight > 0 and found.best_sentence is not None:
            # a chunk is as relevant as its best sentence too: facts sit in one sentence of a long chunk
            dense = (1 - p.sentence_weight) * dense + p.sentence_weight * found.best_sentence
        return found, dense, p.dense_weight * _z(dense) + p.lexical_weight * _z(found.lexical)

    def search(self, question: str, k: int = 5, query: Query | None = None) -> SearchResult:
        """Top-k chunks by fused score (re-ranked by the learned model when there is one)."""
        t0 = time.perf_counter()
        q = query or self.prepare(question)
        t1 = time.perf_counter()
        found, dense, fused = self.fuse(q)
        cand = found.ids
        if cand.size == 0:
            return SearchResult(q, [], {}, {"embed": t1 - t0})
        per_chunk: dict[int, np.ndarray] = dict(found.sentence_cos or {})
        lex = found.lexical
        ranker = self.ranker
        if ranker is not None and cand.size > 1:
            order = self.rerank(q, found, fused, ranker)[:k]
        else:
            order = np.argsort(-fused, kind="stable")[:k]
        hits = [Hit(int(cand[i]), float(fused[i]), float(dense[i]), float(lex[i])) for i in order]
        missing = np.array([h.chunk_id for h in hits if h.chunk_id not in per_chunk], dtype=np.int64)
        if missing.size:  # the sentence cosines the answerer needs, for the hits only
            per_chunk.update(zip(missing.tolist(), self.backend.sentence_cosines(missing, q.vectors), strict=True))
        sentence_cos = {h.chunk_id: per_chunk[h.chunk_id] for h in hits}
        return SearchResult(q, hits, sentence_cos, {"embed": t1 - t0, "search": time.perf_counter() - t1})
