"""Phrase boundaries: whole words, no stray punctuation at the edges, brackets and quotes in pairs.

The reader predicts token spans, and a sub-word token can start or end mid-word; a span can also
open a bracket it never closes ("một xã (gmina"). `tidy_phrase` widens a span to whole words,
trims punctuation at its edges and either closes an open bracket (when the closing one follows
within a few words) or cuts the phrase before it. `boundary_faults` names what is wrong with a
phrase, for the evaluation's before → after table.

>>> t = "Ông làm việc ở một xã (gmina) của Ba Lan, cách Warszawa 20 km."
>>> t[slice(*tidy_phrase(t, 15, 28))]
'một xã (gmina)'
>>> t[slice(*tidy_phrase(t, 17, 20))]  # "t xã" widened to whole words
'một xã'
>>> boundary_faults(t, 15, 28), boundary_faults(t, 17, 20), boundary_faults(t, 15, 29)
(('bracket',), ('inside_word',), ())
>>> t2 = "«Lê Văn Thành», Chủ tịch"
>>> t2[slice(*tidy_phrase(t2, 0, 15))]
'«Lê Văn Thành»'
"""

from __future__ import annotations

_PAIRS = {"(": ")", "[": "]", "«": "»", "“": "”", "‘": "’"}
_CLOSERS = {v: k for k, v in _PAIRS.items()}
_EDGE = " \t\n,;:.!?…-–—"
_QUOTES = "\"'"
_REACH = 40  # characters after the span within which a missing closing bracket is looked for


def _word(c: str) -> bool:
    return c.isalnum()


def _unbalanced(text: str) -> tuple[int, int] | None:
    """(position, +1 open / -1 close) of the first bracket or quote without its partner, or None."""
    stack: list[int] = []
    for k, c in enumerate(text):
        if c in _PAIRS:
            stack.append(k)
        elif c in _CLOSERS:
            if stack and text[stack[-1]] == _CLOSERS[c]:
                stack.pop()
            else:
                return k, -1
    if stack:
        return stack[0], +1
    for q in _QUOTES:
        if text.count(q) % 2:
            return text.index(q) if text.startswith(q) else text.rindex(q), +1 if text.startswith(q) else -1
    return None


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start] in _EDGE or text[start] in _CLOSERS):
        start += 1
    while end > start and (text[end - 1] in _EDGE or text[end - 1] in _PAIRS):
        end -= 1
    return start, end


def tidy_phrase(text: str, start: int, end: int) -> tuple[int, int]:
    """The span [start, end) of `text` widened to whole words, trimmed, with its brackets balanced."""
    start, end = _trim(text, start, end)
    if start >= end:
        return start, start
    while start > 0 and _word(text[start - 1]) and _word(text[start]):
        start -= 1
    while end < len(text) and _word(text[end - 1]) and _word(text[end]):
        end += 1
    for _ in range(4):  # each pass settles one bracket
        fault = _unbalanced(text[start:end])
        if fault is None:
            break
        at, kind = fault
        if kind > 0:
            opener = text[start + at]
            closer = _PAIRS.get(opener, opener)
            close = text.find(closer, end, end + _REACH)
            if close >= 0 and "\n" not in text[end:close]:
                end = close + 1
            else:
                start, end = (start + at + 1, end) if at == 0 else (start, start + at)
        elif at == end - start - 1:
            end -= 1  # a stray closing bracket at the end
        else:
            opener = _CLOSERS.get(text[start + at], text[start + at])
            open_at = text.rfind(opener, max(0, start - _REACH), start)
            start = open_at if open_at >= 0 and "\n" not in text[open_at:start] else start + at + 1
        start, end = _trim(text, start, end) if _unbalanced(text[start:end]) is not None else (start, end)
    return start, end


def boundary_faults(text: str, start: int, end: int) -> tuple[str, ...]:
    """What is wrong with the phrase text[start:end]: 'inside_word' (it starts or ends mid-word),
    'bracket' (it cuts a bracket or quote pair)."""
    out = []
    if start < end and ((start > 0 and _word(text[start - 1]) and _word(text[start]))
                        or (end < len(text) and _word(text[end - 1]) and _word(text[end]))):
        out.append("inside_word")
    if _unbalanced(text[start:end]) is not None:
        out.append("bracket")
    return tuple(out)


def runs_past_comma(phrase: str, golds: list[str]) -> bool:
    """The phrase holds a clause comma that no gold answer holds ("60 nghìn tỷ đồng, trong đó thu …").

    >>> runs_past_comma("hơn 60 nghìn tỷ đồng, trong đó thu nội địa", ["hơn 60 nghìn tỷ đồng"])
    True
    """
    return ", " in phrase and not any(", " in g for g in golds)
