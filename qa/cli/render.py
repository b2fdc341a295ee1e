"""Terminal rendering of an Answer: the answer sentence in bold yellow, matched terms underlined.

>>> colorize("abc def", 0, [Highlight(4, 7, "term")], color=False)
'abc [def]'
"""

from __future__ import annotations

import sys
from typing import Any

from qa.schema import NOT_FOUND_VI, Answer, Highlight

_STYLE = {"answer": "\033[1;33m", "term": "\033[4;36m"}
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
            out.append(_RESET + "".join(_STYLE[a] for a in active))
        elif label == "term":
            out.append("[" if kind == 0 else "]")
        else:
            out.append("«" if kind == 0 else "»")
    out.append(text[pos:])
    return "".join(out) + (_RESET if color else "")


def print_answer(ans: Answer, color: bool = False, file: Any = None) -> None:
    f = file or sys.stdout
    if ans.answer is None:
        why = ans.missing or f"độ tin cậy thấp: {ans.confidence:.2f}"
        print(f"Trả lời: {NOT_FOUND_VI}  ({why})", file=f)
    else:
        a = ans.answer
        print(f"Trả lời: {a.text}\n  — {a.doc} [{a.start}:{a.end}] (điểm {a.score:.2f})", file=f)
    for i, p in enumerate(ans.passages, 1):
        print(f"\n[{i}] {p.title} — {p.doc} [{p.start}:{p.end}] (điểm {p.score:.2f})", file=f)
        print(colorize(p.text, p.start, p.highlights, color), file=f)
