"""The HTTP side of the web app: /api/ask, /healthz, /doc, /widget.js, headers, CORS, files, Gradio /ask."""

from __future__ import annotations

import html
import http.client
import json
import logging
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.config import Settings
from qa.errors import InputError, QAError
from qa.schema import Answer
from qa.search.inputs import MAX_HISTORY_ITEMS
from qa.service import QAService
from qa.startup import open_service
from qa.web.app import create_app
from qa.web.chat import chat_turn
from qa.web.ratelimit import RateLimiter
from qa.web.security import MAX_BODY, OriginPolicy, body_limit, parse_origins
from tests.servers import BackgroundServer

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "seeds" / "000_1ba926b528c724f1.txt"
QUESTION = "Thủ đô của Việt Nam là gì?"
HTML_DOC = "Thẻ <script>alert(1)</script> và <b>đậm</b> nằm trong văn bản này. Câu thứ hai & cuối."
ALLOWED = "http://localhost:5173"
EVIL = "http://evil.example"


def make_service(docs: Path, index: Path, encoder: Any) -> QAService:
    (docs / "markup.txt").write_text(HTML_DOC, encoding="utf-8")
    shutil.copy(SEED, docs / SEED.name)
    return open_service(Settings(docs_dir=docs, index_dir=index, auto_build="missing"), encoder=encoder,
                        log=lambda m: None, progress=False)


@pytest.fixture(scope="module")
def _cache() -> Iterator[dict[str, Any]]:
    """One service + app per module (the fake encoder fixture is per test, so it is filled on first use)."""
    cache: dict[str, Any] = {}
    yield cache
    if "client" in cache:
        cache["client"].__exit__(None, None, None)


@pytest.fixture
def svc(_cache: dict[str, Any], small_docs: Path, fake_encoder: Any) -> QAService:
    if "svc" not in _cache:
        docs = small_docs.parent / "docs_web"
        shutil.copytree(small_docs, docs)
        _cache["svc"] = make_service(docs, small_docs.parent / "index_web", fake_encoder)
    return _cache["svc"]


@pytest.fixture
def client(_cache: dict[str, Any], svc: QAService) -> TestClient:
    if "client" not in _cache:
        c = TestClient(create_app(svc, rate_limiter=RateLimiter(0)))  # TestClient is not loopback
        c.__enter__()  # runs the lifespan: Gradio's queue starts
        _cache["client"] = c
    return _cache["client"]


def post_ask(client: TestClient, body: Any, **kw: Any) -> Any:
    return client.post("/api/ask", content=body if isinstance(body, bytes) else json.dumps(body), **kw)


# --- /api/ask ---------------------------------------------------------------------------------

def test_api_ask_returns_the_cli_json_object(client: TestClient, svc: QAService) -> None:
    r = post_ask(client, {"question": QUESTION, "top_k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body == svc.ask(QUESTION, top_k=3).to_dict()
    assert set(body) == {"question", "answer", "passages"}
    a = body["answer"]
    assert set(a) == {"text", "doc", "start", "end", "score", "tentative", "phrase"}
    assert a["doc"] == "hanoi.md"
    assert svc.document(a["doc"]).text[a["start"]:a["end"]] == a["text"]  # type: ignore[union-attr]
    assert 1 <= len(body["passages"]) <= 3
    for p in body["passages"]:
        assert set(p) == {"doc", "title", "text", "start", "end", "score", "highlights"}
        assert svc.document(p["doc"]).text[p["start"]:p["end"]] == p["text"]  # type: ignore[union-attr]
        for h in p["highlights"]:
            assert p["start"] <= h["start"] < h["end"] <= p["end"] and h["label"] in ("answer", "phrase", "term")


def test_api_ask_top_k_defaults_to_5(client: TestClient, svc: QAService) -> None:
    r = post_ask(client, {"question": QUESTION})
    assert r.status_code == 200 and r.json() == svc.ask(QUESTION, top_k=5).to_dict()
    assert len(r.json()["passages"]) == 5


@pytest.mark.parametrize("body", [
    {"question": ""}, {"question": "   \n "}, {"question": "x" * 5000}, {"question": 42}, {},
    {"question": QUESTION, "top_k": 0}, {"question": QUESTION, "top_k": "5"},
    {"question": QUESTION, "top_k": True},
])
def test_api_ask_bad_input_is_400_with_the_vietnamese_message(client: TestClient, svc: QAService,
                                                              body: dict[str, Any]) -> None:
    with pytest.raises(InputError) as expected:
        svc.ask(body.get("question"), top_k=body.get("top_k", 5))
    r = post_ask(client, body)
    assert r.status_code == 400
    assert r.json() == {"error": str(expected.value), "message_vi": expected.value.message_vi}


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"question"', b"\xff\xfe{}", b"null"])
def test_api_ask_malformed_json_is_400(client: TestClient, raw: bytes) -> None:
    r = post_ask(client, raw)
    assert r.status_code == 400
    assert set(r.json()) == {"error", "message_vi"}
    assert r.json()["message_vi"].startswith("Yêu cầu không hợp lệ")


def test_api_ask_body_limit_is_413_with_or_without_content_length(client: TestClient) -> None:
    limit = body_limit(1000, MAX_HISTORY_ITEMS)
    big = json.dumps({"question": "a" * limit}).encode()
    assert post_ask(client, big).status_code == 413
    chunks = iter([big[:1000], big[1000:]])  # streamed: no Content-Length to trust
    r = client.post("/api/ask", content=chunks)
    assert r.status_code == 413 and r.json()["message_vi"] == "Câu hỏi quá dài. Vui lòng rút gọn dưới 1000 ký tự."
    just_fits = json.dumps({"question": QUESTION, "pad": "p" * (limit - 100)}).encode()
    assert len(just_fits) <= limit and post_ask(client, just_fits).status_code == 200


def test_healthz(client: TestClient, svc: QAService) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", **svc.status()}
    assert r.json()["documents"] == 5


# --- headers, CORS, files -----------------------------------------------------------------------

FRAME = "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*"


@pytest.mark.parametrize("method,path", [("GET", "/"), ("POST", "/api/ask"), ("GET", "/healthz"),
                                         ("GET", "/widget.js"), ("GET", "/doc?doc=hanoi.md"),
                                         ("GET", "/gradio_api/info"), ("GET", "/no/such/page")])
def test_security_headers_on_every_response(client: TestClient, method: str, path: str) -> None:
    r = client.request(method, path, content=json.dumps({"question": QUESTION}) if method == "POST" else None)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["content-security-policy"].endswith(FRAME)
    assert "object-src 'none'" in r.headers["content-security-policy"] or \
        r.headers["content-security-policy"].startswith("default-src 'none'")


def test_json_and_doc_routes_get_a_script_free_csp(client: TestClient) -> None:
    for path in ("/healthz", "/doc?doc=hanoi.md"):
        assert client.get(path).headers["content-security-policy"].startswith("default-src 'none';")


@pytest.mark.parametrize("path", ["/api/ask", "/healthz", "/widget.js"])
def test_cors_allows_listed_origins_only(client: TestClient, path: str) -> None:
    def call(origin: str) -> Any:
        if path == "/api/ask":
            return post_ask(client, {"question": QUESTION}, headers={"Origin": origin})
        return client.get(path, headers={"Origin": origin})

    ok = call(ALLOWED)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in ok.headers["vary"]
    bad = call(EVIL)
    assert bad.status_code == 200 and "access-control-allow-origin" not in bad.headers


def test_cors_preflight(client: TestClient) -> None:
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = client.options("/api/ask", headers={"Origin": ALLOWED, **pre})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert ok.headers["access-control-allow-headers"] == "Content-Type"
    bad = client.options("/api/ask", headers={"Origin": EVIL, **pre})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers


def test_cors_never_widened_on_gradio_or_doc_routes(client: TestClient) -> None:
    for path in ("/gradio_api/info", "/config", "/"):
        assert "access-control-allow-origin" not in client.get(path, headers={"Origin": EVIL}).headers
    doc = client.get("/doc?doc=hanoi.md", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in doc.headers


def test_custom_allow_list(svc: QAService) -> None:
    app = create_app(svc, allowed_origins=["https://docs.example.com"], rate_limiter=RateLimiter(0))
    with TestClient(app) as c:
        r = c.get("/healthz", headers={"Origin": "https://docs.example.com"})
        assert r.headers["access-control-allow-origin"] == "https://docs.example.com"
        assert r.headers["content-security-policy"].endswith("frame-ancestors 'self' https://docs.example.com")
        assert "access-control-allow-origin" not in c.get("/healthz", headers={"Origin": ALLOWED}).headers


def test_origin_patterns() -> None:
    assert parse_origins(None) == ["http://localhost:*", "http://127.0.0.1:*"]
    assert parse_origins(" https://A.example.com/ ,http://localhost:*") == ["https://a.example.com", "http://localhost:*"]
    p = OriginPolicy(parse_origins("http://localhost:*,https://*.example.com,http://10.0.0.1:8080"))
    allowed = ["http://localhost", "http://localhost:3000", "https://a.example.com", "https://a.b.example.com",
               "http://10.0.0.1:8080"]
    refused = ["http://localhost.evil.com", "https://localhost:3000", "https://example.com",
               "https://example.com.evil.org", "http://10.0.0.1:8081", "null", ""]
    assert [o for o in allowed + refused if p.allows(o)] == allowed
    assert OriginPolicy(["*"]).allows("http://anything.example") and OriginPolicy(["*"]).csp("x") == \
        "x; frame-ancestors *"
    for bad in ("localhost:3000", "ftp://x.example", "http://x.example/path", "http://*"):
        with pytest.raises(QAError, match="QA_ALLOWED_ORIGINS"):
            parse_origins(bad)


TRAVERSALS = [
    "/file=/etc/passwd", "/gradio_api/file=/etc/passwd", "/gradio_api/file=%2Fetc%2Fpasswd",
    "/gradio_api/file=../../../../../../etc/passwd", "/gradio_api/file%3D/etc/passwd",
    "/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/%252e%252e/%252e%252e/etc/passwd", "/assets/../../../../etc/passwd",
    "/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/gradio_api/static/../../../../etc/passwd",
    "/widget.js/../../etc/passwd", "/doc?doc=../../../../etc/passwd", "/doc?doc=/etc/passwd",
    "/etc/passwd", "/file=app.py", "/gradio_api/file=app.py", "/gradio_api/file=" + str(REPO / "app.py"),
]


def test_no_file_outside_the_app_assets_is_served(svc: QAService) -> None:
    """Raw paths over a real socket (an HTTP client library would normalize the dot segments)."""
    secret_paths = [str(svc.settings.docs_dir / "hanoi.md"), str(svc.settings.index_dir / "manifest.json")]
    paths = TRAVERSALS + [f"{route}={p}" for p in secret_paths for route in ("/gradio_api/file", "/file")]
    with BackgroundServer(create_app(svc)) as url:
        host, port = url.removeprefix("http://").split(":")
        got = {}
        for path in paths:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            got[path] = (resp.status, b"root:" in body or "Hà Nội là thủ đô".encode() in body)
    assert {p: v for p, v in got.items() if v[0] not in (403, 404) or v[1]} == {}


# --- /doc and /widget.js -------------------------------------------------------------------------

def test_doc_view_escapes_text_and_marks_the_answer(client: TestClient) -> None:
    start = HTML_DOC.index("<b>")
    end = start + len("<b>đậm</b>")
    r = client.get("/doc", params={"doc": "markup.txt", "start": 0, "end": len(HTML_DOC),
                                   "a_start": start, "a_end": end, "q": "alert của script"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<script>" not in page and "<b>đậm" not in page
    assert '<mark class="qa-answer">&lt;b&gt;đậm&lt;/b&gt;</mark>' in page
    assert page.count('<mark class="qa-term">script</mark>') == 2
    assert '<mark class="qa-term">alert</mark>' in page
    assert '<a id="qa-focus" class="qa-anchor"></a>' in page
    assert "Câu thứ hai &amp; cuối." in page


def test_doc_view_unknown_document_is_404(client: TestClient) -> None:
    r = client.get("/doc", params={"doc": "nope.txt"})
    assert r.status_code == 404 and "Không tìm thấy tài liệu" in r.text


def test_doc_view_clamps_offsets(client: TestClient) -> None:
    r = client.get("/doc", params={"doc": "hue.txt", "start": "-50", "end": "99999", "a_start": "x"})
    assert r.status_code == 200 and 'class="qa-answer"' not in r.text and "ký tự 0–61 / 61 ký tự" in r.text


def test_widget_script_is_served_and_builds_dom_without_innerhtml(client: TestClient) -> None:
    r = client.get("/widget.js")
    assert r.status_code == 200 and r.headers["content-type"] == "text/javascript; charset=utf-8"
    src = r.text
    assert "attachShadow" in src and "document.currentScript" in src and '"/api/ask"' in src
    assert "innerHTML" not in src and "insertAdjacentHTML" not in src and "document.write" not in src


# --- chat rendering ------------------------------------------------------------------------------

def test_chat_turn_shows_input_errors_in_vietnamese(svc: QAService) -> None:
    history = chat_turn(svc, "", [])
    assert history == [{"role": "assistant", "content": '<div class="qa-error">Vui lòng nhập câu hỏi.</div>'}]
    evil = "<img src=x onerror=alert(1)>"
    history = chat_turn(svc, evil, history)
    assert history[1] == {"role": "user", "content": html.escape(evil)}
    assert history[2]["role"] == "assistant" and "<img" not in history[2]["content"]


# --- Gradio API and the entry point --------------------------------------------------------------

def test_gradio_client_ask_endpoint(svc: QAService) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with BackgroundServer(create_app(svc)) as url:
        c = Client(url, verbose=False)
        assert set(c.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {"/ask"}
        assert c.predict(QUESTION, 5, api_name="/ask") == svc.ask(QUESTION, top_k=5).to_dict()
        assert c.predict(question=QUESTION, api_name="/ask") == svc.ask(QUESTION).to_dict()
        with pytest.raises(AppError, match="Vui lòng nhập câu hỏi."):
            c.predict("  ", 5, api_name="/ask")


def test_a_bad_gradio_ask_is_one_log_line_not_two_tracebacks(svc: QAService, caplog: pytest.LogCaptureFixture,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with BackgroundServer(create_app(svc)) as url, caplog.at_level(logging.INFO):
        c = Client(url, verbose=False)
        capfd.readouterr()
        with pytest.raises(AppError, match="Câu hỏi quá dài"):
            c.predict("x" * 5000, 5, api_name="/ask")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected")]
    assert lines == ["rejected Gradio /ask (400): the question has 5000 characters; the limit is 1000 "
                     "(QA_MAX_QUESTION_CHARS)"]
    assert "Traceback" not in capfd.readouterr().err


def test_app_import_is_light_and_bad_startup_is_one_line(tmp_path: Path) -> None:
    code = "import sys, app; print(sorted(m for m in ('gradio', 'torch', 'uvicorn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    cases = [({"QA_AUTO_BUILD": "maybe"}, "error: QA_AUTO_BUILD='maybe'; use one of never, missing, stale"),
             ({"QA_ALLOWED_ORIGINS": "evil"}, "error: allowed origin 'evil' (QA_ALLOWED_ORIGINS) is not"),
             ({"QA_PORT": "http"}, "error: QA_PORT='http' is not a whole number; the default is 7860")]
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    cases.append(({"QA_PORT": str(port)}, f"error: cannot listen on 127.0.0.1:{port}: "))
    for env, msg in cases:
        r = subprocess.run([sys.executable, "app.py"], cwd=REPO, capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env})
        assert r.returncode == 2 and r.stderr.startswith(msg) and r.stderr.count("\n") == 1
        assert "Traceback" not in r.stderr
    busy.close()


class _Broken:
    """A service whose answering code crashes (a bug, not bad input)."""

    def __init__(self, svc: QAService) -> None:
        self.svc = svc

    def ask(self, question: object, top_k: int = 5) -> Answer:
        raise RuntimeError("/secret/path exploded")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.svc, name)


def test_internal_errors_are_a_vietnamese_sentence_not_a_traceback(svc: QAService) -> None:
    broken: Any = _Broken(svc)
    with TestClient(create_app(broken, rate_limiter=RateLimiter(0))) as c:
        r = post_ask(c, {"question": QUESTION})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error", "message_vi": "Đã có lỗi xảy ra khi trả lời; vui lòng thử lại."}
    turn = chat_turn(broken, QUESTION, [])
    assert turn[-1]["content"] == '<div class="qa-error">Đã có lỗi xảy ra khi trả lời; vui lòng thử lại.</div>'


def test_api_rate_limit_answers_429_with_cors_and_message_vi(svc: QAService) -> None:
    with TestClient(create_app(svc, rate_limiter=RateLimiter(rate_per_minute=60, burst=2))) as c:
        codes = [post_ask(c, {"question": QUESTION}, headers={"Origin": ALLOWED}).status_code for _ in range(3)]
        r = post_ask(c, {"question": QUESTION}, headers={"Origin": ALLOWED})
        assert codes == [200, 200, 429] and r.status_code == 429
        assert r.json()["message_vi"].startswith("Bạn gửi quá nhiều câu hỏi.")
        assert r.headers["access-control-allow-origin"] == ALLOWED
        assert r.headers["x-content-type-options"] == "nosniff"
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200  # UI and health unlimited


# --- methods: HEAD where GET works, 405 for the wrong one ------------------------------------------

@pytest.mark.parametrize("path", ["/", "/healthz", "/widget.js", "/doc?doc=hanoi.md", "/config"])
def test_head_works_wherever_get_does(client: TestClient, path: str) -> None:
    get, head = client.get(path), client.head(path)
    assert get.status_code == head.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/api/ask", "POST, OPTIONS"), ("PUT", "/api/ask", "POST, OPTIONS"),
    ("DELETE", "/healthz", "GET, HEAD, OPTIONS"), ("POST", "/healthz", "GET, HEAD, OPTIONS"),
    ("POST", "/widget.js", "GET, HEAD, OPTIONS"), ("PATCH", "/doc", "GET, HEAD, OPTIONS"),
])
def test_wrong_methods_are_405_with_allow(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert r.json()["message_vi"].startswith(f"Phương thức {method} không dùng được")
    assert r.headers["content-security-policy"].startswith("default-src 'none'")


def test_healthz_says_which_index_is_served(client: TestClient, svc: QAService) -> None:
    h = client.get("/healthz").json()
    assert h["built_at"] == svc.data.manifest.built_at and h["documents"] == len(svc.data.documents)
    assert h["loaded_at"] and h["reloads"] == svc.reloads


# --- follow-ups over the API --------------------------------------------------------------------

def test_api_ask_resolves_a_follow_up_from_history(client: TestClient, svc: QAService) -> None:
    r = post_ask(client, {"question": "còn Huế thì sao?", "history": ["Thủ đô của Việt Nam là gì?"]})
    assert r.status_code == 200
    body = r.json()
    assert body["question"] == "còn Huế thì sao?" and body["resolved_question"] == "Thủ đô của Huế là gì?"
    same = svc.ask("Thủ đô của Huế là gì?").to_dict()
    assert body["passages"] == same["passages"] and body["answer"] == same["answer"]
    alone = post_ask(client, {"question": QUESTION, "history": ["Huế là gì?"]}).json()
    assert alone == post_ask(client, {"question": QUESTION}).json() and "resolved_question" not in alone


@pytest.mark.parametrize("history", ["một câu", 5, [1], ["x" * 2000], ["q"] * 21, {"a": 1}])
def test_api_ask_bad_history_is_400(client: TestClient, history: Any) -> None:
    r = post_ask(client, {"question": QUESTION, "history": history})
    assert r.status_code == 400 and "history" in r.json()["message_vi"]


def test_an_over_long_question_gets_one_message_however_the_json_is_escaped(client: TestClient, svc: QAService,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    question = ("Hội nghị ở đâu ạ? " + "ở đâu ạ " * 700)[:4999] + "?"
    raw = json.dumps({"question": question}, ensure_ascii=False).encode("utf-8")
    escaped = json.dumps({"question": question}).encode("ascii")  # json.dumps' default: \\u1ed9 …
    assert len(raw) < MAX_BODY < len(escaped)
    with pytest.raises(InputError) as expected:
        svc.ask(question)
    with caplog.at_level(logging.INFO, logger="qa.web"):
        answers = [post_ask(client, raw), post_ask(client, escaped)]
    for r in answers:
        assert r.status_code == 400
        assert r.json()["message_vi"] == expected.value.message_vi == \
            "Câu hỏi quá dài (5000 ký tự). Vui lòng rút gọn dưới 1000 ký tự."
    rejected = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected")]
    assert len(rejected) == 2
    assert all(m.startswith("rejected POST /api/ask (400): the question has 5000") for m in rejected)


def test_a_body_far_over_the_question_limit_is_413_in_the_same_words(client: TestClient) -> None:
    limit = body_limit(1000, MAX_HISTORY_ITEMS)
    big = json.dumps({"question": "ạ" * (limit // 6)}).encode()
    assert len(big) > limit
    r = post_ask(client, big)
    assert r.status_code == 413
    assert r.json()["message_vi"] == "Câu hỏi quá dài. Vui lòng rút gọn dưới 1000 ký tự."


def test_every_refused_request_logs_one_line_and_no_traceback(client: TestClient, caplog: pytest.LogCaptureFixture,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.INFO):
        assert post_ask(client, {"question": ""}).status_code == 400
        assert post_ask(client, b"{not json").status_code == 400
        assert client.get("/api/ask").status_code == 405
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected")]
    assert lines == ["rejected POST /api/ask (400): the question is empty",
                     'rejected POST /api/ask (400): body must be JSON like {"question": "...", "top_k": 5}',
                     "rejected GET /api/ask (405): GET is not allowed on /api/ask; use POST"]
    assert all(r.exc_info is None for r in caplog.records)
    assert "Traceback" not in capfd.readouterr().err


def test_the_api_alone_answers_as_the_full_app_does(client: TestClient, svc: QAService) -> None:
    """app.py serves /api/ask with this one while the chat loads: same answers, same refusals, no chat."""
    with TestClient(create_app(svc, rate_limiter=RateLimiter(0), chat=False)) as api:
        same = post_ask(api, {"question": QUESTION}).json()
        assert same == post_ask(client, {"question": QUESTION}).json()
        assert same["answer"] is not None
        bad = post_ask(api, {"question": "   "})
        assert bad.status_code == 400 and bad.json()["message_vi"] == "Vui lòng nhập câu hỏi."
        assert api.get("/").status_code == 404  # no Gradio mounted
        assert api.get("/widget.js").status_code == 200
