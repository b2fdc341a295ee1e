"""The HTML of the chat and the document view: messages, source cards, the status line, the document page
(marks by qa.web.highlight; the operator page is qa.web.adminpage).

Every piece of user or document text goes through `html.escape` before our own markup is added;
the Chatbot's sanitizer (kept on) is a second line of defence, not the first.

>>> highlight_html("a <b> c", 10, [Highlight(12, 15, "answer")])
'a <mark class="qa-answer">&lt;b&gt;</mark> c'
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from qa.schema import NOT_FOUND_VI, Answer, Document, Highlight, Passage
from qa.web.confidence import BARS, TENTATIVE_PREFIX, ConfidenceLevel, confidence_level
from qa.web.highlight import highlight_html, question_terms

TITLE = "Hỏi đáp tài liệu"
CARDS_OPEN = 1  # source cards shown expanded; the rest stay folded so the chat stays readable
USER_ECHO_CHARS = 300
INTERNAL_ERROR_VI = "Đã có lỗi xảy ra khi trả lời; vui lòng thử lại."

CSS = """
.qa-answer-box,.qa-abstain,.qa-error{padding:8px 12px;border-radius:6px;border-left:4px solid}
.qa-answer-box{border-left-color:#d97706;background:rgba(251,191,36,.12)}
.qa-abstain{border-left-color:#9ca3af;background:rgba(156,163,175,.18)}
.qa-error{border-left-color:#dc2626;background:rgba(220,38,38,.08)}
.qa-label{font-size:.8em;font-weight:600;text-transform:uppercase;letter-spacing:.03em;opacity:.75}
.qa-cite{font-size:.85em;opacity:.85;margin-top:4px}
mark.qa-answer{background:#fef3c7;color:#1f2937;padding:0 1px;border-radius:2px}
mark.qa-phrase{background:#fbbf24;color:#1f2937;font-weight:600;padding:0 2px;border-radius:3px}
mark.qa-term{background:transparent;color:inherit;font-weight:600;text-decoration:underline 2px #0284c7}
mark.qa-answer mark.qa-term{color:#1f2937}
.qa-card{border:1px solid rgba(128,128,128,.35);border-radius:6px;padding:4px 10px;margin-top:6px}
.qa-card summary{cursor:pointer;font-size:.9em;list-style-position:inside}
.qa-card-title{font-weight:600}
.qa-card summary .qa-card-title{display:inline-block;max-width:calc(100% - 2em);vertical-align:bottom;
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.qa-card summary .qa-meta{display:block;margin-left:1.1em}
.qa-badge{display:inline-block;font-size:.78em;font-weight:600;padding:0 6px;margin-left:4px;border-radius:8px;
 background:#fef3c7;color:#92400e;vertical-align:middle}
.qa-resolved{font-size:.85em;opacity:.8;margin-bottom:4px}
.qa-answer-box,.qa-abstain,.qa-error,.qa-resolved,#qa-chat .message.user{scroll-margin-top:12px}
#qa-chat .icon-button-wrapper.top-panel{display:none}
footer:empty,footer:not(:has(a,button)){display:none}
.qa-meta{font-size:.85em;opacity:.8}
.qa-passage{white-space:pre-wrap;font-size:.92em;line-height:1.5;margin:4px 0}
.qa-card .qa-passage{max-height:7.5em;overflow-y:auto}
.qa-sources{font-size:.85em;font-weight:600;margin-top:8px;opacity:.8}
#qa-status{font-size:.85em;opacity:.8}
.qa-tentative{border-left-style:dashed;border-left-color:#a8a29e;background:rgba(231,229,228,.35)}
.qa-tentative mark.qa-answer{background:#f5f5f4}
.qa-tentative mark.qa-phrase{background:#e7e5e4}
.qa-conf{margin-left:.6em;text-transform:none;letter-spacing:0;font-weight:500;cursor:help}
.qa-bar{letter-spacing:1px;color:#d97706}
.qa-conf-maybe .qa-bar{color:#78716c}
.qa-h{font-weight:700}.qa-h1{font-size:1.15em}.qa-h2{font-size:1.07em}
"""

def doc_href(doc: str, start: int, end: int, answer: tuple[int, int] | None = None,
             question: str = "", phrase: tuple[int, int] | None = None) -> str:
    """Relative link to the /doc view, scrolled to [start, end) (works under any mount prefix);
    `answer` (the sentence) and `phrase` are marked there."""
    q: dict[str, Any] = {"doc": doc, "start": start, "end": end}
    if answer is not None:
        q["a_start"], q["a_end"] = answer
    if phrase is not None:
        q["p_start"], q["p_end"] = phrase
    if question:
        q["q"] = question[:300]
    return "doc?" + urlencode(q) + "#qa-focus"


def position_vi(start: int, end: int) -> str:
    return f"ký tự {start}–{end}"


def _card(i: int, p: Passage, ans: Answer, open_: bool) -> str:
    """A source card: the passage's section title, a badge on the one holding the answer, file and place.

    Cards come in the order the user reads them (the answer's passage first, then by relevance), so
    no score is printed: fused scores are not comparable across that order.
    """
    a = ans.answer
    inside = a is not None and a.doc == p.doc and a.start < p.end and a.end > p.start
    span = (a.start, a.end) if a is not None and inside else None
    phrase = (a.phrase.start, a.phrase.end) if a is not None and inside and a.phrase is not None else None
    href = doc_href(p.doc, p.start, p.end, span, ans.resolved or ans.question, phrase)
    badge = '<span class="qa-badge">chứa câu trả lời</span>' if inside else ""
    head = (f'<span class="qa-card-title" title="{html.escape(p.title)}">[{i}] {html.escape(p.title)}</span>'
            f'{badge}<span class="qa-meta">{html.escape(p.doc)} · {position_vi(p.start, p.end)}</span>')
    body = highlight_html(p.text, p.start, p.highlights)
    return (f'<details class="qa-card"{" open" if open_ else ""}><summary>{head}</summary>'
            f'<div class="qa-passage">{body}</div>'
            f'<a class="qa-open" href="{html.escape(href)}">Xem trong tài liệu ↗</a></details>')


def answer_html(ans: Answer) -> str:
    """The assistant message: answer box (or grey abstention box) then the source cards."""
    parts: list[str] = []
    if ans.resolved:  # a follow-up: say how it was understood, so a wrong guess is visible
        parts.append(f'<div class="qa-resolved">Hiểu là: “{html.escape(ans.resolved)}”</div>')
    a = ans.answer
    if a is not None:
        phrase = None if a.phrase is None else (a.phrase.start, a.phrase.end)
        href = doc_href(a.doc, a.start, a.end, (a.start, a.end), ans.resolved or ans.question, phrase)
        marks = [Highlight(a.start, a.end, "answer")]
        if a.phrase is not None:
            marks.append(Highlight(a.phrase.start, a.phrase.end, "phrase"))
        level = confidence_level(a.score, a.tentative)
        box, label = ("qa-answer-box qa-tentative", TENTATIVE_PREFIX.strip()) if a.tentative else \
            ("qa-answer-box", "Trả lời")
        parts.append(
            f'<div class="{box}"><div class="qa-label">{label}{confidence_html(level)}</div>'
            f'<div class="qa-passage">{highlight_html(a.text, a.start, marks)}</div>'
            f'<div class="qa-cite">Nguồn: {html.escape(a.doc)} · {position_vi(a.start, a.end)} · '
            f'<a class="qa-open" href="{html.escape(href)}">Xem trong tài liệu ↗</a>'
            "</div></div>")
        heading = "Nguồn"
    else:
        why = f'<div class="qa-why">Lý do: {html.escape(ans.missing)}.</div>' if ans.missing else ""
        parts.append(f'<div class="qa-abstain"><div class="qa-label">Không có câu trả lời</div>'
                     f"{html.escape(NOT_FOUND_VI)}{why}</div>")
        heading = "Đoạn gần nhất (độ tin cậy thấp)"
    if ans.passages:
        parts.append(f'<div class="qa-sources">{heading}</div>')
        parts.extend(_card(i, p, ans, i <= CARDS_OPEN) for i, p in enumerate(ans.passages, 1))
    return "".join(parts)


def confidence_html(level: ConfidenceLevel) -> str:
    """The confidence word and bar (qa.web.confidence); the number only in the tooltip.

    >>> confidence_html(confidence_level(0.9, False)).replace(' title="Xác suất đúng ước tính: 0.90"', "")
    '<span class="qa-conf qa-conf-sure"><span class="qa-bar">●●●</span> chắc chắn</span>'
    """
    bar = "●" * level.bars + "○" * (BARS - level.bars)
    return (f'<span class="qa-conf qa-conf-{level.key}" title="{html.escape(level.tooltip)}">'
            f'<span class="qa-bar">{bar}</span> {html.escape(level.word)}</span>')


def error_html(message_vi: str) -> str:
    return f'<div class="qa-error">{html.escape(message_vi)}</div>'


def user_html(question: object) -> str:
    """The user's bubble: their text, escaped and shortened (a 10,000-character paste stays readable)."""
    text = question if isinstance(question, str) else ""
    if len(text) > USER_ECHO_CHARS:
        text = text[:USER_ECHO_CHARS] + "…"
    return html.escape(text)


def status_html(status: dict[str, Any]) -> str:
    built = str(status.get("built_at") or "?").replace("T", " ").replace("+00:00", " UTC")
    model = status.get("model")
    model = "multilingual-e5-small (mặc định)" if model == "default" else model  # the embedded default
    return html.escape(f"Mô hình: {model} · {status.get('documents')} tài liệu · "
                       f"{status.get('chunks')} đoạn · {status.get('sentences')} câu · "
                       f"chỉ mục tạo lúc {built}")



def document_page(doc: Document | None, start: int, end: int, answer: tuple[int, int] | None, question: str,
                  underline: Callable[[str, int, str], list[Highlight]] | None = None,
                  phrase: tuple[int, int] | None = None) -> tuple[int, str]:
    """(status, HTML) of the whole document: focus region tinted, answer sentence, its phrase and the
    question terms marked.

    `underline(text, base, question)` marks the question's words (the service's rule: rare words
    only, as in the source cards); without it every content word of the question is marked.
    """
    if doc is None:
        return 404, _page("Không tìm thấy tài liệu", "<p>Tài liệu này không có trong chỉ mục.</p>")
    n = len(doc.text)
    start, end = sorted((min(max(start, 0), n), min(max(end, 0), n)))
    marks = [Highlight(start, end, "focus")]
    if answer is not None:
        marks.append(Highlight(max(answer[0], 0), min(answer[1], n), "answer"))
    if phrase is not None:
        marks.append(Highlight(max(phrase[0], 0), min(phrase[1], n), "phrase"))
    marks.extend(underline(doc.text, 0, question) if underline is not None and question
                 else question_terms(doc.text, question))
    body = highlight_html(doc.text, 0, marks, anchor=(start, "qa-focus"))
    head = (f"<header><h1>{html.escape(doc.title)}</h1><div class=\"qa-meta\">{html.escape(doc.doc_id)}"
            f" · {position_vi(start, end)} / {n} ký tự</div></header>")
    return 200, _page(doc.title, f"{head}<main class=\"qa-doc\">{body}</main>")


def _page(title: str, body: str) -> str:
    style = CSS + (
        "body{font-family:system-ui,sans-serif;max-width:52rem;margin:0 auto;padding:1rem 1.25rem 40vh;"
        "line-height:1.6;color:#1f2937;background:#fff}h1{font-size:1.2rem;margin:.2rem 0}"
        "header{position:sticky;top:0;background:#fff;padding:.5rem 0;border-bottom:1px solid #e5e7eb}"
        ".qa-doc{white-space:pre-wrap}"
        ".qa-focus{background:rgba(14,165,233,.10)}.qa-anchor{scroll-margin-top:30vh}")
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
            f"<style>{style}</style></head><body>{body}</body></html>")
