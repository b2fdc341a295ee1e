"""Vietnamese sentence splitting in document offsets, robust to abbreviations, numbers and ellipses.

>>> t = "TP. Hải Phòng có 1.000 người. PGS.TS. An nói vậy!"
>>> [t[a:b] for a, b in split_sentences(t)]
['TP. Hải Phòng có 1.000 người.', 'PGS.TS. An nói vậy!']
>>> t = "tp. hải phòng có 1.000 người. ông an nói vậy."  # no capitals anywhere: still split
>>> [t[a:b] for a, b in split_sentences(t)]
['tp. hải phòng có 1.000 người.', 'ông an nói vậy.']
"""

from __future__ import annotations

import re
import unicodedata

from qa.lang.text import nfc, trim_span

Span = tuple[int, int]

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
# a run of terminators with the quotes/brackets closing over it, or a single line break
_CANDIDATE = re.compile(r"[.!?…]+[\"'”’)\]»]*|\n")
_CLOSERS = "\"'”’)]»"
_OPENERS = "\"'“‘([«-–—•*·"
# Titles and prefixes that stand before a name ("TP. Hải Phòng", "PGS.TS. Nguyễn Văn A"), compared
# lowercase. "v.v." is deliberately absent: it can end a sentence, so an uppercase word after it splits.
_ABBREVIATIONS = frozenset(
    "tp tx tt q p h pgs gs ts ths th bs bsck ck ks kts ls ds cn ncs nsnd nsưt ttnd ttưt "
    "mr mrs ms dr prof st jr sr vs tr".split()
)
_LIST_MARKER = re.compile(r"(?:\d+|[ivxlcdm]+|[a-zđ])(?:\.\d+)*", re.IGNORECASE)
_SEPARATORS = (re.compile(r";(?=\s)"), re.compile(r",(?=\s)"), re.compile(r"\s+"))


def _paragraphs(text: str, start: int, end: int) -> list[Span]:
    out = []
    pos = start
    for m in _BLANK_LINE.finditer(text, start, end):
        out.append(trim_span(text, pos, m.start()))
        pos = m.end()
    out.append(trim_span(text, pos, end))
    return [(a, b) for a, b in out if a < b]


def _next_word_start(text: str, pos: int, end: int) -> int:
    """Index of the first letter/digit at or after `pos`, skipping spaces, opening quotes and bullets."""
    while pos < end and (text[pos].isspace() or text[pos] in _OPENERS):
        pos += 1
    return pos


def _is_abbreviation(token: str) -> bool:
    """'TP', 'PGS.TS', 'Th.S': every dot-separated part is a known title or a capital initial."""
    parts = nfc(token).lstrip(_OPENERS).rstrip(_CLOSERS).split(".")
    return all(p.lower() in _ABBREVIATIONS or (len(p) == 1 and p.isupper()) for p in parts)


def _is_boundary(text: str, m: re.Match[str], sent_start: int, end: int, cased: bool = True) -> bool:
    """Does candidate `m` end a sentence? In text written without capitals (`cased` False: chat logs,
    lower-cased corpora) a lowercase word after a full stop starts a new sentence too."""
    after = m.end()
    if m.group() == "\n":
        # a line break ends a sentence unless the next line continues it in lowercase (a wrapped line)
        nxt = _next_word_start(text, after, end)
        return nxt < end and not text[nxt].islower()
    if after >= end or not text[after].isspace():
        return False  # "1.000", "3.5", "Th.S", "vụ…đều", or the paragraph's end (handled by the caller)
    nxt = _next_word_start(text, after, end)
    if nxt >= end:
        return False
    c = text[nxt]
    run = m.group().rstrip(_CLOSERS)
    starts_sentence = c.isupper() or c.isdigit() or (not cased and c.isalpha())
    if "!" in run or "?" in run:
        return starts_sentence or not c.islower()
    if not starts_sentence:
        return False
    if "…" in run or ".." in run:
        return True  # an ellipsis before an uppercase word ends the sentence
    word_start = m.start()
    while word_start > sent_start and not text[word_start - 1].isspace():
        word_start -= 1
    if _is_abbreviation(text[word_start : m.start()]):
        return False
    # "1. Nội dung", "II. Mục tiêu": a list marker is not a sentence of its own
    return _LIST_MARKER.fullmatch(text[sent_start : m.start()].strip()) is None


def _split_paragraph(text: str, start: int, end: int) -> list[Span]:
    out = []
    sent_start = start
    cased = any(c.isupper() for c in text[start:end])
    for m in _CANDIDATE.finditer(text, start, end):
        if m.start() < sent_start or not _is_boundary(text, m, sent_start, end, cased):
            continue
        stop = m.start() if m.group() == "\n" else m.end()
        a, b = trim_span(text, sent_start, stop)
        if a < b:
            out.append((a, b))
        sent_start = m.end()
    a, b = trim_span(text, sent_start, end)
    if a < b:
        out.append((a, b))
    return out


def _pieces(text: str, a: int, b: int, sep: re.Pattern[str]) -> list[Span]:
    """Cut [a, b) after every separator match (whitespace: at it), trimmed, empty pieces dropped."""
    out = []
    pos = a
    for m in sep.finditer(text, a, b):
        cut = m.start() if m.group().isspace() else m.end()
        out.append(trim_span(text, pos, cut))
        pos = m.end()
    out.append(trim_span(text, pos, b))
    return [(x, y) for x, y in out if x < y]


def _hard_cut(text: str, a: int, b: int, max_chars: int) -> list[Span]:
    out = []
    while b - a > max_chars:
        cut = a + max_chars
        while cut > a + 1 and unicodedata.combining(text[cut]):  # never split a letter from its marks
            cut -= 1
        out.append((a, cut))
        a = cut
    out.append((a, b))
    return out


def _limit(text: str, a: int, b: int, max_chars: int, level: int = 0) -> list[Span]:
    """Split an over-long sentence at '; ', then ', ', then spaces, packing pieces up to max_chars."""
    if b - a <= max_chars:
        return [(a, b)]
    if level == len(_SEPARATORS):
        return _hard_cut(text, a, b, max_chars)
    pieces = _pieces(text, a, b, _SEPARATORS[level])
    if len(pieces) <= 1:
        return _limit(text, a, b, max_chars, level + 1)
    out: list[Span] = []
    cur: Span | None = None
    for x, y in pieces:
        if y - x > max_chars:
            if cur:
                out.append(cur)
                cur = None
            out.extend(_limit(text, x, y, max_chars, level + 1))
        elif cur and y - cur[0] <= max_chars:
            cur = (cur[0], y)
        else:
            if cur:
                out.append(cur)
            cur = (x, y)
    if cur:
        out.append(cur)
    return out


def split_sentences(text: str, start: int = 0, end: int | None = None, max_chars: int = 400) -> list[Span]:
    """Trimmed sentence spans of text[start:end] in document offsets; none longer than max_chars.

    A blank line always ends a sentence; so does a line break unless the next line starts lowercase.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    stop = len(text) if end is None else min(end, len(text))
    out: list[Span] = []
    for pa, pb in _paragraphs(text, max(start, 0), stop):
        for sa, sb in _split_paragraph(text, pa, pb):
            out.extend(_limit(text, sa, sb, max_chars))
    return out
