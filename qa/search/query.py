"""A question prepared for search: shorthand expanded, diacritics restored, embedded once.

Casual shorthand is spelled out ("ctich" → "chủ tịch"), spelled-out phrases are written as the
documents abbreviate them ("ủy ban nhân dân" → "UBND"), and diacritics are restored from the
documents' own syllable model, so "bi thu thanh uy la ai" searches like "Bí thư Thành ủy là ai".
The dense side embeds the question as typed and, when it differs, its restored form (an English
question is mangled by restoration; the better of the two wins)::

    prepare = QueryPreparer(index, query_encoder)
    prepare("bi thu thanh uy la ai").restored        # 'bí thư thành ủy là ai'

>>> accent_ratio("Bí thư thanh uy 2018")
0.5
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

import numpy as np

from qa.index.store import IndexData
from qa.lang.shorthand import contract, expand
from qa.lang.text import tokenize
from qa.model.encoder import Encoder


@dataclass(frozen=True)
class Query:
    """A question's forms, vectors and how much of it was typed with diacritics."""

    raw: str
    expanded: str  # casual shorthand expanded (qa.lang.shorthand)
    restored: str  # expanded, with diacritics restored on unaccented words
    vectors: np.ndarray  # 1 or 2 rows: raw and restored (when they differ)
    accent_ratio: float  # share of letter tokens carrying diacritics as typed


def accent_ratio(question: str) -> float:
    """Share of the question's (non-number) tokens typed with diacritics, among accented and ASCII ones."""
    toks = [t for t in tokenize(question) if not t.norm.isdigit()]
    accented = sum(1 for t in toks if t.norm != t.folded)
    ascii_tokens = sum(1 for t in toks if t.norm.isascii())
    return accented / max(1, accented + ascii_tokens)


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


class QueryPreparer:
    """Turns a question into a `Query` against one index (its vocabulary and diacritics model)."""

    def __init__(self, index: IndexData, encoder: Encoder) -> None:
        self.index = index
        self.embed = QueryEmbedder(encoder)

    def forms(self, question: str) -> tuple[str, str]:
        """(expanded, restored): casual shorthand spelled out and spelled-out phrases written as the
        documents abbreviate them; then diacritics restored on unaccented words."""
        vocab, lexical = self.index.terms.vocab, self.index.lexical
        expanded = contract(expand(question, vocab, lexical.phrase_count), vocab, lexical.has_phrase)
        return expanded, self.index.restorer.restore(expanded)

    def __call__(self, question: str) -> Query:
        return self.many([question])[0]

    def many(self, questions: list[str], batch: int = 64) -> list[Query]:
        """Queries for many questions, their texts embedded together in batches (one forward each)."""
        forms = [self.forms(q) for q in questions]
        texts = [[q] if r == q else [q, r] for q, (_, r) in zip(questions, forms, strict=True)]
        flat = list(dict.fromkeys(t for ts in texts for t in ts))
        vectors: dict[str, np.ndarray] = {}
        for i in range(0, len(flat), batch):
            part = flat[i : i + batch]
            vectors.update(zip(part, self.embed(part), strict=True))
        return [Query(q, e, r, np.stack([vectors[t] for t in ts]), accent_ratio(q))
                for q, (e, r), ts in zip(questions, forms, texts, strict=True)]
