"""Markdown-aware text: headings rendered as headings (no `#`), term marks within one line, no heading
questions among the examples, the phrase marked in the document view."""

from __future__ import annotations

import re

from qa.schema import Document, Highlight
from qa.web.examples import example_questions
from qa.web.highlight import highlight_html, markdown_headings
from qa.web.pages import document_page

TEXT = ("# Nikola Tesla\n\n## Phần 1: Các tác phẩm của Luther\n\n"
        "Nikola Tesla là một nhà phát minh người Serbia. Tesla sinh năm 1856 tại làng Smiljan.\n\n"
        "# Người Huguenot\n\nNgười Huguenot là những người Tin Lành ở Pháp.")


def _doc() -> Document:
    spans, pos = [], 0
    for block in TEXT.split("\n\n"):
        spans.append((pos, pos + len(block)))
        pos += len(block) + 2
    return Document("tesla.md", "Nikola Tesla", TEXT, "0" * 64, tuple(spans))


def test_headings_and_the_markup_to_hide() -> None:
    heads, hidden = markdown_headings(TEXT)
    assert [TEXT[s:e] for s, e, _ in heads] == ["Nikola Tesla", "Phần 1: Các tác phẩm của Luther", "Người Huguenot"]
    assert [k for _, _, k in heads] == [1, 2, 1]
    assert all(set(TEXT[s:e].strip()) == {"#"} for s, e in hidden)


def test_rendered_text_has_headings_not_hashes() -> None:
    out = highlight_html(TEXT, 0, [])
    assert "#" not in out
    assert '<span class="qa-h qa-h1" role="heading" aria-level="1">Nikola Tesla</span>' in out
    assert '<span class="qa-h qa-h2" role="heading" aria-level="2">Phần 1: Các tác phẩm của Luther</span>' in out
    # a passage that starts inside the text keeps document offsets
    part = highlight_html(TEXT[16:], 16, [Highlight(16 + 3, 16 + 7, "term")])
    assert part.startswith('<span class="qa-h qa-h2" role="heading" aria-level="2"><mark class="qa-term">Phần</mark> 1')


def test_a_term_mark_never_crosses_a_line_break() -> None:
    across = Highlight(TEXT.index("Tesla"), TEXT.index("Phần") + 4, "term")  # "Tesla\n\n## Phần"
    out = highlight_html(TEXT, 0, [across])
    marks = re.findall(r'<mark class="qa-term">(.*?)</mark>', out, re.DOTALL)
    assert marks == ["Tesla", "Phần"]


def test_headings_never_become_example_questions() -> None:
    qs = example_questions([_doc()], 6)
    assert qs and all("#" not in q for q in qs)
    assert not any("Phần 1" in q or "như thế nào" in q for q in qs)
    assert "Nikola Tesla là ai?" in qs and "Người Huguenot là gì?" in qs


def test_the_document_view_marks_the_phrase_and_renders_headings() -> None:
    doc = _doc()
    s = TEXT.index("Tesla sinh")
    e = TEXT.index("Smiljan.") + len("Smiljan.")
    ps = TEXT.index("1856")
    status, page = document_page(doc, s, e, (s, e), "Tesla sinh năm nào?", phrase=(ps, ps + 4))
    assert status == 200
    assert '<mark class="qa-phrase">1856</mark>' in page
    assert "# Nikola" not in page and "## Phần" not in page and 'aria-level="2"' in page
