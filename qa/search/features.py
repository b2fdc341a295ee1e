"""Per-candidate features for the learned ranking (`qa.search.learned`), normalized per question.

The hand fusion (`qa.search.hybrid`) ranks every candidate; the learned ranking re-scores its top
`k` with what the backend already returned (chunk cosine, best-sentence cosine, BM25 with the
accented and folded fields mixed, the hand score and each retriever's rank) and a few term-overlap
scores computed here from the candidates' texts: the IDF-weighted share of the question's
syllables found in the chunk (accented and folded), of its folded syllable pairs, and of its
syllables in the passage's title (its section heading). Every score is taken relative to the
question's own candidates (z-score, or the gap to the best one), so a seed article of 26 chunks
and a 5,000-paragraph corpus give the model features on one scale; no feature depends on the
backend, so FAISS and the Qdrant engines rank the same.

>>> idf = {"ha": 2.0, "noi": 1.0, "la": 0.1}
>>> round(coverage(["ha", "noi"], {"ha"}, idf), 3)
0.667
>>> Pool.of(np.array([1.0, 2.0, 3.0])).z().round(3).tolist()
[-1.225, 0.0, 1.225]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from threading import Lock

import numpy as np

from qa.lang.text import fold, terms
from qa.schema import Chunk

FEATURES: tuple[str, ...] = (
    "hand_z", "hand_gap", "chunk_cos_z", "chunk_cos_gap", "sent_cos_z", "sent_cos_gap", "lex_z", "lex_rel",
    "cov_norm", "cov_folded", "cov_folded_gap", "cov_pairs", "cov_title", "rank_hand", "rank_dense",
    "rank_lex", "plain_lex_z", "plain_dense_z", "len_z",
)
DEFAULT_IDF = 1.0  # a syllable the index never saw (a typo, an English word) counts like a common one


@dataclass(frozen=True)
class Pool:
    """One score over a question's candidates, with the per-question normalizations."""

    x: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> Pool:
        return cls(np.asarray(x, dtype=np.float64))

    def z(self) -> np.ndarray:
        sd = float(self.x.std()) if self.x.size else 0.0
        return (self.x - float(self.x.mean())) / sd if sd > 1e-9 else np.zeros_like(self.x)

    def gap(self) -> np.ndarray:
        """Distance below the best candidate (0 for the best)."""
        return self.x - float(self.x.max()) if self.x.size else self.x

    def rel(self) -> np.ndarray:
        """Share of the best candidate's score (for scores that are 0 when nothing matches)."""
        top = float(self.x.max()) if self.x.size else 0.0
        return self.x / top if top > 1e-9 else np.zeros_like(self.x)


def coverage(question: Sequence[str], present: set[str] | frozenset[str], idf: Mapping[str, float]) -> float:
    """IDF-weighted share of the question's distinct terms that `present` holds (0 for no terms)."""
    qs = set(question)
    total = sum(idf.get(t, DEFAULT_IDF) for t in qs)
    if total <= 0:
        return 0.0
    return sum(idf.get(t, DEFAULT_IDF) for t in qs if t in present) / total


def _pairs(toks: Sequence[str]) -> list[str]:
    return [a + "_" + b for a, b in zip(toks, toks[1:], strict=False)]


@dataclass(frozen=True)
class ChunkTerms:
    """A chunk's term sets (accented syllables, folded syllables, folded pairs, folded title syllables)."""

    norm: frozenset[str]
    folded: frozenset[str]
    pairs: frozenset[str]
    title: frozenset[str]
    chars: int

    @classmethod
    def of(cls, chunk: Chunk) -> ChunkTerms:
        folded = terms(chunk.text, folded=True)
        return cls(frozenset(terms(chunk.text)), frozenset(folded), frozenset(_pairs(folded)),
                   frozenset(terms(chunk.title, folded=True)), len(chunk.text))


class TermCache:
    """Chunk id -> `ChunkTerms`, computed on first use and kept for the `size` most recent chunks."""

    def __init__(self, chunks: Sequence[Chunk], size: int = 20_000) -> None:
        self.chunks, self.size = chunks, size
        self._cache: OrderedDict[int, ChunkTerms] = OrderedDict()
        self._lock = Lock()

    def __getitem__(self, chunk_id: int) -> ChunkTerms:
        with self._lock:
            hit = self._cache.get(chunk_id)
            if hit is not None:
                self._cache.move_to_end(chunk_id)
                return hit
        made = ChunkTerms.of(self.chunks[chunk_id])
        with self._lock:
            self._cache[chunk_id] = made
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return made


@dataclass(frozen=True)
class QuestionTerms:
    """The question's terms: accented syllables of its restored form, folded syllables and pairs."""

    norm: tuple[str, ...]
    folded: tuple[str, ...]
    pairs: tuple[str, ...]

    @classmethod
    def of(cls, restored: str, expanded: str) -> QuestionTerms:
        folded = terms(expanded, folded=True)
        return cls(tuple(terms(restored)), tuple(folded), tuple(_pairs(folded)))


def _inv_rank(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """1 / (1 + rank) of each chosen row among all candidates by `scores` (rank 0 = best)."""
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(len(scores), dtype=np.float64)
    rank[order] = np.arange(len(scores))
    return 1.0 / (1.0 + rank[rows])


def candidate_features(rows: np.ndarray, *, hand: np.ndarray, chunk_cos: np.ndarray, sent_cos: np.ndarray,
                       lexical: np.ndarray, chunk_terms: Sequence[ChunkTerms], question: QuestionTerms,
                       idf: Mapping[str, float], accent_ratio: float) -> np.ndarray:
    """(len(rows), len(FEATURES)): features of the candidates at `rows` (positions in the score arrays,
    which cover every candidate); `chunk_terms` is aligned with `rows`.

    >>> q = QuestionTerms.of("hà nội", "ha noi")
    >>> t = [ChunkTerms.of(Chunk("a", "A", "Hà Nội đẹp", 0, 10, ())), ChunkTerms.of(Chunk("b", "B", "Huế", 0, 3, ()))]
    >>> s = np.array([1.0, 0.0])
    >>> f = candidate_features(np.array([0, 1]), hand=s, chunk_cos=s, sent_cos=s, lexical=s, chunk_terms=t,
    ...                        question=q, idf={}, accent_ratio=1.0)
    >>> dict(zip(FEATURES, f[1].round(2).tolist()))["cov_folded_gap"], f.shape
    (-1.0, (2, 19))
    """
    if rows.size == 0:
        return np.zeros((0, len(FEATURES)))
    h, cc, sc, lx = (Pool.of(a[rows]) for a in (hand, chunk_cos, sent_cos, lexical))
    norm_idf = {t: idf.get(fold(t), DEFAULT_IDF) for t in question.norm}  # the statistics are per folded syllable
    cov_norm = np.array([coverage(question.norm, t.norm, norm_idf) for t in chunk_terms])
    cov_folded = np.array([coverage(question.folded, t.folded, idf) for t in chunk_terms])
    pair_idf = {p: idf.get(p.split("_", 1)[0], DEFAULT_IDF) + idf.get(p.split("_", 1)[1], DEFAULT_IDF)
                for p in question.pairs}
    cov_pairs = np.array([coverage(question.pairs, t.pairs, pair_idf) for t in chunk_terms])
    cov_title = np.array([coverage(question.folded, t.title, idf) for t in chunk_terms])
    plain = 1.0 - accent_ratio
    lex_z, dense_z = lx.z(), cc.z()
    length = Pool.of(np.log1p([t.chars for t in chunk_terms]))
    cols = [h.z(), h.gap(), dense_z, cc.gap(), sc.z(), sc.gap(), lex_z, lx.rel(),
            cov_norm, cov_folded, Pool.of(cov_folded).gap(), cov_pairs, cov_title,
            _inv_rank(hand, rows), _inv_rank(chunk_cos, rows), _inv_rank(lexical, rows),
            plain * lex_z, plain * dense_z, length.z()]
    out = np.stack(cols, axis=1)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)

