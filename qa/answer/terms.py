"""The question's words as evidence: which count (stopwords don't), how rare they are, where they match.

One rule decides both what counts as the question's evidence in a sentence (IDF-weighted
coverage) and what gets underlined in passages and the document view ('term' highlights): an
accented question word matches only as spelled, an unaccented one matches with any diacritics.

>>> sorted(question_spellings("Ai là chu tich thành phố?")[0])
['phố', 'thành']
>>> [h.start for h in term_highlights("Chủ tịch thành phố", 0, question_spellings("chu tich"))]
[0, 4]
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from functools import lru_cache

from qa.lang.text import Token, tokenize
from qa.schema import Highlight
from qa.search.query import Query

# Question words and particles: matching them is no evidence (and highlighting them is noise).
STOPWORDS = frozenset(
    """ai gì nào đâu sao bao nhiêu mấy khi nào thế nào như là của có không được những các và với cho
    trong ở tại về từ đến theo này đó thì mà hay hoặc bị đã sẽ đang rất cũng vì nên để người một
    ra vào lên xuống ạ à ư nhỉ nhé vậy the a an of in on at to is are was were what who whom which
    when where why how does do did many much for by with from and or be""".split()
)
FOLDED_STOP = frozenset(t.folded for w in STOPWORDS for t in tokenize(w))

Spellings = tuple[frozenset[str], frozenset[str]]  # (accented words as typed, unaccented words folded)


def is_content(t: Token) -> bool:
    """A question word worth matching: not a stopword, not a lone letter."""
    stop = t.norm in STOPWORDS or (t.norm == t.folded and t.folded in FOLDED_STOP)
    return not stop and (len(t.folded) > 1 or t.folded.isdigit())


def question_spellings(question: str, content_only: bool = True) -> Spellings:
    """How question words may match: an accented word only as spelled, an unaccented one with any accents."""
    words = [t for t in tokenize(question) if not content_only or (t.norm not in STOPWORDS and is_content(t))]
    return (frozenset(t.norm for t in words if t.norm != t.folded),
            frozenset(t.folded for t in words if t.norm == t.folded))


def term_highlights(text: str, base: int, spellings: Spellings, keep: Container[str] | None = None) -> list[Highlight]:
    """'term' highlights (offsets + base) of the words of `text` matching the question's spellings."""
    accented, folded_ok = spellings
    return [Highlight(base + t.start, base + t.end, "term") for t in cached_tokens(text)
            if (keep is None or t.folded in keep) and (t.norm in accented or t.folded in folded_ok)]


@lru_cache(maxsize=16384)
def cached_tokens(text: str) -> tuple[Token, ...]:
    """Tokens of a chunk or sentence; cached because the same passages come back on every ask."""
    return tuple(tokenize(text))


@dataclass(frozen=True)
class QuestionTerms:
    """The question's content syllables (folded) with their IDF, and whether it reads as Vietnamese."""

    weights: dict[str, float]
    vietnamese: bool

    @classmethod
    def of(cls, q: Query, idf: Mapping[str, float], default_idf: float) -> QuestionTerms:
        """For a Vietnamese question, a word the documents never use counts with the highest IDF, so
        "Chủ tịch UBND Hà Nội" is not fully covered by a passage about Hải Phòng. For a question in
        another language unknown words carry no weight: the dense side judges it.
        """
        # stopwords are judged on the restored spelling (folded "bi" is "bị", a stopword, or "bí", not)
        # and on the spelling as typed ("the" must not become a content word "thể")
        typed, restored = tokenize(q.expanded), tokenize(q.restored)
        if len(typed) != len(restored):
            restored = typed
        toks = [r for t, r in zip(typed, restored, strict=True) if t.norm not in STOPWORDS and is_content(r)]
        known = [t for t in toks if t.folded in idf]
        vietnamese = q.accent_ratio > 0 or len(known) >= 0.6 * max(1, len(toks))
        weights: dict[str, float] = {}
        for t in toks:
            if t.folded in idf:
                weights[t.folded] = idf[t.folded]
            elif vietnamese:
                weights[t.folded] = default_idf
        return cls(weights, vietnamese)

    def coverage(self, text: str) -> float:
        """IDF-weighted share of the question's content words that `text` contains (folded)."""
        if not self.weights:
            return 0.0
        present = {t.folded for t in cached_tokens(text)}
        return sum(w for t, w in self.weights.items() if t in present) / sum(self.weights.values())
