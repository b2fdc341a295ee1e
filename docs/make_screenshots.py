"""Take docs/chat.png and docs/widget.png with the real default model on the seed document.

    python docs/make_screenshots.py                      # builds a throwaway index (~40 s on 2 cores)
    python docs/make_screenshots.py --index index        # reuse an index built by `qa index build`

Needs /usr/bin/chromium and the playwright package (no browser download).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHAT_Q = "Ai chủ trì hội nghị?"
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

    from qa.config import Settings
    from qa.service import open_service
    from qa.web.app import create_app
    from tests.servers import BackgroundServer  # the repository root is on sys.path (see above)

    tmp = tempfile.TemporaryDirectory()
    index = Path(args.index) if args.index else Path(tmp.name) / "index"
    svc = open_service(Settings(docs_dir=Path(args.docs), index_dir=index, auto_build="missing"))
    out = Path(args.out)
    root = Path(tmp.name) / "host"
    root.mkdir()
    with BackgroundServer(create_app(svc)) as url:
        (root / "index.html").write_text(HOST_PAGE.format(url=url), encoding="utf-8")
        host = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root)))
        threading.Thread(target=host.serve_forever, daemon=True).start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
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
            browser.close()
        host.shutdown()
    tmp.cleanup()
    print(f"wrote {out / 'chat.png'} and {out / 'widget.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
