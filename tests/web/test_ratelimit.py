"""Token-bucket rate limiter and its ASGI middleware (starlette TestClient on a tiny app)."""

from __future__ import annotations

import threading

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from qa.web.ratelimit import RateLimiter, RateLimitMiddleware, is_loopback, too_many_message


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_burst_then_refill_at_rate() -> None:
    clock = Clock()
    rl = RateLimiter(rate_per_minute=60, burst=3, clock=clock)
    assert [rl.allow("203.0.113.7") for _ in range(4)] == [(True, 0.0)] * 3 + [(False, 1.0)]
    clock.t += 0.5
    assert rl.allow("203.0.113.7") == (False, 0.5)
    clock.t += 0.5
    assert rl.allow("203.0.113.7") == (True, 0.0)
    assert rl.allow("203.0.113.7") == (False, 1.0)


def test_clients_are_independent() -> None:
    rl = RateLimiter(rate_per_minute=6, burst=1, clock=Clock())
    assert rl.allow("198.51.100.1") == (True, 0.0)
    assert rl.allow("198.51.100.1") == (False, 10.0)
    assert rl.allow("198.51.100.2") == (True, 0.0)


def test_zero_rate_disables() -> None:
    rl = RateLimiter(rate_per_minute=0, burst=1, clock=Clock())
    assert not rl.enabled
    assert all(rl.allow("203.0.113.7") == (True, 0.0) for _ in range(100))
    assert len(rl) == 0


@pytest.mark.parametrize("key", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_exempt_by_default(key: str) -> None:
    assert is_loopback(key)
    rl = RateLimiter(rate_per_minute=1, burst=1, clock=Clock())
    assert all(rl.allow(key)[0] for _ in range(10))
    strict = RateLimiter(rate_per_minute=1, burst=1, exempt_loopback=False, clock=Clock())
    assert [strict.allow(key)[0] for _ in range(2)] == [True, False]


@pytest.mark.parametrize("key", ["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "testclient", "localhost", ""])
def test_not_loopback(key: str) -> None:
    assert not is_loopback(key)


def test_idle_buckets_evicted() -> None:
    clock = Clock()
    rl = RateLimiter(rate_per_minute=60, burst=2, clock=clock)
    for i in range(100):
        rl.allow(f"10.0.0.{i}")
    assert len(rl) == 100
    clock.t += 2.0  # 2 tokens at 1/s: every bucket is full again
    rl.allow("10.1.0.1")
    assert len(rl) == 1


def test_max_clients_bounds_memory() -> None:
    rl = RateLimiter(rate_per_minute=60, burst=1, max_clients=50, clock=Clock())
    for i in range(1000):
        rl.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(rl) == 50


def test_thread_safe_exact_count() -> None:
    rl = RateLimiter(rate_per_minute=1, burst=100, clock=Clock())
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        got = [rl.allow("192.0.2.1")[0] for _ in range(50)]
        with lock:
            allowed.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 100
    assert allowed.count(False) == 300


def test_too_many_message_rounds_up() -> None:
    assert too_many_message(2.1) == {
        "error": "rate limit exceeded; retry after 3 s",
        "message_vi": "Bạn gửi quá nhiều câu hỏi. Vui lòng thử lại sau 3 giây.",
        "retry_after": 3,
    }
    assert too_many_message(0.01)["retry_after"] == 1


def _app(limiter: RateLimiter) -> RateLimitMiddleware:
    async def ask(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"echo": body["question"]})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    inner = Starlette(routes=[Route("/api/ask", ask, methods=["POST"]), Route("/healthz", health)])
    return RateLimitMiddleware(inner, limiter, paths=("/api/",))


def test_middleware_429_with_retry_after() -> None:
    clock = Clock()
    # TestClient requests come from host "testclient": not loopback, so limited
    client = TestClient(_app(RateLimiter(rate_per_minute=30, burst=2, clock=clock)))
    for _ in range(2):
        r = client.post("/api/ask", json={"question": "Ai chủ trì?"})
        assert r.status_code == 200
        assert r.json() == {"echo": "Ai chủ trì?"}
    r = client.post("/api/ask", json={"question": "Ai chủ trì?"})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {
        "error": "rate limit exceeded; retry after 2 s",
        "message_vi": "Bạn gửi quá nhiều câu hỏi. Vui lòng thử lại sau 2 giây.",
        "retry_after": 2,
    }
    # paths outside /api/ are never limited
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))
    clock.t += 2.0
    assert client.post("/api/ask", json={"question": "Huế?"}).status_code == 200


def test_middleware_loopback_and_disabled() -> None:
    limiter = RateLimiter(rate_per_minute=1, burst=1, clock=Clock())
    loop = TestClient(_app(limiter), client=("127.0.0.1", 50000))
    assert all(loop.post("/api/ask", json={"question": "a"}).status_code == 200 for _ in range(5))
    off = TestClient(_app(RateLimiter(rate_per_minute=0, burst=1)))
    assert all(off.post("/api/ask", json={"question": "a"}).status_code == 200 for _ in range(5))
