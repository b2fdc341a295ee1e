"""The Gradio chat (Vietnamese): a turn of the conversation, the pinned `/ask` API endpoint, the Blocks UI.

The HTML of each message comes from qa.web.pages; bad input becomes a Vietnamese message, never a
traceback::

    demo = build_demo(service)     # mount with qa.web.app.create_app, or demo.launch()
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qa.errors import InputError
from qa.web.examples import example_questions
from qa.web.pages import INTERNAL_ERROR_VI, TITLE, answer_html, error_html, status_html, user_html
from qa.web.security import log_rejected

if TYPE_CHECKING:
    import gradio as gr

    from qa.service import QAService

log = logging.getLogger("qa.web.chat")


# After an answer arrives, bring the question and the top of its answer into view (on a phone the chat
# would otherwise show the bottom of the last source card, not the answer); when the question is too
# long to leave the answer's first lines in view, the answer goes to the top instead.
# Set once the page's load event has run through Gradio's queue: from then on a question sent is
# taken (a click before the app finished mounting can be dropped). Monitoring and the browser tests
# wait for `html[data-qa-ready]`.
READY_JS = "() => { document.documentElement.dataset.qaReady = '1'; }"
SCROLL_TO_ANSWER_JS = """() => { setTimeout(() => {
  const msgs = document.querySelectorAll('#qa-chat .qa-answer-box, #qa-chat .qa-abstain, #qa-chat .qa-error');
  const last = msgs[msgs.length - 1];
  if (!last) return;
  const block = last.closest('.message-row, .message-wrap > div, [data-testid="bot"]') || last;
  const head = block.querySelector('.qa-resolved') || last;
  const users = document.querySelectorAll('#qa-chat .message.user');
  const asked = users[users.length - 1];
  const view = document.querySelector('#qa-chat [role="log"]') || document.documentElement;
  const gap = asked ? head.getBoundingClientRect().top - asked.getBoundingClientRect().top : -1;
  const target = gap > 0 && gap < view.clientHeight * 0.35 ? asked : head;
  target.scrollIntoView({block: 'start', behavior: 'instant'});
}, 60); }"""

# Gradio's own English labels, in Vietnamese; each message's accessible label as plain text (Gradio
# labels a message "bot's message: " + its raw HTML, which a screen reader reads out tag by tag).
# Runs once on page load and keeps the labels right as messages arrive.
VIETNAMESE_LABELS_JS = """() => {
  const VI = {"Clear": "Xóa hội thoại", "Copy message": "Sao chép tin nhắn", "Copied message": "Đã sao chép",
    "chatbot conversation": "Hội thoại", "Scroll down": "Cuộn xuống", "Copy all messages": "Sao chép tất cả",
    "Copy": "Sao chép", "Copied!": "Đã sao chép", "Gradio footer navigation": "Chân trang",
    "Share": "Chia sẻ", "Loading...": "Đang tải…"};
  const text = el => (el ? el.textContent : '').replace(/\\s+/g, ' ').trim();
  const plain = el => {  // "Trả lời (chắc chắn): <answer>. Nguồn: …" — the answer box, not the cards
    const box = el.querySelector('.qa-answer-box, .qa-abstain, .qa-error');
    let t;
    if (!box) t = text(el);
    else if (box.classList.contains('qa-error')) t = 'Lỗi: ' + text(box);
    else {
      const c = box.cloneNode(true), conf = c.querySelector('.qa-conf');
      if (conf) conf.remove();
      const label = c.querySelector('.qa-label');
      if (label) label.remove();
      const word = conf ? ' (' + text(conf).replace(/^[●○]+ */, '') + ')' : '';
      t = text(label).replace(/:$/, '') + word + ': ' +
          [...c.children].map(text).filter(Boolean).join('. ').replace(/ ?↗/g, '');
    }
    return t.length > 300 ? t.slice(0, 299) + '…' : t;
  };
  const fix = () => {
    document.querySelectorAll('[aria-label], [title]').forEach(el => {
      for (const attr of ['aria-label', 'title']) {
        const v = el.getAttribute(attr);
        if (v == null) continue;
        const m = /^(user|bot|assistant)'s message: /.exec(v);
        if (m) el.dataset.qaRole = m[1] === 'user' ? 'Câu hỏi: ' : 'Hệ thống: ';
        // a message's text can arrive after its label: recompute it for every message seen
        const want = el.dataset.qaRole && attr === 'aria-label' ? el.dataset.qaRole + plain(el) : VI[v];
        if (want !== undefined && want !== v) el.setAttribute(attr, want);
      }
    });
  };
  new MutationObserver(fix).observe(document.body, {subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ['aria-label', 'title']});
  fix();
}"""
MAX_TURNS = 8  # previous questions the chat sends along for follow-ups


def chat_turn(service: QAService, question: object, history: Sequence[Any] | None,
              top_k: int = 5, questions: list[str] | None = None) -> list[dict[str, Any]]:
    """History plus one exchange; bad input becomes a Vietnamese message, never a traceback.

    `questions`: the conversation's previous questions (oldest first), for follow-ups; the caller
    appends this one when it was answered (see `build_demo`).
    """
    turn = list(history or [])
    if isinstance(question, str) and question.strip():
        turn.append({"role": "user", "content": user_html(question)})
    try:
        if questions:
            ans = service.ask(question, top_k=top_k, history=list(questions[-MAX_TURNS:]))
        else:
            ans = service.ask(question, top_k=top_k)
    except InputError as e:
        log_rejected(log, "chat", 400, e)
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
    except InputError as e:  # one log line; Gradio would print the error's traceback and its cause's
        log_rejected(log, "Gradio /ask", 400, e)
        raise gr.Error(e.message_vi, print_exception=False) from None


def build_demo(service: QAService) -> gr.Blocks:
    """The chat UI over `service`; mount it with `qa.web.app.create_app` (or `demo.launch()`)."""
    import gradio as gr

    examples = example_questions(service.data.documents.values(), 4)
    with gr.Blocks(title=TITLE, fill_width=False) as demo:
        gr.Markdown(f"## {TITLE}\nĐặt câu hỏi bằng tiếng Việt; câu trả lời được trích nguyên văn "
                    "từ tài liệu, kèm nguồn và vị trí. Có thể hỏi tiếp, ví dụ “còn … thì sao?”.")
        status = gr.HTML(status_html(service.status()), elem_id="qa-status")
        # no floating label (on a phone it covered the answer's first line); the conversation's
        # accessible name is set by VIETNAMESE_LABELS_JS
        chatbot = gr.Chatbot(label="Hội thoại", show_label=False, elem_id="qa-chat", height="70vh",
                             render_markdown=False,
                             latex_delimiters=[], sanitize_html=True, feedback_options=None, autoscroll=False,
                             buttons=["copy"], placeholder="Hỏi bất cứ điều gì về các tài liệu đã nạp.")
        asked = gr.State([])  # the conversation's questions, oldest first (follow-ups lean on them)
        with gr.Row():
            box = gr.Textbox(placeholder="Nhập câu hỏi…", show_label=False, scale=8, elem_id="qa-input",
                             autofocus=True, max_lines=4)
            send = gr.Button("Gửi", variant="primary", scale=1, elem_id="qa-send")
            clear = gr.Button("Xóa hội thoại", scale=1, elem_id="qa-clear")
        samples = gr.Dataset(components=[box], samples=[[q] for q in examples], label="Câu hỏi gợi ý",
                             visible=bool(examples), elem_id="qa-examples")

        def respond(question: str, history: list[Any], questions: list[str]) -> tuple[Any, ...]:
            messages = chat_turn(service, question, history, questions=questions)
            answered = messages[-1]["role"] == "assistant" and "qa-error" not in messages[-1]["content"]
            if answered and isinstance(question, str):
                questions = [*questions, question.strip()][-MAX_TURNS:]
            return "", messages, questions, status_html(service.status())

        def respond_example(sample: list[str], history: list[Any], questions: list[str]) -> tuple[Any, ...]:
            return respond(sample[0] if sample else "", history, questions)

        outputs = [box, chatbot, asked, status]
        for trigger in (box.submit, send.click):
            trigger(respond, [box, chatbot, asked], outputs, api_visibility="private").then(
                None, None, None, js=SCROLL_TO_ANSWER_JS, api_visibility="private")
        samples.click(respond_example, [samples, chatbot, asked], outputs, api_visibility="private").then(
            None, None, None, js=SCROLL_TO_ANSWER_JS, api_visibility="private")
        clear.click(lambda: ("", [], []), None, [box, chatbot, asked], api_visibility="private")

        def on_load() -> tuple[Any, ...]:
            # a page opened after the index changed shows the current one, and questions it can answer
            fresh = example_questions(service.data.documents.values(), 4)
            return status_html(service.status()), gr.Dataset(samples=[[q] for q in fresh], visible=bool(fresh))

        demo.load(on_load, None, [status, samples], api_visibility="private").then(
            None, None, None, js=READY_JS, api_visibility="private")

        def ask(question: str, top_k: int = 5) -> dict:
            """Answer a question: the same JSON object as `qa ask --json`."""
            return api_ask(service, question, top_k)

        ask.__annotations__ = typing.get_type_hints(ask)  # real types, not strings, for the API schema
        gr.api(ask, api_name="ask")
    # several at once, so concurrent questions share one encoder pass (QAService batches them)
    demo.queue(default_concurrency_limit=16)
    return demo
