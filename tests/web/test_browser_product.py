"""Headless Chromium through what a user meets: the operator page feeding the chat live, follow-ups in the
chat and the widget, the widget on a refused origin, and the answer kept in view on a phone."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.answer.decide import Decision
from qa.config import Settings, WebSettings
from qa.index.build import build_index
from qa.index.store import load_index
from qa.service import QAService, manifest_signature
from qa.web.app import create_app
from tests.conftest import SMALL_CORPUS, FakeEncoder, FakeReader
from tests.servers import BackgroundServer
from tests.web.chromium import CHROMIUM, MISSING, open_chat

pytestmark = pytest.mark.browser

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_1ba926b528c724f1.txt"
TOKEN = "browser-admin-token-0123456789"
NEW_DOC = ("Vịnh Hạ Long ở tỉnh Quảng Ninh có gần 2000 hòn đảo lớn nhỏ.\n\n"
           "Vịnh Hạ Long được UNESCO công nhận là di sản thiên nhiên thế giới năm 1994.")
NEW_Q = "Vịnh Hạ Long có bao nhiêu hòn đảo?"
HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Trang khác</title></head>
<body><h1>Trang của bên thứ ba</h1><script src="{url}/widget.js" defer></script></body></html>"""

if not CHROMIUM.exists():
    pytest.skip(MISSING, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The small corpus plus the seed article, an operator token, a fast index watcher."""
    root = tmp_path_factory.mktemp("product")
    docs = root / "docs"
    docs.mkdir()
    for name, text in SMALL_CORPUS.items():
        (docs / name).write_text(text, encoding="utf-8")
    shutil.copy(SEED, docs / SEED.name)
    enc = FakeEncoder()
    build_index(docs, root / "index", enc)
    settings = Settings(docs_dir=docs, index_dir=root / "index", auto_build="never",
                        web=WebSettings(admin_token=TOKEN, reload_interval=1))
    # the fake reader answers with a phrase, as the real one does (and abstains on unrelated text)
    svc = QAService(load_index(root / "index"), enc, settings, reader=FakeReader(), decision=Decision.neutral(),
                    signature=manifest_signature(root / "index"))
    with BackgroundServer(create_app(svc)) as url:
        yield {"url": url, "svc": svc, "root": root, "docs": docs}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()


def ask_chat(page: Any, question: str) -> None:
    n = page.locator("#qa-chat .qa-answer-box, #qa-chat .qa-abstain, #qa-chat .qa-error").count()
    page.fill("#qa-input textarea", question)
    page.click("#qa-send")
    try:
        page.wait_for_function(
            "n => document.querySelectorAll('#qa-chat .qa-answer-box, #qa-chat .qa-abstain, #qa-chat .qa-error')"
            ".length > n", arg=n, timeout=60_000)  # a loaded 2-core CI machine can take long over one
    except sync_api.TimeoutError as e:  # say what the page showed, so a failure on CI can be read
        box = page.locator("#qa-input textarea").input_value()
        chat = page.locator("#qa-chat").inner_text()[-400:]
        raise AssertionError(f"no reply to {question!r}; the box holds {box!r}; the chat ends {chat!r}") from e


def last_reply(page: Any) -> Any:
    return page.locator("#qa-chat .qa-answer-box, #qa-chat .qa-abstain, #qa-chat .qa-error").last


def wait_job_done(admin: Any, documents: int) -> str:
    """The job line once a job ended with `documents` documents served (or failed)."""
    admin.wait_for_function("n => { const t = document.getElementById('job-text').textContent;"
                            " return t.includes('Xong: ' + n + ' tài liệu') || t.includes('Thất bại'); }",
                            arg=documents, timeout=120_000)  # a loaded 2-core machine can be slow
    return admin.locator("#job-text").inner_text()


def test_upload_ask_remove_abstain_without_restart(browser: Any, site: dict[str, Any], tmp_path: Path) -> None:
    svc: QAService = site["svc"]
    url = site["url"]
    f = tmp_path / "Vịnh Hạ Long.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    ctx.on("page", lambda p: p.on("dialog", lambda d: d.accept()))
    admin, chat = ctx.new_page(), ctx.new_page()
    admin.set_default_timeout(30_000)
    chat.set_default_timeout(30_000)
    open_chat(chat, url + "/")  # the chat is open before the document exists, and stays open throughout
    ask_chat(chat, NEW_Q)
    assert last_reply(chat).get_attribute("class") == "qa-abstain"

    admin.goto(url + "/admin")
    assert admin.locator("#panel").is_hidden()
    admin.fill("#token", "wrong-token-wrong-token")
    admin.click("#login-form button")
    admin.locator("#login-error").wait_for(state="visible")
    assert admin.locator("#login-error").inner_text() == "Mã quản trị không đúng."
    admin.fill("#token", TOKEN)
    admin.click("#login-form button")
    admin.locator("#panel").wait_for(state="visible")
    admin.wait_for_function("() => document.querySelectorAll('#docs tbody tr').length === 4")
    admin.set_input_files("#files", str(f))
    admin.click("#upload")
    admin.locator("#upload-log li.ok").wait_for()
    assert "đã tải lên thành “Vịnh Hạ Long.txt”" in admin.locator("#upload-log").inner_text()
    assert admin.locator("#job-bar").count() == 1
    assert wait_job_done(admin, 5).startswith("Cập nhật: Xong: 5 tài liệu")
    # the upload's note follows its job: no "đang cập nhật chỉ mục" once the job says "Xong"
    admin.wait_for_function("() => document.getElementById('upload-log').textContent.includes('đã có trong chỉ mục')")
    assert "đang cập nhật" not in admin.locator("#upload-log").inner_text()
    admin.wait_for_function("() => [...document.querySelectorAll('#docs td.name')]"
                            ".some(td => td.textContent === 'Vịnh Hạ Long.txt')")
    row = admin.locator("#docs tr[data-name='Vịnh Hạ Long.txt']")
    assert row.locator("td").nth(2).inner_text() == "đã có trong chỉ mục"
    assert "Đang phục vụ: 5 tài liệu" in admin.locator("#index-status").inner_text()

    expected = svc.ask(NEW_Q)
    assert expected.answer is not None and expected.answer.doc == "Vịnh Hạ Long.txt"
    ask_chat(chat, NEW_Q)  # same page, same server process
    reply = last_reply(chat)
    assert reply.get_attribute("class") == "qa-answer-box"
    assert reply.locator("mark.qa-answer").inner_text() == expected.answer.text
    assert "Vịnh Hạ Long.txt" in reply.locator(".qa-cite").inner_text()

    row.locator("button", has_text="Xóa").click()  # confirm() accepted by the context's handler
    assert wait_job_done(admin, 4).startswith("Cập nhật: Xong: 4 tài liệu")
    ask_chat(chat, NEW_Q)
    assert last_reply(chat).get_attribute("class") == "qa-abstain"
    assert "Vịnh Hạ Long.txt" not in {p.doc for p in svc.ask(NEW_Q).passages}
    assert list((site["docs"] / ".removed").glob("*Vịnh Hạ Long.txt"))  # kept aside, not lost
    ctx.close()


def test_follow_up_in_the_chat(page: Any, site: dict[str, Any]) -> None:
    svc: QAService = site["svc"]
    open_chat(page, site["url"] + "/")
    ask_chat(page, "Thủ đô của Việt Nam là gì?")
    ask_chat(page, "còn Huế thì sao?")
    expected = svc.ask("còn Huế thì sao?", history=["Thủ đô của Việt Nam là gì?"])
    assert expected.resolved == "Thủ đô của Huế là gì?"
    resolved = page.locator("#qa-chat .qa-resolved").last
    assert resolved.inner_text() == "Hiểu là: “Thủ đô của Huế là gì?”"
    reply = last_reply(page)
    if expected.answer is not None:
        assert reply.locator("mark.qa-answer").inner_text() == expected.answer.text
    first_card = page.locator("#qa-chat details.qa-card").last.locator("xpath=..").locator("details.qa-card").first
    assert expected.passages[0].title in first_card.locator(".qa-card-title").inner_text()
    # "Xóa hội thoại" forgets the conversation: the same words now stand alone
    page.click("#qa-clear")
    page.wait_for_function("() => !document.querySelector('#qa-chat .qa-resolved')")
    ask_chat(page, "còn Huế thì sao?")
    assert page.locator("#qa-chat .qa-resolved").count() == 0


class _Host(http.server.ThreadingHTTPServer):
    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hosts(site: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A third-party page on an allowed origin (127.0.0.1) and on a refused one (127.0.0.2)."""
    out, servers = {}, []
    for ip in ("127.0.0.1", "127.0.0.2"):
        root = tmp_path_factory.mktemp("host")
        (root / "index.html").write_text(HOST_PAGE.format(url=site["url"]), encoding="utf-8")
        srv = _Host((ip, 0), functools.partial(_Quiet, directory=str(root)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        out[ip] = f"http://{ip}:{srv.server_address[1]}/index.html"
    yield out
    for srv in servers:
        srv.close()


def widget_ask(widget: Any, question: str) -> Any:
    n = widget.locator(".msg.bot:not(.pending)").count()
    widget.locator("input").fill(question)
    widget.locator("input").press("Enter")
    widget.locator(".msg.bot:not(.pending)").nth(n).wait_for()
    return widget.locator(".msg.bot").last


def test_widget_follow_up_on_an_allowed_origin(page: Any, site: dict[str, Any], hosts: dict[str, str]) -> None:
    svc: QAService = site["svc"]
    page.goto(hosts["127.0.0.1"])
    widget = page.locator("[data-qa-widget]")
    widget.locator(".bubble").click()
    widget_ask(widget, "Thủ đô của Việt Nam là gì?")
    reply = widget_ask(widget, "còn Huế thì sao?")
    assert reply.locator(".resolved").inner_text() == "Hiểu là: “Thủ đô của Huế là gì?”"
    expected = svc.ask("Thủ đô của Huế là gì?")
    titles = [t.inner_text() for t in reply.locator("details.card .ttl").all()]
    assert titles == [f"[{i}] {p.title[:59] + '…' if len(p.title) > 60 else p.title}"
                      for i, p in enumerate(expected.passages, 1)]


def test_widget_on_a_refused_origin_says_so(page: Any, site: dict[str, Any], hosts: dict[str, str]) -> None:
    page.goto(hosts["127.0.0.2"])
    widget = page.locator("[data-qa-widget]")
    widget.locator(".bubble").click()
    note = widget.locator(".refused")
    note.wait_for()
    assert "chưa được phép dùng khung hỏi đáp này" in note.inner_text()
    assert "http://127.0.0.2:" in note.inner_text() and "QA_ALLOWED_ORIGINS" in note.inner_text()
    assert widget.locator("input").is_disabled()
    assert "Không kết nối được" not in widget.locator(".log").inner_text()


def test_widget_with_the_server_down_says_cannot_connect(page: Any, hosts: dict[str, str], tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()  # nothing listens there
    (tmp_path / "index.html").write_text(HOST_PAGE.format(url=dead), encoding="utf-8")
    srv = _Host(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        page.route(dead + "/widget.js", lambda route: route.fulfill(
            body=(Path(__file__).resolve().parents[2] / "qa" / "web" / "static" / "widget.js").read_text("utf-8"),
            content_type="text/javascript"))
        page.goto(f"http://127.0.0.1:{srv.server_address[1]}/index.html")
        widget = page.locator("[data-qa-widget]")
        widget.locator(".bubble").click()
        reply = widget_ask(widget, "Huế ở đâu?")
        assert reply.inner_text() == "Không kết nối được máy chủ hỏi đáp."
        assert widget.locator(".refused").count() == 0
    finally:
        srv.close()


def test_on_a_phone_the_answer_is_in_view_when_it_arrives(browser: Any, site: dict[str, Any]) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                              device_scale_factor=2)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    open_chat(page, site["url"] + "/")
    for q in ("Ai chủ trì hội nghị?", "Thu ngân sách năm 2017 đạt bao nhiêu?"):  # long answers with 5 cards
        ask_chat(page, q)
        page.wait_for_timeout(400)  # let the scroll settle
        box = last_reply(page).bounding_box()
        assert box is not None and 0 <= box["y"] < 844 * 0.6, box  # its top is on screen, near the top
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    ctx.close()
