"""Where the browser tests find Chromium and how they start it (one place for every browser test file)."""

from __future__ import annotations

import os
from pathlib import Path

# Debian's Chromium (apt-get, root); without root: `python -m playwright install chromium` and point
# QA_CHROMIUM at the browser it downloaded (see README, "Run the tests")
CHROMIUM = Path(os.environ.get("QA_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
MISSING = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium, or set QA_CHROMIUM)"
