"""Headless Chromium on round 2's rough edges: the answer's first line on a phone, Markdown documents,
accessible labels without HTML, Vietnamese labels, and the widget with an out-of-range data-top-k."""

from __future__ import annotations

import functools
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
from tests.web.chromium import open_chat
from tests.web.test_browser_product import HOST_PAGE, SEED, _Host, _Quiet, ask_chat, last_reply

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

TESLA = ("# Nikola Tesla\n\n## Phần 1: Các tác phẩm của Luther\n\n"
         "Nikola Tesla là một nhà phát minh người Serbia. Tesla sinh năm 1856 tại làng Smiljan.\n\n"
         "## Phần 2: Sự nghiệp\n\nNăm 1884 Tesla đến New York làm việc cho Thomas Edison.\n\n"
         "# Người Huguenot\n\nNgười Huguenot là những người Tin Lành ở Pháp.\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("md")
    docs = root / "docs"
    docs.mkdir()
    for name, text in SMALL_CORPUS.items():
        (docs / name).write_text(text, encoding="utf-8")
    (docs / "tesla.md").write_text(TESLA, encoding="utf-8")
    (docs / SEED.name).write_bytes(SEED.read_bytes())
    enc = FakeEncoder()
    build_index(docs, root / "index", enc)
    settings = Settings(docs_dir=docs, index_dir=root / "index", auto_build="never", web=WebSettings())
    svc = QAService(load_index(root / "index"), enc, settings, reader=FakeReader(), decision=Decision.neutral(),
                    signature=manifest_signature(root / "index"))
    with BackgroundServer(create_app(svc)) as url:
        yield url


def _page(browser: Any, width: int, height: int) -> Any:
    ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=width < 500,
                              has_touch=width < 500)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    return page


FIRST_LINE_COVERED = """box => {
  const r = box.getBoundingClientRect();
  const y = r.top + 6;  // inside the box's first line of text
  const hit = [r.left + 12, r.left + r.width / 2].map(x => document.elementFromPoint(x, y));
  return {top: r.top, covered: hit.some(el => !el || !box.contains(el))};
}"""


def test_on_a_phone_the_answers_first_line_is_visible_and_not_covered(browser: Any, site: str) -> None:
    page = _page(browser, 390, 844)
    open_chat(page, site + "/")
    for q in ("Ai chủ trì hội nghị?", "Tesla sinh năm nào?", "Thu ngân sách năm 2017 đạt bao nhiêu?"):
        ask_chat(page, q)
        page.wait_for_timeout(400)  # the scroll settles
        seen = last_reply(page).evaluate(FIRST_LINE_COVERED)
        assert 0 <= seen["top"] < 844 * 0.6 and not seen["covered"], (q, seen)
    page.context.close()


def test_no_hash_in_suggested_questions_or_cards_on_a_markdown_document(browser: Any, site: str) -> None:
    page = _page(browser, 1280, 900)
    open_chat(page, site + "/")
    page.locator("#qa-examples button").first.wait_for()
    examples = [b.inner_text() for b in page.locator("#qa-examples button").all()]
    assert examples and not any("#" in q or "như thế nào" in q for q in examples)
    ask_chat(page, "Tesla sinh năm nào?")
    cards = page.locator("#qa-chat details.qa-card").all()
    assert any("tesla.md" in c.inner_text() for c in cards)
    for c in cards:
        c.evaluate("d => d.open = true")
        assert "#" not in c.inner_text()
    heading = page.locator("#qa-chat .qa-card .qa-h1").first
    assert heading.inner_text() == "Nikola Tesla"
    assert float(heading.evaluate("e => parseFloat(getComputedStyle(e).fontWeight)")) >= 600
    # the document view: headings as headings, the phrase marked, not only the sentence
    href = last_reply(page).locator(".qa-cite a.qa-open").get_attribute("href")
    page.goto(site + "/" + href)
    assert "#" not in page.locator("main.qa-doc").inner_text()
    assert page.locator("main.qa-doc mark.qa-phrase").count() == 1
    page.context.close()


def test_labels_are_vietnamese_and_plain_text(browser: Any, site: str) -> None:
    page = _page(browser, 1280, 900)
    open_chat(page, site + "/")
    ask_chat(page, "Tesla sinh năm nào?")
    page.wait_for_function("() => [...document.querySelectorAll('[aria-label]')]"
                           ".some(e => e.getAttribute('aria-label').startsWith('Hệ thống: '))")
    labels = page.evaluate("() => [...document.querySelectorAll('[aria-label]')]"
                           ".map(e => e.getAttribute('aria-label'))")
    bot = [x for x in labels if x.startswith("Hệ thống: ")]
    assert bot and all("<" not in x for x in bot) and "1856" in bot[-1]
    assert not any(x in ("Clear", "Copy message", "chatbot conversation") or "'s message" in x for x in labels)
    assert "Hội thoại" in labels
    assert "Use via API" not in page.locator("body").inner_text()
    # the copy button of the newest message and anything else at the chat's top right do not overlap
    boxes = page.evaluate("""() => [...document.querySelectorAll('#qa-chat button')]
        .filter(b => b.offsetParent).map(b => b.getBoundingClientRect().toJSON())""")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0 and \
                min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0
            assert not overlap, (a, b)
    page.context.close()


@pytest.fixture(scope="module")
def host_999(site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("host999")
    page = HOST_PAGE.format(url=site).replace('defer>', 'data-top-k="999" defer>')
    assert 'data-top-k="999"' in page
    (root / "index.html").write_text(page, encoding="utf-8")
    srv = _Host(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/index.html"
    srv.close()


def test_widget_with_an_out_of_range_top_k_answers_and_warns_once(browser: Any, host_999: str) -> None:
    page = _page(browser, 1100, 900)
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(host_999)
    widget = page.locator("[data-qa-widget]")
    widget.locator(".bubble").click()
    for q in ("Hải Phòng là gì?", "Huế ở đâu?"):
        n = widget.locator(".msg.bot:not(.pending)").count()
        widget.locator("input").fill(q)
        widget.locator("input").press("Enter")
        widget.locator(".msg.bot:not(.pending)").nth(n).wait_for()
        reply = widget.locator(".msg.bot").last
        assert reply.locator(".error").count() == 0 and reply.locator(".answer-box, .abstain").count() == 1
    ours = [w for w in warnings if "data-top-k" in w]
    assert len(ours) == 1 and '"999"' in ours[0] and "50" in ours[0]
    page.context.close()


def test_widget_shows_the_confidence_word(browser: Any, site: str, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(HOST_PAGE.format(url=site), encoding="utf-8")
    srv = _Host(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        page = _page(browser, 1100, 900)
        page.goto(f"http://127.0.0.1:{srv.server_address[1]}/index.html")
        widget = page.locator("[data-qa-widget]")
        widget.locator(".bubble").click()
        widget.locator("input").fill("Tesla sinh năm nào?")
        widget.locator("input").press("Enter")
        conf = widget.locator(".answer-box .conf")
        conf.wait_for()
        assert conf.inner_text().split(" ", 1)[1] in ("chắc chắn", "khá chắc", "có thể")
        assert conf.get_attribute("title").startswith("Xác suất đúng ước tính: ")
        assert "#" not in widget.locator(".log").inner_text()
        page.context.close()
    finally:
        srv.close()
