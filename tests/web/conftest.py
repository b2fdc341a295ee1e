"""The browser fixture the headless-Chromium test files share (one browser per test module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.chromium import ARGS, CHROMIUM, MISSING


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(MISSING)
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()
