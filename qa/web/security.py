"""Who may embed or call the app, and the headers and limits every response and request gets.

`QA_ALLOWED_ORIGINS` lists the pages that may embed the chat (CSP frame-ancestors) or call the API
from a browser (CORS on /api/*, /widget.js, /healthz): ':*' is any port, '*.' any subdomain.

>>> OriginPolicy(parse_origins("https://*.example.com,http://localhost:*")).allows("https://a.example.com")
True
>>> parse_origins("example.com")  # doctest: +ELLIPSIS
Traceback (most recent call last):
qa.errors.ConfigError: allowed origin 'example.com' (QA_ALLOWED_ORIGINS) is not an origin; use e.g. ...
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response

from qa.errors import ConfigError

log = logging.getLogger("qa.web.security")
MAX_BODY = 16 * 1024
# the longest a JSON escape writes one character of a question: "\\u1ea1" (json.dumps' default ASCII)
_ESCAPED_CHAR_BYTES = 6


def body_limit(max_question_chars: int, history_items: int) -> int:
    """Bytes a /api/ask body may have: room for the question and its history at the question limit
    even when every character is ASCII-escaped, so an over-long question gets the question-length
    message however the client encoded it (never less than MAX_BODY).

    >>> body_limit(1000, 20)
    127024
    >>> body_limit(10, 0) == MAX_BODY
    True
    """
    return max(MAX_BODY, _ESCAPED_CHAR_BYTES * max_question_chars * (1 + history_items) + 1024)
# JSON, the widget and the document page need no scripts, plugins or frames of their own
STRICT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
              "form-action 'none'")
# Gradio's page needs inline scripts and styles; it still gets no plugins and no foreign <base>
GRADIO_CSP = "object-src 'none'; base-uri 'self'"

DEFAULT_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")
CORS_PATHS = ("/api/", "/widget.js", "/healthz")
STRICT_PATHS = (*CORS_PATHS, "/doc", "/admin")
_ORIGIN_RE = re.compile(r"^(https?)://(\*\.)?([a-z0-9.-]+|\[[0-9a-f:]+\])(?::(\d{1,5}|\*))?$")


def parse_origins(value: str | None) -> list[str]:
    """`QA_ALLOWED_ORIGINS` -> list; None/empty -> the loopback defaults. Bad entries raise ConfigError."""
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
            raise ConfigError(f"allowed origin {origin!r} (QA_ALLOWED_ORIGINS) is not an origin; use e.g. "
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


def log_rejected(logger: logging.Logger, where: str, status: int | str, reason: object) -> None:
    """The one log line of a refused request (bad input, too large, too many, wrong token): no traceback.

    >>> import sys
    >>> demo = logging.getLogger("qa.web.demo"); demo.propagate = False; demo.setLevel(logging.INFO)
    >>> demo.addHandler(logging.StreamHandler(sys.stdout))
    >>> log_rejected(demo, "POST /api/ask", 400, "the question is empty")
    rejected POST /api/ask (400): the question is empty
    """
    logger.info("rejected %s (%s): %s", where, status, reason)


class TooLarge(Exception):
    """The request body is over the limit."""

    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes whether or not Content-Length is honest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


# Gradio's long-lived streams: a HEAD there is left to Gradio (it would otherwise open a stream)
_STREAMING = ("/gradio_api/queue/", "/gradio_api/heartbeat/", "/gradio_api/stream/")


class MethodMiddleware:
    """HEAD wherever GET works (answered as GET, without the body), and 405 with `Allow` for a wrong
    method on one of our own routes (Gradio, mounted at /, would otherwise answer 404).

    `routes` maps a path to the methods it takes, e.g. {"/api/ask": ("POST",), "/healthz": ("GET",)}.
    """

    def __init__(self, app: Any, routes: dict[str, tuple[str, ...]]) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        allowed = self.routes.get(path)
        if allowed is not None:
            methods = (*allowed, *(("HEAD",) if "GET" in allowed else ()), "OPTIONS")
            if method not in methods:
                body = {"error": f"{method} is not allowed on {path}; use {' or '.join(allowed)}",
                        "message_vi": f"Phương thức {method} không dùng được ở {path}; "
                                      f"hãy dùng {' hoặc '.join(allowed)}."}
                log_rejected(log, f"{method} {path}", 405, body["error"])
                resp = Response(json.dumps(body, ensure_ascii=False), status_code=405,
                                media_type="application/json", headers={"Allow": ", ".join(methods)})
                await resp(scope, receive, send)
                return
            if method == "OPTIONS" and "access-control-request-method" not in Headers(scope=scope):
                await Response(status_code=204, headers={"Allow": ", ".join(methods)})(scope, receive, send)
                return
        if method != "HEAD" or path.startswith(_STREAMING):
            await self.app(scope, receive, send)
            return

        async def headless(message: Any) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headless)
