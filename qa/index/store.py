"""The index folder: written beside the live one and swapped in atomically; validated on load.

Layout of `index/`: manifest.json, documents.jsonl, chunks.jsonl, chunk_vectors.npy,
sentence_vectors.npy, dense.faiss, bm25_norm/, bm25_folded/.

>>> save_index(data, Path("index"))   # a crash at any point leaves the previous index loadable
>>> load_index(Path("index")).manifest["counts"]
{'documents': 1, 'chunks': 42, 'sentences': 160}
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError, IndexMissingError, QAError
from qa.index.dense import DenseIndex, DenseParams
from qa.index.lexical import LexicalIndex, lexical_files
from qa.model.convert import file_sha256
from qa.schema import Chunk, Document

FORMAT = "qa-vi-index"
FORMAT_VERSION = 1
_HASH_LIMIT = 256 << 20  # files above this are checked by size only (hashing GBs at every start is slow)


@dataclass
class IndexData:
    """Everything a retriever needs, in memory."""

    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    dense: DenseIndex
    lexical: LexicalIndex

    def __post_init__(self) -> None:
        counts = [len(c.sentences) for c in self.chunks]
        # row of chunk i's first sentence in sentence_vectors
        self.sentence_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _doc_row(d: Document) -> dict[str, Any]:
    return {"doc_id": d.doc_id, "title": d.title, "sha256": d.sha256, "text": d.text,
            "spans": [list(s) for s in d.spans]}


def _fsync_tree(folder: Path) -> None:
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
    """Make `new` the live folder; the old one is removed only after the swap."""
    if not live.exists():
        os.replace(new, live)
        return
    if _exchange(new, live):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old index
        return
    old = Path(tempfile.mkdtemp(prefix=f".{live.name}.old-", dir=live.parent))  # unique: pids repeat
    os.replace(live, old)
    os.replace(new, live)  # between these two renames, load_index falls back to `old`
    shutil.rmtree(old, ignore_errors=True)


def save_index(data: IndexData, live: Path) -> None:
    """Write the index into a temporary folder beside `live`, then swap it in."""
    live = live.resolve()
    live.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{live.name}.new-", dir=live.parent))
    try:
        _write_jsonl(tmp / "documents.jsonl", [_doc_row(d) for d in data.documents.values()])
        _write_jsonl(tmp / "chunks.jsonl", [c.to_dict() for c in data.chunks])
        np.save(tmp / "chunk_vectors.npy", data.chunk_vectors.astype(np.float32))
        np.save(tmp / "sentence_vectors.npy", data.sentence_vectors.astype(np.float32))
        data.dense.save(tmp / "dense.faiss")
        data.lexical.save(tmp)
        files = [tmp / n for n in ("documents.jsonl", "chunks.jsonl", "chunk_vectors.npy",
                                   "sentence_vectors.npy", "dense.faiss")] + lexical_files(tmp)
        manifest = dict(data.manifest)
        manifest["files"] = {
            str(p.relative_to(tmp)): {
                "size": p.stat().st_size,
                "sha256": file_sha256(p) if p.stat().st_size <= _HASH_LIMIT else None,
            }
            for p in files
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
        _fsync_tree(tmp)
        os.chmod(tmp, 0o755)
        swap_in(tmp, live)
    except (OSError, RuntimeError) as e:  # faiss reports a failed write (disk full) as RuntimeError
        raise QAError(f"could not write the index beside {live}: {e}; the previous index is unchanged "
                      "(free some disk space or choose another --index folder)") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    data.manifest = json.loads((live / "manifest.json").read_text("utf-8"))
    collect_leftovers(live)


def collect_leftovers(live: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Remove folders left by killed builds (`.index.new-*`) and finished swaps (`.index.old-*`).

    Only folders older than `older_than_s` go (a younger one may belong to a build running right
    now), and `.old-*` only while a live index exists (it is the recovery copy otherwise).
    """
    import time

    removed = []
    patterns = [f".{live.name}.new-*"] + ([f".{live.name}.old-*"] if (live / "manifest.json").is_file() else [])
    for pattern in patterns:
        for p in live.parent.glob(pattern):
            try:
                if time.time() - p.stat().st_mtime > older_than_s:
                    shutil.rmtree(p)
                    removed.append(p)
            except OSError:
                pass
    return removed


def _recover(live: Path) -> None:
    """A crash between the two renames of swap_in leaves `.index.old-*`: put it back."""
    if live.exists():
        return
    for old in sorted(live.parent.glob(f".{live.name}.old-*")):
        if (old / "manifest.json").is_file():
            os.replace(old, live)
            return


def read_manifest(live: Path) -> dict[str, Any]:
    """The parsed manifest; IndexMissingError / IndexCorruptError say what to run."""
    _recover(live)
    path = live / "manifest.json"
    if not path.is_file():
        raise IndexMissingError(f"no index at {live} (no manifest.json); run `qa index build --index {live}`")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"{path} is unreadable ({e}); run `qa index build`") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorruptError(f"{path} is not a qa-vi index manifest; run `qa index build`")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"{live}: index format {manifest.get('format_version')} but this version reads "
            f"{FORMAT_VERSION}; run `qa index build` to rebuild it"
        )
    return manifest


def verify_files(live: Path, manifest: dict[str, Any]) -> None:
    """Every file listed in the manifest exists with its recorded size (and hash where recorded)."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise IndexCorruptError(f"{live}/manifest.json lists no files; run `qa index build`")
    for rel, meta in files.items():
        p = live / rel
        try:
            size = p.stat().st_size
        except OSError:
            raise IndexCorruptError(f"{p} is missing or unreadable; run `qa index build`") from None
        if size != meta.get("size"):
            raise IndexCorruptError(f"{p}: size {size} != {meta.get('size')} bytes (truncated?); "
                                    "run `qa index build`")
        if meta.get("sha256"):
            try:
                digest = file_sha256(p)
            except OSError as e:
                raise IndexCorruptError(f"{p} is unreadable ({e}); fix its permissions or run "
                                        "`qa index build`") from e
            if digest != meta["sha256"]:
                raise IndexCorruptError(f"{p}: checksum mismatch (corrupted); run `qa index build`")


def load_index(live: Path) -> IndexData:
    """Load and validate an index folder."""
    live = live.resolve()
    manifest = read_manifest(live)
    verify_files(live, manifest)
    try:
        docs = [Document(r["doc_id"], r["title"], r["text"], r["sha256"],
                         tuple((int(a), int(b)) for a, b in r["spans"]))
                for r in _read_jsonl(live / "documents.jsonl")]
        chunks = [Chunk.from_dict(r) for r in _read_jsonl(live / "chunks.jsonl")]
        chunk_vectors = np.load(live / "chunk_vectors.npy", allow_pickle=False)
        sentence_vectors = np.load(live / "sentence_vectors.npy", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexCorruptError(f"{live}: damaged index data ({e.__class__.__name__}: {str(e)[:120]}); "
                                "run `qa index build`") from e
    n_sent = sum(len(c.sentences) for c in chunks)
    if chunk_vectors.shape[0] != len(chunks) or sentence_vectors.shape[0] != n_sent:
        raise IndexCorruptError(f"{live}: {len(chunks)} chunks / {n_sent} sentences but vectors "
                                f"{chunk_vectors.shape[0]} / {sentence_vectors.shape[0]}; run `qa index build`")
    dense_kind = manifest.get("dense", {}).get("kind", "flat")
    dense = DenseIndex.load(live / "dense.faiss", dense_kind, DenseParams.from_env())
    if dense.ntotal != len(chunks):
        raise IndexCorruptError(f"{live}/dense.faiss has {dense.ntotal} vectors for {len(chunks)} chunks; "
                                "run `qa index build`")
    lexical = LexicalIndex.load(live, len(chunks))
    return IndexData(manifest, {d.doc_id: d for d in docs}, chunks, chunk_vectors, sentence_vectors,
                     dense, lexical)
