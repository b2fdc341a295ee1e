"""Where the browser tests find Chromium and how they start it (one place for every browser test file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Debian's Chromium (apt-get, root); without root: `python -m playwright install chromium` and point
# QA_CHROMIUM at the browser it downloaded (see README, "Run the tests")
CHROMIUM = Path(os.environ.get("QA_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
MISSING = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium, or set QA_CHROMIUM)"


def open_chat(page: Any, url: str) -> None:
    """Go to the chat at `url` and wait until it takes questions (`html[data-qa-ready]`, see
    qa.web.chat.READY_JS): on a loaded machine a question sent before Gradio finished mounting
    could be dropped, and the test then waited for a reply that never came."""
    page.goto(url)
    page.wait_for_function("() => document.documentElement.dataset.qaReady === '1'", timeout=60_000)
