"""Document text as HTML with marks: the answer sentence, its phrase, the question's terms, a focus.

Marks nest (focus ⊃ answer ⊃ phrase ⊃ term) and may overlap in any way; Markdown heading lines show
as headings without their `#`s, and a term mark never runs across a line break or hidden markup.
Every piece of text goes through `html.escape` before our own markup is added.

>>> highlight_html("a <b> c", 10, [Highlight(12, 15, "answer")])
'a <mark class="qa-answer">&lt;b&gt;</mark> c'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from qa.answer.terms import question_spellings, term_highlights
from qa.schema import Highlight

# outermost first
_WRAP = (("focus", '<span class="qa-focus">', "</span>"), ("answer", '<mark class="qa-answer">', "</mark>"),
         ("phrase", '<mark class="qa-phrase">', "</mark>"), ("term", '<mark class="qa-term">', "</mark>"))
# a Markdown heading line: its `#` markers (hidden) and its text (shown as a heading)
_MD_HEADING = re.compile(r"^[ \t]*(#{1,6})[ \t]+(\S[^\n]*?)[ \t#]*$", re.MULTILINE)


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def markdown_headings(text: str) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """((start, end, level) of each Markdown heading's text, (start, end) of the markup to hide).

    >>> markdown_headings("# Tesla\\n\\nÔng sinh năm 1856.\\n## Phần 1 ##")
    ([(2, 7, 1), (31, 37, 2)], [(0, 2), (28, 31), (37, 40)])
    """
    heads, hidden = [], []
    for m in _MD_HEADING.finditer(text):
        heads.append((m.start(2), m.end(2), len(m.group(1))))
        hidden.append((m.start(), m.start(2)))
        if m.end(2) < m.end():
            hidden.append((m.end(2), m.end()))
    return heads, hidden


def _cut(spans: list[tuple[int, int]], text: str, hidden: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans` split at line breaks and with hidden markup removed (a term mark never spans two lines)."""
    out = []
    for s, e in spans:
        pos = s
        cuts = sorted([*(h for h in hidden if h[0] < e and h[1] > s),
                       *((i, i + 1) for i in range(s, e) if text[i] == "\n")])
        for a, b in cuts:
            if a > pos and text[pos:a].strip():
                out.append((pos, a))
            pos = max(pos, b)
        if e > pos and text[pos:e].strip():
            out.append((pos, e))
    return out


def highlight_html(text: str, base: int, highlights: Iterable[Highlight],
                   anchor: tuple[int, str] | None = None) -> str:
    """Escaped `text` (starting at document offset `base`) with <mark class="qa-answer|qa-phrase|qa-term"> spans.

    Labels nest focus > answer > phrase > term, so one answer sentence is one <mark> with the answer
    phrase and the question's terms inside. Markdown heading lines show as headings, without
    their `#`; a term mark stops at a line break.
    `anchor=(offset, id)` drops an empty <a id> at that document offset, the scroll target of /doc.

    >>> out = highlight_html("## Tesla\\nTesla", 0, [Highlight(3, 14, "term")])
    >>> out.replace(' role="heading" aria-level="2"', "")
    '<span class="qa-h qa-h2"><mark class="qa-term">Tesla</mark></span>\\n<mark class="qa-term">Tesla</mark>'
    """
    heads, hidden = markdown_headings(text)
    by_label: dict[str, list[tuple[int, int]]] = {}
    for h in highlights:
        s, e = max(h.start - base, 0), min(h.end - base, len(text))
        if s < e:
            by_label.setdefault(h.label, []).append((s, e))
    # per level: spans, the opening tag of each, the closing tag
    levels = [([(s, e) for s, e, _ in heads],
               [f'<span class="qa-h qa-h{k}" role="heading" aria-level="{k}">' for _, _, k in heads], "</span>")]
    for lab, open_, close in _WRAP:
        spans = _union(by_label.get(lab, []))
        if lab == "term":
            spans = _cut(spans, text, hidden)
        levels.append((spans, [open_] * len(spans), close))
    at = None if anchor is None else min(max(anchor[0] - base, 0), len(text))
    tag = "" if anchor is None else f'<a id="{html.escape(anchor[1])}" class="qa-anchor"></a>'
    placed = False

    def shown(a: int, b: int) -> str:
        out, pos = [], a
        for s, e in hidden:
            if s < b and e > pos:
                out.append(html.escape(text[pos:max(s, pos)]))
                pos = min(e, b)
        out.append(html.escape(text[pos:b]))
        return "".join(out)

    def leaf(a: int, b: int) -> str:
        nonlocal placed
        if at is not None and not placed and a <= at <= b:
            placed = True
            return shown(a, at) + tag + shown(at, b)
        return shown(a, b)

    def render(a: int, b: int, level: int) -> str:
        if level == len(levels):
            return leaf(a, b)
        spans, opens, close = levels[level]
        out, pos = [], a
        for (s, e), open_ in zip(spans, opens, strict=True):
            s, e = max(s, a), min(e, b)
            if s >= e:
                continue
            out += [render(pos, s, level + 1), open_, render(s, e, level + 1), close]
            pos = e
        out.append(render(pos, b, level + 1))
        return "".join(out)

    return render(0, len(text), 0)


def question_terms(text: str, question: str) -> list[Highlight]:
    """Term highlights of `question`'s content words in `text`, by the rule the answerer uses for passages."""
    return term_highlights(text, 0, question_spellings(question))
