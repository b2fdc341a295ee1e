"""Chat rendering (qa.web.pages): highlighted answer, escaped source cards, the abstention box."""

from __future__ import annotations

from dataclasses import replace

from qa.schema import NOT_FOUND_VI, Answer, AnswerSpan, Highlight, Passage, Phrase
from qa.web.highlight import highlight_html
from qa.web.pages import answer_html


def test_highlight_html_escapes_and_nests_marks() -> None:
    hl = [Highlight(12, 20, "answer"), Highlight(14, 15, "term")]
    assert highlight_html("x <i>y</i> & more", 10, hl) == (
        'x <mark class="qa-answer">&lt;i<mark class="qa-term">&gt;</mark>y&lt;/i&gt;</mark> &amp; more')
    with_anchor = highlight_html("abcd", 100, [Highlight(101, 103, "answer")], anchor=(102, "here"))
    assert with_anchor == 'a<mark class="qa-answer">b<a id="here" class="qa-anchor"></a>c</mark>d'


def _answer(abstain: bool) -> Answer:
    text = "Hà Nội là <thủ đô>."
    p = Passage("a.txt", "Tiêu đề <1>", "Mở đầu. " + text, 100, 100 + 8 + len(text), 0.5,
                (Highlight(108, 108 + len(text), "answer"), Highlight(108, 111, "term")))
    span = None if abstain else AnswerSpan(text, "a.txt", 108, 108 + len(text), 0.9)
    return Answer("q <script>", span, (p,), 0.9)


def test_answer_html_shows_highlighted_answer_and_escaped_source_card() -> None:
    out = answer_html(_answer(abstain=False))
    assert '<div class="qa-answer-box">' in out and "qa-abstain" not in out
    assert '<mark class="qa-answer">Hà Nội là &lt;thủ đô&gt;.</mark>' in out
    assert "Tiêu đề &lt;1&gt;" in out and "a.txt · ký tự 100–127" in out
    assert '<mark class="qa-answer"><mark class="qa-term">Hà </mark>Nội là &lt;thủ đô&gt;.</mark>' in out
    href = "doc?doc=a.txt&amp;start=108&amp;end=127&amp;a_start=108&amp;a_end=127&amp;q=q+%3Cscript%3E"
    href += "#qa-focus"
    assert f'href="{href}"' in out
    assert "<script" not in out and "<thủ" not in out


def test_abstention_looks_different() -> None:
    out = answer_html(_answer(abstain=True))
    assert '<div class="qa-abstain">' in out and "qa-answer-box" not in out
    assert NOT_FOUND_VI in out and "Đoạn gần nhất (độ tin cậy thấp)" in out
    assert "qa-why" not in out


def test_abstention_says_what_the_passages_lack_escaped() -> None:
    out = answer_html(replace(_answer(abstain=True), missing="tài liệu không nhắc đến “<Hà Nội>”"))
    assert '<div class="qa-why">Lý do: tài liệu không nhắc đến “&lt;Hà Nội&gt;”.</div>' in out


def test_phrase_is_marked_inside_the_answer_sentence() -> None:
    ans = _answer(abstain=False)
    assert ans.answer is not None
    phrased = replace(ans, answer=replace(ans.answer, phrase=Phrase("<thủ đô>", 118, 126)))
    out = answer_html(phrased)
    assert ('<mark class="qa-answer">Hà Nội là <mark class="qa-phrase">&lt;thủ đô&gt;</mark>.</mark>'
            in out)
    # a card's highlights nest the same way: answer > phrase > term
    hl = [Highlight(10, 20, "answer"), Highlight(13, 16, "phrase"), Highlight(14, 15, "term")]
    assert highlight_html("0123456789abcdefghij", 0, hl) == (
        '0123456789<mark class="qa-answer">abc<mark class="qa-phrase">d<mark class="qa-term">e</mark>f'
        '</mark>ghij</mark>')
