"""Sparse term weights for engines that score BM25 themselves (Qdrant sparse vectors with the IDF modifier).

The app keeps its own Vietnamese tokenization: the features are those of the in-process bm25s index
(`qa.index.engines.lexical.features`: syllables and syllable bigrams of the accented `norm` field and of the
diacritic-folded `folded` field). Both fields share one sparse vector: a feature's id is a stable
31-bit hash of its text (blake2b, the same on every machine and shard, so no shared vocabulary is
needed) with the field in the top bit.

Weights split BM25 between the two sides so that the engine's score equals bm25s's ("lucene"
variant) on the same chunks:

- document side: `tf / (tf + k1·(1 - b + b·dl/avgdl))`, dl = the chunk's feature count, avgdl fixed
  when the index is built (`SparseParams`);
- query side: the feature's count in the question times its field's weight (the accented and folded
  fields are mixed by how many diacritics the question lacks, `qa.search.hybrid`);
- the engine multiplies each shared term by `idf = ln(1 + (N - df + 0.5) / (df + 0.5))`, N and df
  counted over the collection's chunks (Qdrant's `Modifier.IDF`).

>>> term_id("hà", "norm") == term_id("hà", "norm"), term_id("ha", "norm") != term_id("ha", "folded")
(True, True)
>>> v = document_vector("Hà Nội là thủ đô", SparseParams(avgdl_norm=9.0, avgdl_folded=9.0))
>>> len(v.indices), round(float(v.values.max()), 4)   # 5 syllables + 4 bigrams per field, tf 1: 1/(1+k1)
(18, 0.4545)
>>> LexicalQuery("hà nội", "ha noi", folded_weight=1.0).vector().values.tolist()   # accented field off
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError
from qa.index.engines.lexical import FIELDS, features
from qa.lang.text import tokenize


def field_features(text: str) -> dict[str, list[str]]:
    """`features(text, folded)` of both fields from one tokenization (each field never empty: bm25s's marker).

    >>> field_features("Thành phố")["folded"]
    ['thanh', 'pho', 'thanh_pho']
    """
    toks = tokenize(text)
    out = {}
    for field in FIELDS:
        t = [x.folded for x in toks] if field == "folded" else [x.norm for x in toks]
        out[field] = (t + [a + "_" + b for a, b in zip(t, t[1:], strict=False)]) or [EMPTY]
    return out

FIELD_BIT = {"norm": 0, "folded": 1 << 31}
EMPTY = "\u2205"  # what bm25s indexes for a chunk without features (see LexicalIndex.build)


@lru_cache(maxsize=1 << 20)  # words repeat (Zipf): most features are hashed once per process
def term_id(term: str, field: str) -> int:
    """Stable id of a feature in a field: 31 bits of blake2b, the field in bit 31."""
    h = int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")
    return (h & 0x7FFF_FFFF) | FIELD_BIT[field]


@dataclass(frozen=True)
class SparseVector:
    """Sorted unique term ids and their weights."""

    indices: np.ndarray  # uint32
    values: np.ndarray  # float32

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    @classmethod
    def from_weights(cls, weights: dict[int, float]) -> SparseVector:
        ids = np.array(sorted(weights), dtype=np.uint32)
        return cls(ids, np.array([weights[int(i)] for i in ids], dtype=np.float32))


@dataclass(frozen=True)
class SparseParams:
    """BM25's document-side constants, fixed at build (bm25s's defaults: k1 1.2, b 0.75).

    avgdl is the mean feature count per chunk (exact up to `sample` chunks, estimated from an evenly
    spread sample of that many above: a relative error of a few 0.1 %); `qa index update` keeps the
    build's value (the stored weights of kept chunks depend on it), so it drifts until the next build.
    """

    k1: float = 1.2
    b: float = 0.75
    avgdl_norm: float = 1.0
    avgdl_folded: float = 1.0

    @classmethod
    def fit(cls, texts: Iterable[str], k1: float = 1.2, b: float = 0.75, sample: int = 20_000) -> SparseParams:
        all_texts = list(texts)
        step = max(1, -(-len(all_texts) // sample))
        n, total = 0, {f: 0 for f in FIELDS}
        for t in all_texts[::step]:
            n += 1
            for f, feats in field_features(t).items():
                total[f] += len(feats)
        n = max(1, n)
        return cls(k1, b, total["norm"] / n or 1.0, total["folded"] / n or 1.0)

    def avgdl(self, field: str) -> float:
        return self.avgdl_norm if field == "norm" else self.avgdl_folded

    def to_dict(self) -> dict[str, float]:
        return {"k1": self.k1, "b": self.b, "avgdl_norm": self.avgdl_norm, "avgdl_folded": self.avgdl_folded}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SparseParams:
        return cls(float(d["k1"]), float(d["b"]), float(d["avgdl_norm"]), float(d["avgdl_folded"]))


def document_vector(text: str, params: SparseParams) -> SparseVector:
    """A chunk's term weights, both fields in one vector."""
    weights: dict[int, float] = {}
    for field, feats in field_features(text).items():
        norm = params.k1 * (1.0 - params.b + params.b * len(feats) / params.avgdl(field))
        tf: dict[int, int] = {}
        for f, n in Counter(feats).items():
            i = term_id(f, field)
            tf[i] = tf.get(i, 0) + n  # a hash collision adds up the counts
        for i, n in tf.items():
            weights[i] = n / (n + norm)
    return SparseVector.from_weights(weights)


@dataclass(frozen=True)
class LexicalQuery:
    """A question's lexical side: the accented field searched with `norm_text` (diacritics restored),
    the folded field with `folded_text` (shorthand expanded), mixed by `folded_weight`."""

    norm_text: str
    folded_text: str
    folded_weight: float

    def weights(self) -> dict[str, float]:
        return {"norm": 1.0 - self.folded_weight, "folded": self.folded_weight}

    def vector(self) -> SparseVector:
        """Each feature's count times its field's weight (a repeated word counts again, as in bm25s)."""
        out: dict[int, float] = {}
        for field, w in self.weights().items():
            if w <= 0.0:
                continue
            text = self.norm_text if field == "norm" else self.folded_text
            for f in features(text, field == "folded"):
                if f:
                    i = term_id(f, field)
                    out[i] = out.get(i, 0.0) + w
        return SparseVector.from_weights(out)


class TermVocabulary:
    """The folded features the chunks hold, as sorted hashed ids: answers `has_phrase` the way
    `LexicalIndex` does, for backends whose lexical index lives in the engine.

    >>> TermVocabulary.build(["Hải Phòng là thành phố cảng"]).has_phrase("thanh pho")
    True
    >>> TermVocabulary.build(["Hải Phòng là thành phố cảng"]).has_phrase("pho cang lon")
    False
    """

    def __init__(self, ids: np.ndarray, n_docs: int) -> None:
        self.ids = np.unique(np.asarray(ids, dtype=np.uint32))
        self.n_docs = n_docs

    @classmethod
    def from_vectors(cls, vectors: Iterable[SparseVector], n_docs: int) -> TermVocabulary:
        """The folded-field ids of the chunks' term-weight vectors (no second tokenization)."""
        parts = [v.indices[v.indices >= FIELD_BIT["folded"]] for v in vectors]
        return cls(np.concatenate(parts) if parts else np.zeros(0, np.uint32), n_docs)

    @classmethod
    def build(cls, texts: Iterable[str]) -> TermVocabulary:
        ids: set[int] = set()
        n = 0
        for t in texts:
            n += 1
            ids.update(term_id(f, "folded") for f in features(t, folded=True))
        return cls(np.fromiter(ids, dtype=np.uint32, count=len(ids)), n)

    def _known(self, feats: list[str]) -> bool:
        want = np.array([term_id(f, "folded") for f in feats], dtype=np.uint32)
        pos = np.searchsorted(self.ids, want)
        return bool(np.all((pos < self.ids.size) & (self.ids[np.minimum(pos, self.ids.size - 1)] == want))) \
            if self.ids.size else not feats

    def has_phrase(self, phrase: str) -> bool:
        """True when every folded syllable bigram of the phrase occurs in the documents."""
        feats = [f for f in features(phrase, folded=True) if "_" in f] or features(phrase, folded=True)
        return self._known(feats)

    def phrase_count(self, phrase: str) -> int:
        """1 when the documents hold the phrase, else 0: hashed ids keep no frequencies, so an engine
        backend tells presence only (ties between shorthand candidates keep their table order).

        >>> TermVocabulary.build(["Hải Phòng là thành phố cảng"]).phrase_count("hai phong")
        1
        """
        return int(self.has_phrase(phrase))

    def save(self, path: Path) -> None:
        np.save(path, self.ids)

    @classmethod
    def load(cls, path: Path, n_docs: int) -> TermVocabulary:
        try:
            ids = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise IndexCorruptError(f"{path}: cannot read the term vocabulary ({e}); run `qa index build`") from e
        return cls(ids, n_docs)
