"""Headless Chromium on the starting page (qa.web.starting): a chat user can ask as soon as the JSON API
answers, before Gradio is up, and the page does not reload away from that conversation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from qa.config import Settings
from qa.service import QAService
from qa.startup import open_service
from qa.web.app import create_app
from qa.web.starting import Starting
from tests.servers import BackgroundServer

pytestmark = pytest.mark.browser

QUESTION = "Thủ đô của Việt Nam là gì?"


def _start(small_docs: Path, fake_encoder: Any,
           chat_go: threading.Event) -> tuple[Starting, QAService, Callable[[Starting], FastAPI]]:
    """A Starting app whose build serves the JSON API at once and the chat only once `chat_go` is set
    (as app.py does: the service loads, the API answers, then Gradio is imported and built)."""
    settings = Settings(docs_dir=small_docs, index_dir=small_docs.parent / "index", auto_build="missing")
    service = open_service(settings, encoder=fake_encoder, log=lambda m: None, progress=False)
    starting = Starting(wait_s=5)

    def build(progress: Starting) -> FastAPI:
        progress.serve_api(create_app(service, chat=False))
        progress.log("Building the web interface…")
        chat_go.wait(60)
        return create_app(service)

    return starting, service, build


def _wait_ready(starting: Starting) -> None:
    for _ in range(600):
        if starting.app is not None:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"the app was not built: {starting.failed or starting.step}")


@contextmanager
def _starting_page(browser: Any, starting: Starting, build: Callable[[Starting], FastAPI],
                   width: int) -> Iterator[Any]:
    """The starting page in a fresh browser page, `build` running in the loading thread."""
    with BackgroundServer(starting) as url:
        threading.Thread(target=starting.load, args=(build,), daemon=True).start()
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            page.set_default_timeout(30_000)
            page.goto(url + "/")
            yield page
        finally:
            page.close()


def _chat_opened(page: Any) -> None:
    page.wait_for_selector("html[data-qa-ready='1']", state="attached", timeout=60_000)  # across the reload
    assert page.locator("#qa-chat").count() == 1


def test_a_chat_user_asks_on_the_starting_page_and_keeps_the_answer(
        browser: Any, small_docs: Path, fake_encoder: Any) -> None:
    chat_go = threading.Event()
    starting, service, build = _start(small_docs, fake_encoder, chat_go)
    expected = service.ask(QUESTION).answer
    assert expected is not None
    with _starting_page(browser, starting, build, 1100) as page:
        widget = page.locator("[data-qa-widget]")
        widget.locator("input").wait_for(state="visible")  # opened by itself: data-open
        assert "Hỏi ngay" in page.locator("#intro").inner_text()
        assert page.locator("#qa-chat").count() == 0  # still the starting page: no Gradio yet
        widget.locator("input").fill(QUESTION)
        widget.locator("input").press("Enter")
        mark = widget.locator(".answer-box mark.answer")
        mark.wait_for(state="visible")
        assert mark.inner_text() == expected.text
        chat_go.set()  # the chat is up: the page must offer it, not reload over the answer
        _wait_ready(starting)
        page.locator("#ready button").wait_for(state="visible")
        assert widget.locator(".answer-box mark.answer").inner_text() == expected.text
        page.locator("#ready button").click()
        _chat_opened(page)


def test_the_starting_page_turns_into_the_chat_when_nobody_asked(
        browser: Any, small_docs: Path, fake_encoder: Any) -> None:
    chat_go = threading.Event()
    starting, _service, build = _start(small_docs, fake_encoder, chat_go)
    with _starting_page(browser, starting, build, 390) as page:
        page.locator("[data-qa-widget] input").wait_for(state="visible")
        chat_go.set()
        _wait_ready(starting)
        _chat_opened(page)  # nobody asked: the page reloads into the chat by itself (no goto here)
