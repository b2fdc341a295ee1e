"""Section headings of a document, and the title a passage is shown under.

A passage is titled by the nearest heading at or before it, or, when none precedes it, by its own
first words: five passages of one article get five different titles, never the article's first
sentence five times. A heading is a kept block of one short line without closing punctuation
that some text follows (or a Markdown `#` line); a line the source repeats (a photo caption
printed twice) is no heading.

>>> from qa.schema import Document
>>> text = "Mở đầu bài viết. Câu thứ hai.\\n\\nKết quả nổi bật\\n\\nThu ngân sách tăng mạnh."
>>> doc = Document("a.txt", "A", text, "0" * 64, ((0, 29), (31, 46), (48, 72)))
>>> section_headings(doc)
[(31, 'Kết quả nổi bật')]
>>> section_title(doc, 48, "Thu ngân sách tăng mạnh.")
'Kết quả nổi bật'
>>> section_title(doc, 0, "Mở đầu bài viết. Câu thứ hai.")
'Mở đầu bài viết. Câu thứ hai.'
"""

from __future__ import annotations

import re

from qa.schema import Document

MAX_TITLE = 80  # characters shown; longer titles end with "…"
FIRST_WORDS = 10  # a passage without a heading before it is titled by this many of its first words
_MD = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$")
_CLOSING = tuple('.!?…:;,"”)]') + ("–", "-")
_CAPTION = re.compile(r"\b(ảnh|photo|nguồn)\s*:", re.IGNORECASE)


def _shorten(text: str, limit: int = MAX_TITLE) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:–-") + "…"


def section_headings(doc: Document) -> list[tuple[int, str]]:
    """(offset, heading) of every heading among the document's kept blocks, in order."""
    spans = list(doc.spans or ((0, len(doc.text)),))
    folded_text = doc.text.lower()
    out: list[tuple[int, str]] = []
    for k, (a, b) in enumerate(spans):
        block = doc.text[a:b].strip()
        first = block.split("\n", 1)[0].strip()
        md = _MD.match(first)
        if md:
            out.append((a, _shorten(md.group(1))))
            continue
        if "\n" in block or not block or k == len(spans) - 1:
            continue
        words = block.split()
        if not 2 <= len(words) <= 30 or len(block) > 160 or block.endswith(_CLOSING):
            continue
        if not (block[0].isupper() or block[0].isdigit()) or _CAPTION.search(block):
            continue
        if folded_text.count(block.lower()) > 1:
            continue  # printed twice: a caption under a photo, not a section
        out.append((a, _shorten(block)))
    return out


def first_words(text: str, n: int = FIRST_WORDS) -> str:
    """The first `n` words of a passage (whole, with "…" when cut).

    >>> first_words("Một hai ba bốn năm sáu", 4)
    'Một hai ba bốn…'
    """
    words = text.split()
    head = " ".join(words[:n])
    return _shorten(head + ("…" if len(words) > n else ""))


def section_title(doc: Document, start: int, text: str, headings: list[tuple[int, str]] | None = None) -> str:
    """The nearest heading at or before `start`, else the passage's own first words."""
    hs = section_headings(doc) if headings is None else headings
    best = None
    for at, title in hs:
        if at > start:
            break
        best = title
    return best if best is not None else first_words(text)
