"""The starting page (qa.web.starting): up before the service, says so, questions wait or get 503, then the app."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.web.starting import STARTING_VI, Starting


def _real_app(events: list[str], answer: str = "yes") -> FastAPI:
    """A stand-in for the built app: each route says which app answered (`answer`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("started")
        yield
        events.append("stopped")

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"page": "chat"}

    @app.post("/api/ask")
    async def ask() -> dict[str, str]:
        return {"answer": answer}

    @app.get("/widget.js")
    async def widget() -> dict[str, str]:
        return {"script": answer}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def test_the_page_says_it_is_starting_then_serves_the_app() -> None:
    events: list[str] = []
    go = threading.Event()
    starting = Starting(wait_s=0.2)

    def build(progress: Starting) -> FastAPI:
        progress.log("Loading embedding model default…")
        with progress.bar(True, "Converting the embedded model (first start only)", "steps") as cb:
            cb(3, 10)
            go.wait(30)
        return _real_app(events)

    with TestClient(starting) as c:
        threading.Thread(target=starting.load, args=(build,), daemon=True).start()
        page = c.get("/")
        assert page.status_code == 200 and "đang khởi động" in page.text
        health = c.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "starting"
        assert health.json()["step"] == "Đang chuyển đổi mô hình (chỉ lần đầu)…"
        assert (health.json()["done"], health.json()["total"]) == (3, 10)
        r = c.post("/api/ask", json={"question": "Ai?"})  # waits wait_s, then a clear Vietnamese 503
        assert r.status_code == 503 and r.json()["message_vi"] == STARTING_VI and r.headers["retry-after"] == "2"
        go.set()
        for _ in range(300):
            if starting.app is not None:
                break
            threading.Event().wait(0.05)
        assert c.get("/").json() == {"page": "chat"}
        assert c.post("/api/ask", json={"question": "Ai?"}).json() == {"answer": "yes"}
        assert events == ["started"]  # the real app's lifespan ran (its index watcher starts there)
        assert "Converting the embedded model (first start only)" in starting.timings
    assert events == ["started", "stopped"]


def test_a_question_asked_while_starting_waits_for_the_service() -> None:
    starting = Starting(wait_s=30)
    go = threading.Event()

    def build(progress: Starting) -> FastAPI:
        go.wait(30)
        return _real_app([])

    with TestClient(starting) as c:
        threading.Thread(target=starting.load, args=(build,), daemon=True).start()
        threading.Timer(0.3, go.set).start()
        assert c.post("/api/ask", json={"question": "Ai?"}).json() == {"answer": "yes"}


def test_the_json_api_answers_before_the_chat_is_built() -> None:
    starting = Starting(wait_s=30)
    chat_built = threading.Event()
    api = _real_app([], answer="early")  # its "/" and "/healthz" must not be served early

    def build(progress: Starting) -> FastAPI:
        progress.serve_api(api)  # the service is loaded; the chat (Gradio) is not yet
        chat_built.wait(30)
        return _real_app([])

    with TestClient(starting) as c:
        threading.Thread(target=starting.load, args=(build,), daemon=True).start()
        assert c.post("/api/ask", json={"question": "Ai?"}).json() == {"answer": "early"}
        health = c.get("/healthz")  # the page still says it is getting ready: the chat is not there
        assert health.status_code == 503 and health.json()["api_ready"] is True
        assert "đang khởi động" in c.get("/").text
        assert c.get("/widget.js").json() == {"script": "early"}  # a host page's widget works already
        chat_built.set()
        for _ in range(300):
            if starting.app is not None:
                break
            threading.Event().wait(0.05)
        assert c.post("/api/ask", json={"question": "Ai?"}).json() == {"answer": "yes"}
        assert c.get("/").json() == {"page": "chat"}


def test_a_failed_start_is_said() -> None:
    starting = Starting(wait_s=5)
    failures: list[BaseException] = []

    def build(progress: Starting) -> FastAPI:
        raise RuntimeError("no model")

    with TestClient(starting) as c:
        starting.load(build, failures.append)
        assert [str(e) for e in failures] == ["no model"]
        assert c.get("/healthz").json()["status"] == "failed"
        r = c.post("/api/ask", json={"question": "Ai?"})
        assert r.status_code == 503 and "không khởi động được" in r.json()["message_vi"]


def test_an_early_question_is_counted_in_flight_for_the_chat_imports_to_wait() -> None:
    starting = Starting(wait_s=30)
    seen: list[bool] = []
    api = FastAPI()

    @api.post("/api/ask")
    def ask() -> dict[str, str]:  # what the chat's imports see while a question is answered
        seen.append(starting.no_question.is_set())
        return {"answer": "early"}

    @api.get("/widget.js")
    def widget() -> dict[str, str]:
        seen.append(starting.no_question.is_set())
        return {"script": "early"}

    chat_built = threading.Event()

    def build(progress: Starting) -> FastAPI:
        progress.serve_api(api)
        chat_built.wait(30)
        return _real_app([])

    with TestClient(starting) as c:
        threading.Thread(target=starting.load, args=(build,), daemon=True).start()
        assert c.post("/api/ask", json={"question": "Ai?"}).json() == {"answer": "early"}
        assert c.get("/widget.js").json() == {"script": "early"}
        assert seen == [False, True]  # a question holds the imports back; the script does not
        assert starting.no_question.is_set()  # answered: the imports go on
        chat_built.set()
