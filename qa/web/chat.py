"""The Gradio chat (Vietnamese): answers with highlighted sentences, source cards and a status line.

Every piece of user or document text goes through `html.escape` before our own markup is added;
the Chatbot's sanitizer (kept on) is a second line of defence, not the first.

>>> highlight_html("a <b> c", 10, [Highlight(12, 15, "answer")])
'a <mark class="qa-answer">&lt;b&gt;</mark> c'
"""

from __future__ import annotations

import html
import logging
import typing
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from qa.errors import InputError
from qa.schema import NOT_FOUND_VI, Answer, Highlight, Passage

if TYPE_CHECKING:
    import gradio as gr

    from qa.service import QAService

TITLE = "Hỏi đáp tài liệu"
CARDS_OPEN = 1  # source cards shown expanded; the rest stay folded so the chat stays readable
USER_ECHO_CHARS = 300
INTERNAL_ERROR_VI = "Đã có lỗi xảy ra khi trả lời; vui lòng thử lại."
log = logging.getLogger("qa.web.chat")

CSS = """
.qa-answer-box,.qa-abstain,.qa-error{padding:8px 12px;border-radius:6px;border-left:4px solid}
.qa-answer-box{border-left-color:#d97706;background:rgba(251,191,36,.12)}
.qa-abstain{border-left-color:#9ca3af;background:rgba(156,163,175,.18)}
.qa-error{border-left-color:#dc2626;background:rgba(220,38,38,.08)}
.qa-label{font-size:.8em;font-weight:600;text-transform:uppercase;letter-spacing:.03em;opacity:.75}
.qa-cite{font-size:.85em;opacity:.85;margin-top:4px}
mark.qa-answer{background:#fde68a;color:#1f2937;padding:0 1px;border-radius:2px}
mark.qa-term{background:transparent;color:inherit;font-weight:600;text-decoration:underline 2px #0284c7}
mark.qa-answer mark.qa-term{color:#1f2937}
.qa-card{border:1px solid rgba(128,128,128,.35);border-radius:6px;padding:4px 10px;margin-top:6px}
.qa-card summary{cursor:pointer;font-size:.9em}
.qa-meta{font-size:.85em;opacity:.8}
.qa-passage{white-space:pre-wrap;font-size:.92em;line-height:1.5;margin:4px 0}
.qa-card .qa-passage{max-height:7.5em;overflow-y:auto}
.qa-sources{font-size:.85em;font-weight:600;margin-top:8px;opacity:.8}
#qa-status{font-size:.85em;opacity:.8}
"""


_WRAP = (("focus", '<span class="qa-focus">', "</span>"), ("answer", '<mark class="qa-answer">', "</mark>"),
         ("term", '<mark class="qa-term">', "</mark>"))  # outermost first


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def highlight_html(text: str, base: int, highlights: Iterable[Highlight],
                   anchor: tuple[int, str] | None = None) -> str:
    """Escaped `text` (starting at document offset `base`) with <mark class="qa-answer|qa-term"> spans.

    Labels nest focus > answer > term, so one answer sentence is one <mark> with its terms inside.
    `anchor=(offset, id)` drops an empty <a id> at that document offset, the scroll target of /doc.
    """
    by_label: dict[str, list[tuple[int, int]]] = {}
    for h in highlights:
        s, e = max(h.start - base, 0), min(h.end - base, len(text))
        if s < e:
            by_label.setdefault(h.label, []).append((s, e))
    levels = [(_union(by_label.get(lab, [])), open_, close) for lab, open_, close in _WRAP]
    at = None if anchor is None else min(max(anchor[0] - base, 0), len(text))
    tag = "" if anchor is None else f'<a id="{html.escape(anchor[1])}" class="qa-anchor"></a>'
    placed = False

    def leaf(a: int, b: int) -> str:
        nonlocal placed
        if at is not None and not placed and a <= at <= b:
            placed = True
            return html.escape(text[a:at]) + tag + html.escape(text[at:b])
        return html.escape(text[a:b])

    def render(a: int, b: int, level: int) -> str:
        if level == len(levels):
            return leaf(a, b)
        spans, open_, close = levels[level]
        out, pos = [], a
        for s, e in spans:
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
    from qa.answer.answerer import question_spellings, term_highlights

    return term_highlights(text, 0, question_spellings(question))


def doc_href(doc: str, start: int, end: int, answer: tuple[int, int] | None = None,
             question: str = "") -> str:
    """Relative link to the /doc view, scrolled to [start, end) (works under any mount prefix)."""
    q: dict[str, Any] = {"doc": doc, "start": start, "end": end}
    if answer is not None:
        q["a_start"], q["a_end"] = answer
    if question:
        q["q"] = question[:300]
    return "doc?" + urlencode(q) + "#qa-focus"


def position_vi(start: int, end: int) -> str:
    return f"ký tự {start}–{end}"


def _card(i: int, p: Passage, ans: Answer, open_: bool) -> str:
    a = ans.answer
    inside = a is not None and a.doc == p.doc and a.start < p.end and a.end > p.start
    span = (a.start, a.end) if a is not None and inside else None
    href = doc_href(p.doc, p.start, p.end, span, ans.question)
    head = (f"<b>[{i}] {html.escape(p.title)}</b> <span class=\"qa-meta\">· {html.escape(p.doc)} · "
            f"{position_vi(p.start, p.end)} · điểm {p.score:.2f}</span>")
    body = highlight_html(p.text, p.start, p.highlights)
    return (f'<details class="qa-card"{" open" if open_ else ""}><summary>{head}</summary>'
            f'<div class="qa-passage">{body}</div>'
            f'<a class="qa-open" href="{html.escape(href)}">Xem trong tài liệu ↗</a></details>')


def answer_html(ans: Answer) -> str:
    """The assistant message: answer box (or grey abstention box) then the source cards."""
    parts: list[str] = []
    a = ans.answer
    if a is not None:
        href = doc_href(a.doc, a.start, a.end, (a.start, a.end), ans.question)
        parts.append(
            '<div class="qa-answer-box"><div class="qa-label">Trả lời</div>'
            f'<div class="qa-passage"><mark class="qa-answer">{html.escape(a.text)}</mark></div>'
            f'<div class="qa-cite">Nguồn: {html.escape(a.doc)} · {position_vi(a.start, a.end)} · '
            f'độ tin cậy {a.score:.2f} · <a class="qa-open" href="{html.escape(href)}">'
            "Xem trong tài liệu ↗</a>"
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


def chat_turn(service: QAService, question: object, history: Sequence[Any] | None,
              top_k: int = 5) -> list[dict[str, Any]]:
    """History plus one exchange; bad input becomes a Vietnamese message, never a traceback."""
    turn = list(history or [])
    if isinstance(question, str) and question.strip():
        turn.append({"role": "user", "content": user_html(question)})
    try:
        ans = service.ask(question, top_k=top_k)
    except InputError as e:
        turn.append({"role": "assistant", "content": error_html(e.message_vi)})
        return turn
    except Exception:  # the log keeps the traceback; the chat gets a sentence
        log.exception("chat question failed")
        turn.append({"role": "assistant", "content": error_html(INTERNAL_ERROR_VI)})
        return turn
    turn.append({"role": "assistant", "content": answer_html(ans)})
    return turn


def api_ask(service: QAService, question: object, top_k: object = 5) -> dict[str, Any]:
    """The pinned `/ask` endpoint: the `qa ask --json` object; bad input -> gr.Error(message_vi)."""
    import gradio as gr

    if isinstance(top_k, float) and top_k.is_integer():
        top_k = int(top_k)  # JSON numbers from JS clients may arrive as 5.0
    try:
        return service.ask(question, top_k=top_k).to_dict()  # type: ignore[arg-type]
    except InputError as e:
        raise gr.Error(e.message_vi) from e


def build_demo(service: QAService) -> gr.Blocks:
    """The chat UI over `service`; mount it with `qa.web.app.create_app` (or `demo.launch()`)."""
    import gradio as gr

    examples = service.example_questions(4)
    with gr.Blocks(title=TITLE, fill_width=False) as demo:
        gr.Markdown(f"## {TITLE}\nĐặt câu hỏi bằng tiếng Việt; câu trả lời được trích nguyên văn "
                    "từ tài liệu, kèm nguồn và vị trí.")
        gr.HTML(status_html(service.status()), elem_id="qa-status")
        chatbot = gr.Chatbot(label="Hội thoại", elem_id="qa-chat", height=660, render_markdown=False,
                             latex_delimiters=[], sanitize_html=True, feedback_options=None,
                             buttons=["copy"], placeholder="Hỏi bất cứ điều gì về các tài liệu đã nạp.")
        with gr.Row():
            box = gr.Textbox(placeholder="Nhập câu hỏi…", show_label=False, scale=8, elem_id="qa-input",
                             autofocus=True, max_lines=4)
            send = gr.Button("Gửi", variant="primary", scale=1, elem_id="qa-send")
            clear = gr.Button("Xóa hội thoại", scale=1, elem_id="qa-clear")
        samples = gr.Dataset(components=[box], samples=[[q] for q in examples], label="Câu hỏi gợi ý",
                             visible=bool(examples), elem_id="qa-examples")

        def respond(question: str, history: list[Any]) -> tuple[str, list[dict[str, Any]]]:
            return "", chat_turn(service, question, history)

        def respond_example(sample: list[str], history: list[Any]) -> tuple[str, list[dict[str, Any]]]:
            return "", chat_turn(service, sample[0] if sample else "", history)

        for trigger in (box.submit, send.click):
            trigger(respond, [box, chatbot], [box, chatbot], api_visibility="private")
        samples.click(respond_example, [samples, chatbot], [box, chatbot], api_visibility="private")
        clear.click(lambda: ("", []), None, [box, chatbot], api_visibility="private")

        def ask(question: str, top_k: int = 5) -> dict:
            """Answer a question: the same JSON object as `qa ask --json`."""
            return api_ask(service, question, top_k)

        ask.__annotations__ = typing.get_type_hints(ask)  # real types, not strings, for the API schema
        gr.api(ask, api_name="ask")
    demo.queue(default_concurrency_limit=4)
    return demo
