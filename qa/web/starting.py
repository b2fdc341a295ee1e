"""The page a user meets while the service loads: up at once, says what it is doing, then the real app.

`python app.py` listens within about a second with a `Starting` app, loads the model, the index and
the reader (and imports Gradio) in a background thread, and hands every request to the real app
once it is built::

    starting = Starting()
    threading.Thread(target=starting.load, args=(build,)).start()   # build(progress) -> FastAPI app
    uvicorn.run(starting, ...)

Meanwhile `/` is a page with the current step and a progress bar that turns into the chat when it
is ready; `/healthz` says `{"status": "starting", ...}` (503); a question to `/api/ask` waits up to
`wait_s` seconds for the service and otherwise gets a 503 with a Vietnamese "đang khởi động"
message and Retry-After. Nothing here imports Gradio, torch or the index: it must be quick.

The JSON API need not wait for the chat: `build` may hand over an app for `/api/ask` alone with
`progress.serve_api(app)` as soon as the service is loaded, and import Gradio after it (seconds of
pure-Python imports that would otherwise hold the interpreter lock while the model loads). The
widget and API callers then get answers while the page still says it is getting ready.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import AsyncExitStack, contextmanager
from typing import Any

from qa.web.importgate import ImportGate

log = logging.getLogger("qa.web.starting")
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
STARTING_VI = "Hệ thống đang khởi động, vui lòng thử lại sau ít giây."
FAILED_VI = "Hệ thống không khởi động được; xem nhật ký của máy chủ."
STEPS_VI = {  # log lines of qa.startup -> what the page shows
    "Converting": "Đang chuyển đổi mô hình (chỉ lần đầu)…",
    "Loading embedding model": "Đang nạp mô hình…",
    "Loading the index": "Đang nạp chỉ mục…",
    "Building the index": "Đang tạo chỉ mục (lần đầu)…",
    "Updating the index": "Đang cập nhật chỉ mục…",
    "Preparing the question encoder": "Đang chuẩn bị bộ mã hóa câu hỏi…",
    "Loading the reader": "Đang nạp bộ đọc…",
    "Building the web interface": "Đang dựng giao diện…",
}


# what the early app (`serve_api`) answers before the chat is up: the API and what the widget on
# another site loads (its script, the document view its citations open)
EARLY_PATHS = ("/api/ask", "/widget.js", "/doc")


class Starting:
    """An ASGI app: the starting page until `load` has built the real app, then the real app."""

    def __init__(self, wait_s: float = 30.0, log_line: Callable[[str], None] | None = None,
                 terminal_bar: Callable[..., Any] | None = None) -> None:
        self.app: ASGIApp | None = None
        self.api: ASGIApp | None = None  # serves /api/ask before `app` is ready (`serve_api`)
        self._after: list[Callable[[], None]] = []  # run once `app` serves (`after_ready`)
        self.no_question = threading.Event()  # clear while an early question is answered (`questions_first`)
        self.no_question.set()
        self._asking = 0
        self.failed = ""
        self.step = "Đang khởi động…"
        self.done, self.total = 0, 0
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}  # step -> seconds, for the log and /healthz
        self.wait_s = wait_s
        self._log_line = log_line
        self._terminal_bar = terminal_bar
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None
        self._stack = AsyncExitStack()
        self._last = (self.started, "")

    # --- progress, from the loading thread ----------------------------------------------------------

    def log(self, msg: str) -> None:
        """A step of qa.startup: shown on the page, timed, and passed on to the terminal."""
        now = time.perf_counter()
        if self._last[1]:
            self.timings[self._last[1]] = round(now - self._last[0], 2)
        self._last = (now, msg.rstrip("…. "))
        self.step = next((vi for en, vi in STEPS_VI.items() if msg.startswith(en)), self.step)
        self.done, self.total = 0, 0
        if self._log_line is not None:
            self._log_line(msg)

    def bar(self, enabled: bool, desc: str, unit: str = "") -> Any:
        """A qa.startup progress bar that moves the page's bar (and the terminal's, if one was given)."""
        self.log(desc)

        @contextmanager
        def cm() -> Iterator[Callable[[int, int], None]]:
            outer = self._terminal_bar(enabled, desc, unit) if self._terminal_bar is not None else None
            with outer if outer is not None else contextmanager(lambda: iter([None]))() as term:
                def cb(done: int, total: int) -> None:
                    self.done, self.total = done, total
                    if term is not None:
                        term(done, total)
                yield cb
        return cm()

    def load(self, build: Callable[[Starting], ASGIApp],
             on_fail: Callable[[BaseException], None] | None = None) -> None:
        """Build the real app (in this thread), enter its lifespan on the server's loop, serve it;
        a failure is shown on the page and passed to `on_fail` (else logged with its traceback)."""
        try:
            app = build(self)
            self.log("Ready")
            while self._loop is None:  # the server has not started yet (rare: loading was quicker)
                time.sleep(0.01)
            asyncio.run_coroutine_threadsafe(self._serve(app), self._loop).result()
            total = time.perf_counter() - self.started
            steps = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
            log.info("ready %.1f s after start (%s)", total, steps)
            for fn in self._after:
                fn()
        except BaseException as e:  # shown on the page and in the log; the server keeps answering 503
            self.failed = str(e) or type(e).__name__
            if on_fail is not None:
                on_fail(e)
            else:
                log.exception("start-up failed")
            if self._loop is not None and self._ready is not None:
                self._loop.call_soon_threadsafe(self._ready.set)

    def after_ready(self, fn: Callable[[], None]) -> None:
        """From the loading thread: run `fn` there once the real app serves (work that speeds later
        requests but need not delay the first ones; app.py traces the networks)."""
        self._after.append(fn)

    def serve_api(self, app: ASGIApp) -> None:
        """From the loading thread: answer `EARLY_PATHS` with `app` from now on (no lifespan of its own:
        the full app's, entered later, runs the index watcher)."""
        while self._loop is None:  # the server has not started yet
            time.sleep(0.01)
        self._loop.call_soon_threadsafe(self._api_ready, app)

    def questions_first(self) -> ImportGate:
        """From the loading thread, around the chat's imports: they pause while an early question is
        answered (qa.web.importgate says why), so the first answers do not wait for Gradio."""
        return ImportGate(self.no_question)

    def _api_ready(self, app: ASGIApp) -> None:
        self.api = app
        assert self._ready is not None
        self._ready.set()
        log.info("the JSON API answers %.1f s after start; the chat is still loading",
                 time.perf_counter() - self.started)

    async def _serve(self, app: Any) -> None:
        lifespan = getattr(getattr(app, "router", None), "lifespan_context", None)
        if lifespan is not None:
            await self._stack.enter_async_context(lifespan(app))
        self.app = app
        assert self._ready is not None
        self._ready.set()

    # --- ASGI ----------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        path = scope.get("path", "/")
        if self.api is not None and path in EARLY_PATHS:
            await self._early(self.api, scope, receive, send)
            return
        if path == "/api/ask" and not self.failed:
            assert self._ready is not None
            try:
                await asyncio.wait_for(self._ready.wait(), self.wait_s)
            except asyncio.TimeoutError:
                pass
            if self.app is not None:
                await self.app(scope, receive, send)
                return
            if self.api is not None:
                await self._early(self.api, scope, receive, send)
                return
        if path in ("/healthz", "/api/ask") or path.startswith(("/gradio_api", "/admin/api")):
            body = {"status": "failed" if self.failed else "starting", **self.status()}
            if path != "/healthz":
                body = {"error": "starting" if not self.failed else "start-up failed",
                        "message_vi": FAILED_VI if self.failed else STARTING_VI}
            await _respond(send, 503, json.dumps(body, ensure_ascii=False).encode(), "application/json",
                           [(b"retry-after", b"2")])
            return
        await _respond(send, 503 if self.failed else 200, starting_page(self).encode(), "text/html; charset=utf-8",
                       [(b"cache-control", b"no-store")])

    async def _early(self, app: ASGIApp, scope: Scope, receive: Callable[[], Awaitable[Any]],
                     send: Callable[[Any], Awaitable[None]]) -> None:
        """A request to the early app; a question is counted in flight while it is answered."""
        if scope.get("path") != "/api/ask":
            await app(scope, receive, send)
            return
        self._asking += 1  # on the server's loop only: no lock needed for the count
        self.no_question.clear()
        try:
            await app(scope, receive, send)
        finally:
            self._asking -= 1
            if not self._asking:
                self.no_question.set()

    def status(self) -> dict[str, Any]:
        return {"step": self.step, "done": self.done, "total": self.total, "failed": self.failed,
                "api_ready": self.api is not None, "elapsed_s": round(time.perf_counter() - self.started, 1)}

    async def _lifespan(self, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop = asyncio.get_running_loop()
                self._ready = asyncio.Event()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stack.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _respond(send: Callable[[Any], Awaitable[None]], status: int, body: bytes, kind: str,
                   headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff"), *headers]})
    await send({"type": "http.response.body", "body": body})


def starting_page(s: Starting) -> str:
    """The page shown while loading: the step, a bar, and a script that reloads into the chat when ready.

    Once the JSON API answers (`api_ready`, seconds before Gradio is up) the page opens the widget, so
    a chat user can ask at once; when the chat is ready the page reloads into it, unless a question was
    asked in the widget: then it offers the chat with a button instead of wiping the conversation.

    >>> "đang khởi động" in starting_page(Starting()).lower()
    True
    """
    failed = f'<p class="bad">{html.escape(FAILED_VI)}</p>' if s.failed else ""
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Hỏi đáp tài liệu — đang khởi động</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:18vh auto;padding:0 1.25rem;color:#1f2937}}
h1{{font-size:1.25rem}}progress{{width:100%;height:1rem}}.meta{{color:#4b5563;font-size:.9rem}}.bad{{color:#b91c1c}}
#ready button{{margin-left:.5rem;padding:.4rem .8rem;border:0;border-radius:.5rem;background:#d97706;color:#fff;
font-size:1rem;cursor:pointer}}
</style></head><body><h1>Hỏi đáp tài liệu</h1>
<p id="intro">Hệ thống đang khởi động; trang sẽ tự mở khi sẵn sàng.</p>
<p id="step" aria-live="polite">{html.escape(s.step)}</p><progress id="bar" aria-label="Tiến độ khởi động"></progress>
<p class="meta" id="elapsed"></p>{failed}
<p id="ready" role="status" hidden>Giao diện đầy đủ đã sẵn sàng (cuộc hội thoại trong khung hỏi đáp không được
chuyển sang).<button type="button" onclick="location.reload()">Mở giao diện đầy đủ</button></p>
<script>
let asked = false, widget = false;
document.addEventListener("qa-widget-ask", () => {{ asked = true; }});
(function poll() {{
  fetch("/healthz", {{cache: "no-store"}}).then(r => r.json()).then(d => {{
    if (d.status === "ok") {{
      if (!asked) {{ location.reload(); return; }}
      document.getElementById("ready").hidden = false;  // keep the widget's conversation: the user chooses
      document.getElementById("step").textContent = "Sẵn sàng";
      document.getElementById("bar").value = document.getElementById("bar").max = 1;
      return;
    }}
    if (d.api_ready && !widget) {{  // questions are answered already: open the widget (qa/web/static/widget.js)
      widget = true;
      const tag = document.createElement("script");
      tag.src = "/widget.js";
      tag.setAttribute("data-open", "");
      tag.setAttribute("data-title", "Hỏi ngay");
      document.body.appendChild(tag);
      document.getElementById("intro").textContent =
        "Bạn đã có thể đặt câu hỏi trong khung “Hỏi ngay”; giao diện đầy đủ sẽ tự mở khi sẵn sàng.";
    }}
    document.getElementById("step").textContent = d.step || "";
    const bar = document.getElementById("bar");
    if (d.total) {{ bar.max = d.total; bar.value = d.done; }} else bar.removeAttribute("value");
    document.getElementById("elapsed").textContent = "Đã " + Math.round(d.elapsed_s || 0) + " giây";
    if (d.status !== "failed") setTimeout(poll, 500);
  }}, () => setTimeout(poll, 1000));
}})();
</script></body></html>"""
