"""Every piece of HTML the app renders: chat messages, source cards, the status line, the document page.

Every piece of user or document text goes through `html.escape` before our own markup is added;
the Chatbot's sanitizer (kept on) is a second line of defence, not the first.

>>> highlight_html("a <b> c", 10, [Highlight(12, 15, "answer")])
'a <mark class="qa-answer">&lt;b&gt;</mark> c'
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from qa.answer.terms import question_spellings, term_highlights
from qa.schema import NOT_FOUND_VI, Answer, Document, Highlight, Passage
from qa.web.confidence import BARS, TENTATIVE_PREFIX, ConfidenceLevel, confidence_level

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


ADMIN_TITLE = "Quản trị tài liệu"
_ADMIN_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:60rem;margin:0 auto;
 padding:1rem 1.25rem 4rem;line-height:1.5;color:#1f2937;background:#fff}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
section{border-top:1px solid #e5e7eb}
button{padding:6px 12px;border:1px solid #d1d5db;border-radius:6px;background:#f9fafb;color:#111827;
 font-size:.95rem;cursor:pointer}
button.primary{background:#d97706;border-color:#d97706;color:#fff}
button.danger{color:#b91c1c}
button:disabled{opacity:.55;cursor:default}
input[type=password]{padding:6px 8px;border:1px solid #d1d5db;border-radius:6px;font-size:.95rem;width:18rem;
 max-width:100%}
progress{width:min(28rem,100%);height:1rem;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top}
td.name{word-break:break-all}
.state-indexed{color:#047857}.state-new,.state-changed,.state-removed{color:#b45309}
.state-unreadable{color:#b91c1c}
.qa-meta{font-size:.88em;color:#4b5563}
.qa-error{padding:8px 12px;border-radius:6px;border-left:4px solid #dc2626;background:rgba(220,38,38,.08)}
.ok{color:#047857}.bad{color:#b91c1c}
#upload-log{padding-left:1.2rem;font-size:.92rem}
pre{white-space:pre-wrap;font-size:.85rem;background:#f9fafb;padding:8px;border-radius:6px}
"""


def admin_page() -> str:
    """The operator page's HTML: a static shell; /admin/admin.js fills it over /admin/api/* (text only)."""
    formats = " ".join(".txt .md .html .pdf .docx".split())
    body = f"""
<header><h1>{ADMIN_TITLE}</h1><div id="index-status" class="qa-meta" aria-live="polite"></div></header>
<section id="login">
  <h2>Đăng nhập</h2>
  <form id="login-form" autocomplete="off">
    <label>Mã quản trị (QA_ADMIN_TOKEN)
      <input type="password" id="token" autocomplete="current-password" required></label>
    <button type="submit" class="primary">Đăng nhập</button>
  </form>
  <p id="login-error" class="qa-error" hidden></p>
</section>
<main id="panel" hidden>
  <section>
    <h2>Tải tài liệu lên</h2>
    <form id="upload-form">
      <input type="file" id="files" multiple accept=".txt,.md,.html,.htm,.pdf,.docx">
      <button type="submit" id="upload" class="primary">Tải lên</button>
    </form>
    <p class="qa-meta">Định dạng: {formats} · tối đa <span id="max-mb">?</span> MB mỗi tệp. Sau mỗi lần tải lên
      hoặc xóa, chỉ mục được cập nhật tự động; trang hỏi đáp dùng chỉ mục mới ngay khi xong, không cần
      khởi động lại.</p>
    <ul id="upload-log" aria-live="polite"></ul>
  </section>
  <section>
    <h2>Chỉ mục</h2>
    <p><button type="button" id="update">Cập nhật chỉ mục</button>
       <button type="button" id="rebuild">Tạo lại toàn bộ</button></p>
    <div id="job"><progress id="job-bar" max="1" value="0"></progress> <span id="job-text">Chưa có tác vụ.</span></div>
    <details id="job-detail" hidden><summary>Chi tiết</summary><pre id="job-error"></pre></details>
  </section>
  <section>
    <h2>Tài liệu (<span id="doc-count">0</span>)</h2>
    <table id="docs"><thead><tr><th>Tên</th><th>Kích thước</th><th>Trạng thái</th><th></th></tr></thead>
    <tbody></tbody></table>
    <p class="qa-meta">Tài liệu bị xóa được chuyển vào thư mục <code>.removed</code> trong thư mục tài liệu,
      không mất.</p>
  </section>
  <p><button type="button" id="logout">Đăng xuất</button> · <a href="../">Về trang hỏi đáp</a></p>
</main>
<script src="admin.js" defer></script>"""
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">'
            f"<title>{ADMIN_TITLE}</title><style>{_ADMIN_CSS}</style></head><body>{body}</body></html>")
