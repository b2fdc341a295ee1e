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


RARE_SHARE = 0.3  # a word in more than this share of the passages is common: underlining it says nothing


def underline_terms(text: str, base: int, typed: str, restored: str, df: Mapping[str, int], n_chunks: int,
                    rare_share: float = RARE_SHARE) -> list[Highlight]:
    """'term' highlights for the words a reader should notice: the question's rare content words.

    A word of `text` is underlined when it is spelled like a content word of the question as typed
    (`typed`, shorthand expanded) or, for a word typed without diacritics, as restored (`restored`):
    "thu" restored to "thu" does not underline the "thư" of "Bí thư". Matching words next to each other form one
    run, underlined whole only when one of them is rare, i.e. in at most `rare_share` of the
    `n_chunks` passages (`df`: folded syllable -> passages holding it); common ones alone stay plain.

    >>> df = {"hoi": 9, "nghi": 9, "nghia": 1, "thu": 2}
    >>> [(h.start, h.end) for h in underline_terms("Hội nghị: bà Nghĩa, Bí thư", 0, "hoi nghi Nghĩa thu",
    ...                                            "hội nghị Nghĩa thu", df, 10)]
    [(13, 18)]
    """
    q_typed, q_restored = tokenize(typed), tokenize(restored)
    if len(q_typed) != len(q_restored):
        q_restored = q_typed
    # a word typed with diacritics matches as typed; one typed without matches as restored (which
    # is the typed form itself when the documents gave no better spelling)
    spellings = {(t if t.norm != t.folded else r).norm for t, r in zip(q_typed, q_restored, strict=True)
                 if t.norm not in STOPWORDS and is_content(r)}
    if not spellings:
        return []
    limit = max(1.0, rare_share * n_chunks)
    toks = cached_tokens(text)
    out: list[Highlight] = []
    run: list[Token] = []

    def flush() -> None:
        if run and any(df.get(t.folded, 0) <= limit for t in run):
            out.append(Highlight(base + run[0].start, base + run[-1].end, "term"))
        run.clear()

    for t in toks:
        if t.norm in spellings and (not run or not text[run[-1].end : t.start].strip()):
            run.append(t)
            continue
        flush()
        if t.norm in spellings:
            run.append(t)
    flush()
    return out


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
