"""Headless Chromium against the real server: the chat, the widget on another origin, and XSS attempts."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.service import QAService
from qa.startup import open_service
from qa.web.app import create_app
from tests.servers import BackgroundServer
from tests.web.chromium import ARGS, CHROMIUM, MISSING, open_chat

pytestmark = pytest.mark.browser

QUESTION = "Thủ đô của Việt Nam là gì?"
XSS = "<img src=x onerror=alert(1)>"
HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Trang khác</title>
<style>div, mark, input, button {{ color: red !important; font-size: 40px !important; }}</style></head>
<body><h1>Trang của bên thứ ba</h1><div>nội dung</div>
<script src="{url}/widget.js" defer></script></body></html>"""
FRAME_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head>
<body><iframe src="{url}/" height="700" style="width:100%"></iframe></body></html>"""

if not CHROMIUM.exists():
    pytest.skip(MISSING, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")


@pytest.fixture(scope="module")
def _cache() -> Iterator[dict[str, Any]]:
    cache: dict[str, Any] = {}
    yield cache
    if "browser" in cache:
        cache["browser"].close()
        cache["playwright"].__exit__(None, None, None)
    for srv in cache.get("hosts", []):
        srv.close()
    if "server" in cache:
        cache["server"].__exit__(None, None, None)


@pytest.fixture
def svc(_cache: dict[str, Any], small_docs: Path, fake_encoder: Any) -> QAService:
    if "svc" not in _cache:
        docs = small_docs.parent / "docs_browser"
        shutil.copytree(small_docs, docs)
        s = Settings(docs_dir=docs, index_dir=small_docs.parent / "index_browser", auto_build="missing")
        _cache["svc"] = open_service(s, encoder=fake_encoder, log=lambda m: None, progress=False)
    return _cache["svc"]


@pytest.fixture
def url(_cache: dict[str, Any], svc: QAService) -> str:
    if "url" not in _cache:
        _cache["server"] = BackgroundServer(create_app(svc))
        _cache["url"] = _cache["server"].__enter__()
    return _cache["url"]


class _Host(http.server.ThreadingHTTPServer):
    """A third-party page on another loopback port, with the one-line widget tag."""

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def _serve(_cache: dict[str, Any], url: str, tmp_path_factory: pytest.TempPathFactory, ip: str) -> str:
    """Origin of a static server on `ip` (another port than the app) with index.html and frame.html."""
    if ip not in _cache:
        root = tmp_path_factory.mktemp("host")
        (root / "index.html").write_text(HOST_PAGE.format(url=url), encoding="utf-8")
        (root / "frame.html").write_text(FRAME_PAGE.format(url=url), encoding="utf-8")
        srv = _Host((ip, 0), functools.partial(_Quiet, directory=str(root)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        _cache.setdefault("hosts", []).append(srv)
        _cache[ip] = f"http://{ip}:{srv.server_address[1]}"
    return _cache[ip]


@pytest.fixture
def host_page(_cache: dict[str, Any], url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _serve(_cache, url, tmp_path_factory, "127.0.0.1") + "/index.html"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def dialogs() -> list[str]:
    """Messages of any alert/confirm/prompt a page opened (an XSS would show up here)."""
    return []


@pytest.fixture
def page(_cache: dict[str, Any], dialogs: list[str]) -> Iterator[Any]:
    if "browser" not in _cache:
        _cache["playwright"] = sync_api.sync_playwright()
        pw = _cache["playwright"].__enter__()
        _cache["browser"] = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    ctx = _cache["browser"].new_context(viewport={"width": 1100, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield pg
    ctx.close()


def ask_chat(page: Any, question: str) -> None:
    page.fill("#qa-input textarea", question)
    page.click("#qa-send")


def test_chat_answers_with_a_highlighted_sentence(page: Any, url: str, svc: QAService) -> None:
    result = svc.ask(QUESTION)
    expected = result.answer
    assert expected is not None
    open_chat(page, url + "/")
    ask_chat(page, QUESTION)
    mark = page.locator("#qa-chat .qa-answer-box mark.qa-answer")
    mark.wait_for(state="visible")
    assert mark.inner_text() == expected.text
    assert page.locator("#qa-chat details.qa-card").count() == len(result.passages) == 3
    assert "ký tự" in page.locator("#qa-chat .qa-card").first.inner_text()
    ask_chat(page, "   ")  # bad input: the Vietnamese message, in the chat
    page.locator("#qa-chat .qa-error").wait_for(state="visible")
    assert page.locator("#qa-chat .qa-error").inner_text() == "Vui lòng nhập câu hỏi."


def test_widget_on_another_origin_answers(page: Any, host_page: str, url: str, svc: QAService) -> None:
    result = svc.ask(QUESTION)
    expected = result.answer
    assert expected is not None and not host_page.startswith(url)
    page.goto(host_page)
    widget = page.locator("[data-qa-widget]")
    widget.locator(".bubble").click()
    widget.locator("input").fill(QUESTION)
    widget.locator("input").press("Enter")
    mark = widget.locator(".answer-box mark.answer")
    mark.wait_for(state="visible")
    assert mark.inner_text() == expected.text
    # the answer box has the orange edge; the highlighted answer inside it has none (no stray border)
    assert mark.evaluate("e => getComputedStyle(e).borderLeftWidth") == "0px"
    assert widget.locator(".answer-box").evaluate("e => getComputedStyle(e).borderLeftWidth") == "4px"
    assert widget.locator("details.card").count() == len(result.passages) == 3
    # the host page's `div { color: red; font-size: 40px !important }` does not reach the shadow root
    style = widget.locator(".msg.user").evaluate("e => [getComputedStyle(e).color, "
                                                 "getComputedStyle(e).fontSize]")
    assert style == ["rgb(31, 41, 55)", "14px"]


def test_markup_in_a_question_is_shown_as_text(page: Any, url: str, host_page: str,
                                               dialogs: list[str]) -> None:
    open_chat(page, url + "/")
    ask_chat(page, XSS)
    page.locator("#qa-chat .qa-abstain, #qa-chat .qa-answer-box").first.wait_for(state="visible")
    assert page.locator("#qa-chat .user").first.inner_text() == XSS
    assert page.locator("#qa-chat img[src='x']").count() == 0
    page.goto(host_page)
    widget = page.locator("[data-qa-widget]")
    widget.locator(".bubble").click()
    widget.locator("input").fill(XSS)
    widget.locator("input").press("Enter")
    widget.locator(".abstain, .answer-box").first.wait_for(state="visible")
    assert widget.locator(".msg.user").inner_text() == XSS
    assert widget.locator("img").count() == 0
    assert dialogs == []


def test_iframe_embedding_follows_the_allow_list(page: Any, url: str, _cache: dict[str, Any],
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    allowed = _serve(_cache, url, tmp_path_factory, "127.0.0.1")
    page.goto(allowed + "/frame.html")
    frame = page.frame_locator("iframe")
    frame.locator("#qa-input textarea").fill(QUESTION)
    frame.locator("#qa-send").click()
    frame.locator("#qa-chat mark.qa-answer").first.wait_for(state="visible")
    refused = _serve(_cache, url, tmp_path_factory, "127.0.0.2")  # not in the default allow-list
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text):
        page.goto(refused + "/frame.html")
    assert page.frame_locator("iframe").locator("#qa-input").count() == 0
