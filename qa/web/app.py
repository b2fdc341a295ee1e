"""The FastAPI app: Gradio chat at /, JSON API, health, document view, widget script, security headers.

>>> app = create_app(service)             # then uvicorn.run(app, host="127.0.0.1", port=7860)

Routes: POST /api/ask, GET /healthz, GET /doc, GET /widget.js; Gradio (with the pinned `/ask`
endpoint) is mounted at / after them so they win.
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders

from qa.errors import InputError, QAError
from qa.schema import Highlight
from qa.web.chat import CSS, INTERNAL_ERROR_VI, build_demo, highlight_html, position_vi, question_terms
from qa.web.ratelimit import RateLimiter, RateLimitMiddleware

if TYPE_CHECKING:
    import gradio as gr

    from qa.service import QAService

MAX_BODY = 16 * 1024
STATIC = Path(__file__).resolve().parent / "static"
# JSON, the widget and the document page need no scripts, plugins or frames of their own
STRICT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
              "form-action 'none'")
# Gradio's page needs inline scripts and styles; it still gets no plugins and no foreign <base>
GRADIO_CSP = "object-src 'none'; base-uri 'self'"
log = logging.getLogger("qa.web.app")

DEFAULT_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")
CORS_PATHS = ("/api/", "/widget.js", "/healthz")
STRICT_PATHS = (*CORS_PATHS, "/doc")
_ORIGIN_RE = re.compile(r"^(https?)://(\*\.)?([a-z0-9.-]+|\[[0-9a-f:]+\])(?::(\d{1,5}|\*))?$")


def parse_origins(value: str | None) -> list[str]:
    """`QA_ALLOWED_ORIGINS` -> list; None/empty -> the loopback defaults. Bad entries raise QAError."""
    if not value or not value.strip():
        return list(DEFAULT_ORIGINS)
    return OriginPolicy([v for v in value.split(",") if v.strip()]).origins


class OriginPolicy:
    """Embedding allow-list: CORS origins and CSP frame-ancestors ('*' = anyone, ':*' = any port)."""

    def __init__(self, origins: list[str] | tuple[str, ...]) -> None:
        self.origins = [o.strip().rstrip("/").lower() for o in origins]
        self.any = "*" in self.origins
        self._res = [self._regex(o) for o in self.origins if o != "*"]

    @staticmethod
    def _regex(origin: str) -> re.Pattern[str]:
        m = _ORIGIN_RE.match(origin)
        if m is None:
            raise QAError(f"allowed origin {origin!r} (QA_ALLOWED_ORIGINS) is not an origin; use e.g. "
                          "https://example.com, http://localhost:* (any port) or https://*.example.com")
        scheme, sub, host, port = m.groups()
        rx = re.escape(scheme) + "://" + (r"(?:[a-z0-9-]+\.)+" if sub else "") + re.escape(host)
        rx += r"(?::\d{1,5})?" if port == "*" else (":" + port if port else "")
        return re.compile(rx + "$")

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        return self.any or any(r.match(origin.lower()) for r in self._res)

    def csp(self, base: str) -> str:
        ancestors = "*" if self.any else " ".join(["'self'", *self.origins])
        return f"{base}; frame-ancestors {ancestors}"


class SecurityMiddleware:
    """Security headers on every response; CORS by the allow-list on CORS_PATHS, never widened elsewhere.

    Gradio answers CORS for its own routes (loopback origins when bound to loopback, any origin
    otherwise); we keep its answer only for allowed origins so `@gradio/client` follows the same list.
    """

    def __init__(self, app: Any, policy: OriginPolicy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        req = Headers(scope=scope)
        origin = req.get("origin")
        ours = scope["path"].startswith(CORS_PATHS)
        strict = scope["path"].startswith(STRICT_PATHS)
        allowed = self.policy.allows(origin)
        if ours and scope["method"] == "OPTIONS" and origin and "access-control-request-method" in req:
            hdrs = {"Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600",
                    "Vary": "Origin"}
            hdrs = hdrs if allowed else {}
            preflight = Response(status_code=204 if allowed else 403, headers=hdrs)
            self._secure(preflight.headers, strict)
            await preflight(scope, receive, send)
            return

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                self._secure(h, strict)
                if ours and allowed and origin:
                    h["Access-Control-Allow-Origin"] = origin
                    h.add_vary_header("Origin")
                elif not allowed:
                    for k in ("access-control-allow-origin", "access-control-allow-credentials"):
                        if k in h:
                            del h[k]
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _secure(self, h: MutableHeaders, strict: bool) -> None:
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        h.setdefault("Content-Security-Policy", self.policy.csp(STRICT_CSP if strict else GRADIO_CSP))


def _error(status: int, message: str, message_vi: str) -> JSONResponse:
    return JSONResponse({"error": message, "message_vi": message_vi}, status_code=status)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes whether or not Content-Length is honest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def document_page(service: QAService, doc_id: str, start: int, end: int,
                  answer: tuple[int, int] | None, question: str) -> tuple[int, str]:
    """(status, HTML) of the whole document: focus region tinted, answer and question terms marked."""
    doc = service.document(doc_id)
    if doc is None:
        return 404, _page("Không tìm thấy tài liệu", "<p>Tài liệu này không có trong chỉ mục.</p>")
    n = len(doc.text)
    start, end = sorted((min(max(start, 0), n), min(max(end, 0), n)))
    marks = [Highlight(start, end, "focus")]
    if answer is not None:
        marks.append(Highlight(max(answer[0], 0), min(answer[1], n), "answer"))
    marks.extend(question_terms(doc.text, question))
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


def _int(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def create_app(service: QAService, *, allowed_origins: list[str] | None = None, max_body: int = MAX_BODY,
               demo: gr.Blocks | None = None, rate_limiter: RateLimiter | None = None) -> FastAPI:
    """FastAPI app serving the chat and the API for `service`.

    `allowed_origins` defaults to the loopback origins (app.py passes QA_ALLOWED_ORIGINS);
    `rate_limiter` defaults to `RateLimiter.from_env()` and applies to /api/* only.
    """
    import gradio as gr

    policy = OriginPolicy(DEFAULT_ORIGINS if allowed_origins is None else allowed_origins)
    app = FastAPI(title="qa", docs_url=None, redoc_url=None, openapi_url=None)
    widget_js = (STATIC / "widget.js").read_bytes()

    @app.post("/api/ask")
    async def ask(request: Request) -> Response:
        try:
            raw = await _read_body(request, max_body)
        except _TooLarge:
            return _error(413, f"request body over {max_body} bytes",
                          f"Yêu cầu quá lớn (tối đa {max_body // 1024} KiB).")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _error(400, 'body must be JSON like {"question": "...", "top_k": 5}',
                          "Yêu cầu không hợp lệ: nội dung phải là JSON có trường \"question\".")
        if not isinstance(data, dict):
            return _error(400, 'body must be a JSON object like {"question": "..."}',
                          "Yêu cầu không hợp lệ: nội dung phải là một đối tượng JSON.")
        try:
            ans = await run_in_threadpool(service.ask, data.get("question"), data.get("top_k", 5))
        except InputError as e:
            return _error(400, str(e), e.message_vi)
        except Exception:  # never leak a traceback to a caller; the log keeps it
            log.exception("ask failed")
            return _error(500, "internal error", INTERNAL_ERROR_VI)
        return JSONResponse(ans.to_dict())

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", **service.status()}

    @app.get("/widget.js")
    async def widget() -> Response:
        return Response(widget_js, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    @app.get("/doc")
    async def doc(request: Request) -> Response:
        p = request.query_params
        start = _int(p.get("start"), 0) or 0
        end = _int(p.get("end"), start) or start
        a_start, a_end = _int(p.get("a_start"), None), _int(p.get("a_end"), None)
        answer = (a_start, a_end) if a_start is not None and a_end is not None else None
        status, page = document_page(service, p.get("doc", ""), start, end, answer, p.get("q", "")[:1000])
        return HTMLResponse(page, status_code=status)

    # the last added middleware is the outermost: a 429 still gets the security and CORS headers,
    # so the widget on another origin can read its Vietnamese message
    limiter = RateLimiter.from_env() if rate_limiter is None else rate_limiter  # (an empty one is falsy)
    app.add_middleware(RateLimitMiddleware, limiter=limiter, paths=("/api/",))
    app.add_middleware(SecurityMiddleware, policy=policy)
    blocks = demo if demo is not None else build_demo(service)
    theme = gr.themes.Default(font=("system-ui", "Segoe UI", "Roboto", "sans-serif"),
                              font_mono=("ui-monospace", "monospace"))  # local fonts: no Google Fonts call
    return gr.mount_gradio_app(app, blocks, path="/", css=CSS, theme=theme, footer_links=["api"],
                               run_history=False, allowed_paths=[], ssr_mode=False, mcp_server=False,
                               show_error=False)  # gr.Error (Vietnamese input messages) still shows


class BackgroundServer:
    """uvicorn in a daemon thread on a free loopback port, for tests and screenshot scripts.

    >>> with BackgroundServer(app) as url:   # 'http://127.0.0.1:PORT'
    ...     requests.get(url + "/healthz")
    """

    def __init__(self, app: Any, host: str = "127.0.0.1") -> None:
        import socket

        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))  # bound before the thread starts: no port race
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))

    def __enter__(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server at {self.url} did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
