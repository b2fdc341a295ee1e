"""Terminal rendering of an Answer: the answer sentence in yellow with its phrase in bold on yellow,
the question's terms underlined (brackets when colour is off).

>>> colorize("abc def", 0, [Highlight(4, 7, "term")], color=False)
'abc [def]'
>>> colorize("Có gần 1000 đại biểu.", 10, [Highlight(13, 30, "phrase")], color=False)
'Có ⟦gần 1000 đại biểu⟧.'
"""

from __future__ import annotations

import sys
from typing import Any

from qa.schema import Answer, Highlight

_STYLE = {"answer": "\033[33m", "phrase": "\033[1;30;43m", "term": "\033[4;36m"}
_BRACKETS = {"answer": ("«", "»"), "phrase": ("⟦", "⟧"), "term": ("[", "]")}
_RESET = "\033[0m"


def colorize(text: str, base: int, highlights: tuple[Highlight, ...] | list[Highlight], color: bool) -> str:
    """Wrap highlighted spans (document offsets; `base` = text's start) in ANSI codes or brackets."""
    marks: list[tuple[int, int, str]] = []
    for h in highlights:
        marks.append((h.start - base, 0, h.label))
        marks.append((h.end - base, 1, h.label))
    out, pos, active = [], 0, []
    for at, kind, label in sorted(marks, key=lambda m: (m[0], -m[1])):
        out.append(text[pos:at])
        pos = at
        if kind == 0:
            active.append(label)
        elif label in active:
            active.remove(label)
        if color:
            out.append(_RESET + "".join(_STYLE.get(a, "") for a in active))
        elif label in _BRACKETS:
            out.append(_BRACKETS[label][kind])
    out.append(text[pos:])
    return "".join(out) + (_RESET if color else "")


def print_answer(ans: Answer, color: bool = False, file: Any = None) -> None:
    """The answer for a terminal, labelled in English (the documents' text stays as it is)."""
    f = file or sys.stdout
    if ans.resolved:
        print(f"Understood as: {ans.resolved}", file=f)
    if ans.answer is None:
        why = "the best passage lacks what was asked" if ans.missing else "low confidence"
        print(f"Answer: none found in the documents ({why}: {ans.confidence:.2f})", file=f)
    else:
        a = ans.answer
        marks = [Highlight(a.phrase.start, a.phrase.end, "phrase")] if a.phrase else []
        if a.phrase:
            print(f"Answer: {a.phrase.text}", file=f)
        print(f"{'  in sentence' if a.phrase else 'Answer'}: {colorize(a.text, a.start, marks, color)}\n"
              f"  — {a.doc} [{a.start}:{a.end}] (confidence {a.score:.2f})", file=f)
    for i, p in enumerate(ans.passages, 1):
        print(f"\n[{i}] {p.title} — {p.doc} [{p.start}:{p.end}]", file=f)
        print(colorize(p.text, p.start, p.highlights, color), file=f)
