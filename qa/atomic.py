"""Folders written beside their final place and swapped in whole, checked by hash, leftovers swept.

The model cache and the index both rely on this: a reader never sees a half-written folder.

>>> import tempfile; root = Path(tempfile.mkdtemp())
>>> _ = (root / "a.txt").write_text("abc")
>>> file_sha256(root / "a.txt", limit=12)
'ba7816bf8f01'
>>> sweep(root, ["*.txt"], older_than_s=-1) == [root / "a.txt"]
True
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path


def file_sha256(path: Path, limit: int | None = None) -> str:
    """Hex sha256 of a file, streamed; the first `limit` hex digits when given."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:limit] if limit else h.hexdigest()


def fsync_tree(folder: Path) -> None:
    """Flush every file under `folder` to disk before it is renamed into place."""
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(rc == 0)


def swap_in(new: Path, live: Path) -> None:
    """Make `new` the live folder; the old one is removed only after the swap.

    Where renameat2 is missing, the old folder is first renamed to `.<live>.old-*`; a crash between
    the two renames leaves it there for `recover` to put back.
    """
    if not live.exists():
        os.replace(new, live)
        return
    if _exchange(new, live):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".{live.name}.old-", dir=live.parent))  # unique: pids repeat
    os.replace(live, old)
    os.replace(new, live)
    shutil.rmtree(old, ignore_errors=True)


def recover(live: Path, marker: str) -> None:
    """A crash between the two renames of `swap_in` leaves `.<live>.old-*`: put it back."""
    if live.exists():
        return
    for old in sorted(live.parent.glob(f".{live.name}.old-*")):
        if (old / marker).is_file():
            os.replace(old, live)
            return


def sweep(root: Path, patterns: Iterable[str], older_than_s: float = 3600.0) -> list[Path]:
    """Remove what killed writers left under `root` (glob `patterns`), if older than `older_than_s`.

    A younger leftover may belong to a writer running right now, so it stays.
    """
    removed = []
    for pattern in patterns:
        for p in root.glob(pattern):
            try:
                if time.time() - p.stat().st_mtime > older_than_s:
                    if p.is_dir():
                        shutil.rmtree(p)
                    else:
                        p.unlink()
                    removed.append(p)
            except OSError:
                pass
    return removed
