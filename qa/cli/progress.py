"""A tqdm progress bar as a `(done, total)` callback, or nothing when disabled.

>>> with bar(True, "Indexing") as cb:
...     cb(10, 100)
...     cb(3, 40)           # a second phase with its own total restarts the bar
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from qa.index.vectors import Progress


@contextmanager
def bar(enabled: bool, desc: str, unit: str = "texts") -> Iterator[Progress | None]:
    """Yield a callback updating a bar on stderr (`unit`s done of the total), or None."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    pbar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal pbar
        if pbar is None:
            pbar = tqdm(total=total, desc=desc, unit=unit, leave=True)
        elif total != pbar.total or done < pbar.n:  # the next phase of the job (e.g. caching, then steps)
            pbar.reset(total=total)
        pbar.update(done - pbar.n)

    try:
        yield update
    finally:
        if pbar is not None:
            pbar.close()
