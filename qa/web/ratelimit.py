"""Per-client token-bucket rate limiting for the public HTTP API, plus a tiny ASGI middleware.

>>> rl = RateLimiter(rate_per_minute=60, burst=2)
>>> [rl.allow("203.0.113.7")[0] for _ in range(3)]
[True, True, False]

Clients are keyed by `scope["client"][0]`. Behind a reverse proxy every request comes from the
proxy's address (often loopback, which is exempt by default): run uvicorn with `--proxy-headers
--forwarded-allow-ips=PROXY_IP` so the real client address reaches the scope. X-Forwarded-For is
never read here because any client can forge it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from qa.errors import QAError
from qa.web.security import log_rejected

DEFAULT_RATE = 60  # requests per minute per client
DEFAULT_BURST = 10
MAX_CLIENTS = 10_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("qa.web.ratelimit")


def is_loopback(client_key: str) -> bool:
    """`is_loopback("127.0.0.2") is True`; also ::1 and IPv4-mapped ::ffff:127.x; names are False."""
    try:
        ip = ipaddress.ip_address(client_key.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class RateLimiter:
    """Thread-safe token buckets, one per client key: `burst` requests at once, refilled at `rate_per_minute`.

    `rate_per_minute=0` disables limiting. Memory is bounded: a bucket that has refilled completely
    carries no information and is dropped, and at most `max_clients` buckets are kept (least recently
    seen dropped first, which only ever makes the limiter more lenient).
    """

    def __init__(self, rate_per_minute: int, burst: int = DEFAULT_BURST, exempt_loopback: bool = True,
                 max_clients: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_minute < 0 or burst < 0 or max_clients < 1:
            raise QAError(f"rate limit needs rate_per_minute >= 0, burst >= 0 and max_clients >= 1; got "
                          f"{rate_per_minute}, {burst}, {max_clients}")
        self.rate_per_minute = rate_per_minute
        self.burst = max(1, burst)
        self.exempt_loopback = exempt_loopback
        self.max_clients = max_clients
        self._clock = clock
        self._per_second = rate_per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, last seen)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate_per_minute > 0

    def __bool__(self) -> bool:
        # a limiter with no tracked clients yet is still a limiter (`limiter or default` bit us)
        return True

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, client_key: str) -> tuple[bool, float]:
        """(allowed, seconds until the next request would be allowed; 0.0 when allowed)."""
        if not self.enabled or (self.exempt_loopback and is_loopback(client_key)):
            return True, 0.0
        now = self._clock()
        with self._lock:
            self._evict(now)
            tokens, last = self._buckets.pop(client_key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self._per_second)
            if tokens >= 1.0:
                self._buckets[client_key] = (tokens - 1.0, now)
                allowed, wait = True, 0.0
            else:
                self._buckets[client_key] = (tokens, now)
                allowed, wait = False, (1.0 - tokens) / self._per_second
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return allowed, wait

    def _evict(self, now: float) -> None:
        # buckets are ordered by last use; an idle one is full again, exactly like a new one
        full_after = self.burst / self._per_second
        while self._buckets:
            key, (_tokens, last) = next(iter(self._buckets.items()))
            if now - last < full_after:
                break
            del self._buckets[key]


def too_many_message(retry_after: float) -> dict[str, Any]:
    """The 429 body: `too_many_message(2.1)["retry_after"] == 3`."""
    seconds = max(1, math.ceil(retry_after))
    return {
        "error": f"rate limit exceeded; retry after {seconds} s",
        "message_vi": f"Bạn gửi quá nhiều câu hỏi. Vui lòng thử lại sau {seconds} giây.",
        "retry_after": seconds,
    }


class RateLimitMiddleware:
    """Pure ASGI: requests whose path starts with one of `paths` pass through `limiter` or get a 429."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, paths: tuple[str, ...] = ("/api/",)) -> None:
        self.app = app
        self.limiter = limiter
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limiter.enabled or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        allowed, retry_after = self.limiter.allow(str(client[0]) if client else "unknown")
        if allowed:
            await self.app(scope, receive, send)
            return
        body = too_many_message(retry_after)
        log_rejected(log, f"{scope.get('method', '?')} {scope['path']}", 429, body["error"])
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        await send({
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                (b"retry-after", str(body["retry_after"]).encode()),
            ],
        })
        await send({"type": "http.response.body", "body": payload})
