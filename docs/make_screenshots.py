"""Take the README's screenshots with the real default model on the seed document: docs/chat.png
(desktop), docs/chat-390.png (a 390 px phone after a follow-up: the answer in view), docs/widget.png
(the bubble on another site) and docs/admin.png (the operator page after an upload).

    python docs/make_screenshots.py                      # builds a throwaway index (~40 s on 2 cores)
    python docs/make_screenshots.py --index index        # reuse an index built by `qa index build`

Needs Chromium (/usr/bin/chromium, or QA_CHROMIUM=path) and the playwright package (no browser
download). The documents are copied to a temporary folder first: the operator page's upload never
touches --docs.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHAT_Q = "Ai chủ trì hội nghị?"
PHONE_QS = ("Bí thư Thành ủy là ai?", "còn phó bí thư thường trực thì sao?")  # a follow-up on the phone
TOKEN = "screenshot-admin-token-0123456789"
UPLOAD_NAME = "Thông báo lịch họp.txt"
UPLOAD_TEXT = ("Thông báo lịch họp quý I\n\nCuộc họp giao ban quý I sẽ diễn ra vào sáng thứ Hai tuần đầu "
               "tiên của tháng 3 tại hội trường tầng 2.\n")
WIDGET_Q = "Hội nghị có bao nhiêu đại biểu tham dự?"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
HOST_PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cổng thông tin</title>
<style>body{{font-family:Georgia,serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}}
h1{{color:#1e3a8a}}p{{line-height:1.7}}</style></head><body>
<h1>Cổng thông tin nội bộ</h1>
<p>Trang này là một trang web bất kỳ của bên thứ ba. Bong bóng hỏi đáp ở góc dưới bên phải được thêm
bằng đúng một dòng <code>&lt;script src="…/widget.js" defer&gt;&lt;/script&gt;</code>.</p>
<p>Người đọc có thể hỏi về nội dung tài liệu mà không rời khỏi trang; câu trả lời được trích nguyên văn
và có trích dẫn vị trí trong tài liệu.</p>
<script src="{url}/widget.js" defer></script></body></html>"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", default=str(REPO / "seeds"))
    ap.add_argument("--index", help="index folder (default: a temporary one, built now)")
    ap.add_argument("--out", default=str(REPO / "docs"))
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from qa.config import Settings, WebSettings
    from qa.startup import open_service
    from qa.web.app import create_app
    from tests.servers import BackgroundServer  # the repository root is on sys.path (see above)

    chromium = os.environ.get("QA_CHROMIUM", "/usr/bin/chromium")
    tmp = tempfile.TemporaryDirectory()
    docs = Path(tmp.name) / "docs"
    shutil.copytree(args.docs, docs)
    index = Path(tmp.name) / "index"
    if args.index:  # a copy: the upload below updates the served index
        shutil.copytree(args.index, index)
    svc = open_service(Settings(docs_dir=docs, index_dir=index, auto_build="stale",
                                web=WebSettings(admin_token=TOKEN, reload_interval=1)))
    out = Path(args.out)
    upload = Path(tmp.name) / UPLOAD_NAME
    upload.write_text(UPLOAD_TEXT, encoding="utf-8")
    root = Path(tmp.name) / "host"
    root.mkdir()
    with BackgroundServer(create_app(svc)) as url:
        (root / "index.html").write_text(HOST_PAGE.format(url=url), encoding="utf-8")
        host = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root)))
        threading.Thread(target=host.serve_forever, daemon=True).start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 1150})
            page.goto(url + "/")
            page.fill("#qa-input textarea", CHAT_Q)
            page.click("#qa-send")
            page.locator("#qa-chat mark.qa-answer").first.wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            # show the question too: scroll the chat's own scroll box back to its top
            page.evaluate("""() => { for (const e of document.querySelectorAll('#qa-chat *')) {
                if (e.scrollHeight > e.clientHeight + 4 && getComputedStyle(e).overflowY !== 'visible'
                    && !e.closest('.qa-passage')) e.scrollTop = 0; } }""")
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / "chat.png"))
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(f"http://127.0.0.1:{host.server_address[1]}/index.html")
            w = page.locator("[data-qa-widget]")
            w.locator(".bubble").click()
            w.locator("input").fill(WIDGET_Q)
            w.locator("input").press("Enter")
            w.locator("mark.answer").first.wait_for(timeout=60_000)
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / "widget.png"))
            phone(browser, url, out / "chat-390.png")
            admin(browser, url, upload, out / "admin.png")
            browser.close()
        host.shutdown()
    tmp.cleanup()
    print(f"wrote {', '.join(str(out / n) for n in ('chat.png', 'chat-390.png', 'widget.png', 'admin.png'))}")
    return 0


def phone(browser: Any, url: str, path: Path) -> None:
    """A 390 px phone after a question and a follow-up: the chat keeps the new answer in view."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                              device_scale_factor=2)
    page = ctx.new_page()
    page.goto(url + "/")
    sel = "#qa-chat .qa-answer-box, #qa-chat .qa-abstain, #qa-chat .qa-error"
    for q in PHONE_QS:
        n = page.locator(sel).count()
        page.fill("#qa-input textarea", q)
        page.click("#qa-send")
        page.wait_for_function(f"n => document.querySelectorAll('{sel}').length > n", arg=n, timeout=60_000)
    page.wait_for_timeout(600)  # the scroll to the answer
    page.screenshot(path=str(path))
    ctx.close()


def admin(browser: Any, url: str, upload: Path, path: Path) -> None:
    """The operator page after uploading one document: the job done, the new document in the list."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(url + "/admin")
    page.fill("#token", TOKEN)
    page.click("#login-form button")
    page.locator("#panel").wait_for(state="visible")
    page.set_input_files("#files", str(upload))
    page.click("#upload")
    page.wait_for_function("() => document.getElementById('job-text').textContent.includes('Xong')",
                           timeout=120_000)
    page.wait_for_function(f"() => [...document.querySelectorAll('#docs td.name')]"
                           f".some(td => td.textContent === {UPLOAD_NAME!r})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.close()


if __name__ == "__main__":
    sys.exit(main())
