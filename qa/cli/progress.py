"""A tqdm progress bar as a `(done, total)` callback, or nothing when disabled.

>>> with bar(True, "Indexing") as cb:
...     cb(10, 100)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from qa.index.vectors import Progress


@contextmanager
def bar(enabled: bool, desc: str) -> Iterator[Progress | None]:
    """Yield a callback updating a bar on stderr (texts encoded), or None."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    pbar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal pbar
        if pbar is None:
            pbar = tqdm(total=total, desc=desc, unit="câu", leave=True)
        pbar.update(done - pbar.n)

    try:
        yield update
    finally:
        if pbar is not None:
            pbar.close()
