"""BM25 (bm25s) over Vietnamese syllables (an accented and a diacritic-folded field), and term statistics.

Each field indexes syllables plus syllable bigrams: Vietnamese words are mostly two syllables
("thành phố"), so bigrams sharpen matching inside the fusion.

>>> lx = LexicalIndex.build(["Hải Phòng là thành phố cảng", "Huế là cố đô"])
>>> int(lx.scores("hai phong", field="folded").argmax())
0
>>> t = CorpusTerms.build(["Hải Phòng là thành phố cảng", "Huế là cố đô"])
>>> t.n_chunks, t.df["la"], "hải" in t.vocab
(2, 2, True)
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError
from qa.lang.text import terms, tokenize

FIELDS = ("norm", "folded")


def features(text: str, folded: bool) -> list[str]:
    """Syllables and bigrams: `features("Thành phố", False) == ['thành', 'phố', 'thành_phố']`."""
    toks = terms(text, folded=folded)
    return toks + [a + "_" + b for a, b in zip(toks, toks[1:], strict=False)]


class LexicalIndex:
    """Two bm25s indexes over the same chunks, one per field."""

    def __init__(self, retrievers: dict[str, object], n_docs: int) -> None:
        self.retrievers = retrievers
        self.n_docs = n_docs

    @classmethod
    def build(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> LexicalIndex:
        import bm25s

        retrievers: dict[str, object] = {}
        for field in FIELDS:
            r = bm25s.BM25(k1=k1, b=b)
            # ids as we go, not lists of feature strings: one new str per syllable and bigram is ~70 bytes
            # each (over 10 GB at a million chunks); a list slot pointing at the vocabulary's int is 8.
            # bm25s scores the same either way.
            vocab: dict[str, int] = {}
            # bm25s needs at least one token per document; an empty chunk gets a harmless marker
            ids = [[vocab.setdefault(f, len(vocab)) for f in (features(t, field == "folded") or ["\u2205"])]
                   for t in texts]
            r.index((ids, vocab), show_progress=False)
            del ids
            retrievers[field] = r
        return cls(retrievers, len(texts))

    def scores(self, query: str, field: str = "norm") -> np.ndarray:
        """BM25 score of every chunk for the query's features in one field."""
        if self.n_docs == 0:
            return np.zeros(0, dtype=np.float32)
        r = self.retrievers[field]
        feats = features(query, field == "folded")
        vocab = r.vocab_dict  # type: ignore[attr-defined]
        known = [f for f in feats if f and f in vocab]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(r.get_scores(known), dtype=np.float32)  # type: ignore[attr-defined]

    def has_phrase(self, phrase: str) -> bool:
        """True when every folded syllable bigram of the phrase occurs in the documents."""
        feats = [f for f in features(phrase, folded=True) if "_" in f] or features(phrase, folded=True)
        vocab = self.retrievers["folded"].vocab_dict  # type: ignore[attr-defined]
        return all(f in vocab for f in feats)

    def phrase_count(self, phrase: str) -> int:
        """Chunks holding the phrase's rarest folded bigram (its syllable for one word); 0 when absent.

        >>> lx = LexicalIndex.build(["Hội nghị ở Hà Nội", "Hà Nội mùa thu", "Hội nghị Diên Hồng"])
        >>> lx.phrase_count("hà nội"), lx.phrase_count("ha noi mua"), lx.phrase_count("hải phòng")
        (2, 1, 0)
        """
        feats = [f for f in features(phrase, folded=True) if "_" in f] or features(phrase, folded=True)
        r = self.retrievers["folded"]
        vocab, indptr = r.vocab_dict, r.scores["indptr"]  # type: ignore[attr-defined]
        ids = [vocab.get(f) for f in feats]
        if not ids or any(i is None for i in ids):
            return 0
        return int(min(indptr[i + 1] - indptr[i] for i in ids))

    def save(self, folder: Path) -> None:
        for field, r in self.retrievers.items():
            r.save(str(folder / f"bm25_{field}"), show_progress=False)  # type: ignore[attr-defined]

    @classmethod
    def load(cls, folder: Path, n_docs: int) -> LexicalIndex:
        import bm25s

        retrievers: dict[str, object] = {}
        for field in FIELDS:
            sub = folder / f"bm25_{field}"
            try:
                r = bm25s.BM25.load(str(sub), show_progress=False, verbosity=0)
            except Exception as e:  # bm25s raises ValueError/OSError/JSON errors on damaged files
                raise IndexCorruptError(
                    f"{sub}: cannot load the lexical index ({e.__class__.__name__}); "
                    "run `qa index build` to rebuild it"
                ) from e
            retrievers[field] = r
        lx = cls(retrievers, n_docs)
        for field in FIELDS:
            got = lx.retrievers[field].scores["num_docs"]  # type: ignore[attr-defined]
            if int(got) != n_docs:
                raise IndexCorruptError(
                    f"{folder}: lexical index has {got} documents, chunks file has {n_docs}; "
                    "run `qa index build`"
                )
        return lx


def lexical_files(folder: Path) -> list[Path]:
    """Every file of the lexical index, for checksums in the manifest."""
    out = []
    for field in FIELDS:
        sub = folder / f"bm25_{field}"
        for name in sorted(os.listdir(sub)):
            out.append(sub / name)
    return out


@dataclass(frozen=True)
class CorpusTerms:
    """Chunk-level term statistics, computed once at build: the accented vocabulary (is a word one the
    documents use?) and folded-syllable document frequencies (how rare is it?)."""

    n_chunks: int
    vocab: frozenset[str]  # normalized syllables
    df: dict[str, int]  # folded syllable -> number of chunks holding it

    @classmethod
    def build(cls, texts: Iterable[str]) -> CorpusTerms:
        vocab: set[str] = set()
        df: Counter[str] = Counter()
        n = 0
        for text in texts:
            toks = tokenize(text)
            vocab.update(t.norm for t in toks)
            df.update({t.folded for t in toks})
            n += 1
        return cls(n, frozenset(vocab), dict(df))

    def idf(self) -> dict[str, float]:
        """log(1 + N / (1 + df)) per folded syllable."""
        n = max(1, self.n_chunks)
        return {t: math.log(1 + n / (1 + f)) for t, f in self.df.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"chunks": self.n_chunks, "vocab": sorted(self.vocab), "df": self.df}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorpusTerms:
        try:
            return cls(int(d["chunks"]), frozenset(map(str, d["vocab"])), {str(k): int(v) for k, v in d["df"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise IndexCorruptError(f"term statistics are malformed ({e!r}); run `qa index build`") from e
