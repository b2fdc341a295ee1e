"""The FastAPI app: Gradio chat at /, JSON API, health, document view, widget script, operator page.

    app = create_app(service)      # then uvicorn.run(app, host="127.0.0.1", port=7860)

Routes: POST /api/ask, GET /healthz, GET /doc, GET /widget.js, and /admin (qa.web.admin) when an
admin token is set; Gradio (with the pinned `/ask` endpoint) is mounted at / after them so they
win. HEAD works wherever GET does and a wrong method on our routes is a 405. While the app runs, a
watcher (qa.live) serves a new index as soon as one appears on disk. Security headers, CORS and the
embedding allow-list are qa.web.security; rate limits qa.web.ratelimit; the HTML qa.web.pages (marks:
qa.web.highlight; operator page: qa.web.adminpage).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from qa.errors import InputError
from qa.live import IndexWatcher
from qa.search.inputs import MAX_HISTORY_ITEMS
from qa.service import MAX_TOP_K
from qa.web.chat import VIETNAMESE_LABELS_JS, build_demo
from qa.web.confidence import widget_config
from qa.web.pages import CSS, INTERNAL_ERROR_VI, document_page
from qa.web.ratelimit import DEFAULT_RATE, RateLimiter, RateLimitMiddleware
from qa.web.security import (
    DEFAULT_ORIGINS,
    MethodMiddleware,
    OriginPolicy,
    SecurityMiddleware,
    TooLarge,
    body_limit,
    log_rejected,
    read_body,
)

if TYPE_CHECKING:
    import gradio as gr

    from qa.service import QAService

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("qa.web.app")


def _error(status: int, message: str, message_vi: str) -> JSONResponse:
    return JSONResponse({"error": message, "message_vi": message_vi}, status_code=status)


def _int(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def widget_script() -> bytes:
    """widget.js with the server's settings written in: the confidence cut points and the top_k range."""
    config = {"confidence": widget_config(), "top_k": [1, MAX_TOP_K]}
    js = (STATIC / "widget.js").read_text("utf-8")
    return js.replace("/*QA_CONFIG*/null", json.dumps(config, ensure_ascii=False), 1).encode("utf-8")


ROUTES: dict[str, tuple[str, ...]] = {"/api/ask": ("POST",), "/healthz": ("GET",), "/widget.js": ("GET",),
                                      "/doc": ("GET",)}


def _rejected(status: int, message: str, message_vi: str) -> JSONResponse:
    log_rejected(log, "POST /api/ask", status, message)
    return _error(status, message, message_vi)


def create_app(service: QAService, *, allowed_origins: list[str] | None = None, max_body: int | None = None,
               demo: gr.Blocks | None = None, rate_limiter: RateLimiter | None = None,
               reload_interval: float | None = None, admin_token: str | None = None,
               max_upload_mb: int | None = None, chat: bool = True) -> FastAPI:
    """FastAPI app serving the chat and the API for `service`.

    `chat=False`: the JSON API, health, document view and widget script only — no Gradio imported,
    no operator page (what app.py serves `/api/ask` with while the chat is still loading).

    `allowed_origins` defaults to the loopback origins (app.py passes QA_ALLOWED_ORIGINS);
    `rate_limiter` (for /api/* only) defaults to 60 requests a minute per client, loopback exempt.
    `max_body` (bytes of a /api/ask body) defaults to room for a question and its history at
    QA_MAX_QUESTION_CHARS, ASCII-escaped (qa.web.security.body_limit).
    `reload_interval` (seconds; 0 = off), `admin_token` ("" = no operator page) and `max_upload_mb`
    default to the service's settings (QA_RELOAD_INTERVAL, QA_ADMIN_TOKEN, QA_ADMIN_MAX_UPLOAD_MB).
    """
    web = service.settings.web
    max_chars = service.settings.max_question_chars
    limit = body_limit(max_chars, MAX_HISTORY_ITEMS) if max_body is None else max_body
    interval = web.reload_interval if reload_interval is None else reload_interval
    token = web.admin_token if admin_token is None else admin_token
    upload_mb = web.admin_max_upload_mb if max_upload_mb is None else max_upload_mb
    policy = OriginPolicy(DEFAULT_ORIGINS if allowed_origins is None else allowed_origins)
    watcher = IndexWatcher(service, interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()

    app = FastAPI(title="qa", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.watcher = watcher
    app.state.admin = None
    widget_js = widget_script()
    routes = dict(ROUTES)

    @app.post("/api/ask")
    async def ask(request: Request) -> Response:
        try:
            raw = await read_body(request, limit)
        except TooLarge:  # only a question far over the limit gets here: say so, as the 400 does
            return _rejected(413, f"request body over {limit} bytes; the question limit is {max_chars} "
                                  "characters (QA_MAX_QUESTION_CHARS)",
                             f"Câu hỏi quá dài. Vui lòng rút gọn dưới {max_chars} ký tự.")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _rejected(400, 'body must be JSON like {"question": "...", "top_k": 5}',
                          "Yêu cầu không hợp lệ: nội dung phải là JSON có trường \"question\".")
        if not isinstance(data, dict):
            return _rejected(400, 'body must be a JSON object like {"question": "..."}',
                          "Yêu cầu không hợp lệ: nội dung phải là một đối tượng JSON.")
        args = [data.get("question"), data.get("top_k", 5)]
        if data.get("history") is not None:
            args.append(data["history"])  # previous questions, oldest first: follow-ups
        try:
            ans = await run_in_threadpool(service.ask, *args)
        except InputError as e:
            return _rejected(400, str(e), e.message_vi)
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
        p_start, p_end = _int(p.get("p_start"), None), _int(p.get("p_end"), None)
        phrase = (p_start, p_end) if p_start is not None and p_end is not None else None
        status, page = document_page(service.document(p.get("doc", "")), start, end, answer, p.get("q", "")[:1000],
                                     underline=service.underline, phrase=phrase)
        return HTMLResponse(page, status_code=status)

    if token and chat:
        from qa.web.admin import ROUTES as ADMIN_ROUTES
        from qa.web.admin import add_admin

        app.state.admin = add_admin(app, service, token, upload_mb << 20)
        routes.update(ADMIN_ROUTES)

    # the last added middleware is the outermost: a 429 still gets the security and CORS headers,
    # so the widget on another origin can read its Vietnamese message
    limiter = RateLimiter(DEFAULT_RATE) if rate_limiter is None else rate_limiter  # (an empty one is falsy)
    app.add_middleware(MethodMiddleware, routes=routes)
    app.add_middleware(RateLimitMiddleware, limiter=limiter, paths=("/api/",))
    app.add_middleware(SecurityMiddleware, policy=policy)
    if not chat:
        return app
    import gradio as gr

    blocks = demo if demo is not None else build_demo(service)
    theme = gr.themes.Default(font=("system-ui", "Segoe UI", "Roboto", "sans-serif"),
                              font_mono=("ui-monospace", "monospace"))  # local fonts: no Google Fonts call
    # no footer: Gradio's "Use via API" link is English and leads to an English page (the JSON API is
    # in the README)
    return gr.mount_gradio_app(app, blocks, path="/", css=CSS, theme=theme, footer_links=[], js=VIETNAMESE_LABELS_JS,
                               run_history=False, allowed_paths=[], ssr_mode=False, mcp_server=False,
                               show_error=False)  # gr.Error (Vietnamese input messages) still shows
