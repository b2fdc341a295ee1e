"""The index folder, whatever its engine: staged beside the live one, the catalogue written, every file
listed in the manifest with its size and hash, then swapped in atomically; verified on load.

Catalogue files (every engine): manifest.json (`qa.index.catalogue.manifest`), documents.jsonl,
chunks.jsonl, terms.json, diacritics.json. The engine adds its own (`qa.index.engines`), listed in the
manifest too. A crash at any point before the swap leaves the previous index loadable::

    stage = stage_beside(live)
    ...                                          # the engine writes its files into `stage`
    publish(stage, live, manifest, docs, chunks, engine_files)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from qa.atomic import file_sha256, fsync_tree, swap_in, sweep
from qa.errors import IndexCorruptError
from qa.index.catalogue.docfile import DocumentFile, document_row
from qa.index.catalogue.manifest import MANIFEST, FileEntry, Manifest, write_manifest
from qa.index.engines.lexical import CorpusTerms
from qa.lang.diacritics import DiacriticRestorer
from qa.schema import Chunk, Document

HASH_LIMIT = 256 << 20  # files above this are checked by size only (hashing GBs at every start is slow)
CATALOGUE = ("documents.jsonl", "chunks.jsonl", "terms.json", "diacritics.json")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:  # row by row: a million decoded rows at once would double the load's peak
        yield from (json.loads(line) for line in f if line.strip())


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), "utf-8")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def read_texts(live: Path) -> tuple[DocumentFile, list[Chunk]]:
    """An index folder's documents (texts read on demand) and chunks, whatever its backend."""
    return DocumentFile(live / "documents.jsonl"), [Chunk.from_dict(r) for r in read_jsonl(live / "chunks.jsonl")]


def fit_restorer(docs: Mapping[str, Document]) -> DiacriticRestorer:
    # fit on the kept text of each document once: chunks overlap and would double-count
    return DiacriticRestorer.fit(d.text[s:e] for d in docs.values() for s, e in (d.spans or ((0, len(d.text)),)))


def stage_beside(live: Path) -> Path:
    """A new, empty folder beside `live` (`.NAME.new-*`) to write an index into."""
    live.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{live.name}.new-", dir=live.parent))


def file_entry(p: Path) -> FileEntry:
    size = p.stat().st_size
    return FileEntry(size, file_sha256(p) if size <= HASH_LIMIT else None)


def publish(stage: Path, live: Path, manifest: Manifest, docs: Mapping[str, Document], chunks: Sequence[Chunk],
            engine_files: Iterable[str], terms: CorpusTerms, restorer: DiacriticRestorer) -> Manifest:
    """Write the catalogue into `stage` (beside the engine's files), list every file in the manifest, fsync,
    and swap it in for `live`; returns the manifest written."""
    write_jsonl(stage / "documents.jsonl", (document_row(d) for d in docs.values()))
    write_jsonl(stage / "chunks.jsonl", (c.to_dict() for c in chunks))  # streamed: 1 M rows
    write_json(stage / "terms.json", terms.to_dict())
    write_json(stage / "diacritics.json", restorer.to_dict())
    manifest = manifest.with_files({name: file_entry(stage / name) for name in (*CATALOGUE, *engine_files)})
    write_manifest(stage, manifest)
    fsync_tree(stage)
    os.chmod(stage, 0o755)
    swap_in(stage, live)
    return manifest


def collect_leftovers(live: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Remove folders left by killed builds (`.index.new-*`) and finished swaps (`.index.old-*`).

    `.old-*` goes only while a live index exists (it is the recovery copy otherwise).
    """
    patterns = [f".{live.name}.new-*"] + ([f".{live.name}.old-*"] if (live / MANIFEST).is_file() else [])
    return sweep(live.parent, patterns, older_than_s)


def verify_files(live: Path, manifest: Manifest) -> None:
    """Every file listed in the manifest exists with its recorded size (and hash where recorded)."""
    if not manifest.files:
        raise IndexCorruptError(f"{live}/{MANIFEST} lists no files; run `qa index build`")
    for rel, meta in manifest.files.items():
        p = live / rel
        try:
            size = p.stat().st_size
        except OSError:
            raise IndexCorruptError(f"{p} is missing or unreadable; run `qa index build`") from None
        if size != meta.size:
            raise IndexCorruptError(f"{p}: size {size} != {meta.size} bytes (truncated?); "
                                    "run `qa index build`")
        if meta.sha256:
            try:
                digest = file_sha256(p)
            except OSError as e:
                raise IndexCorruptError(f"{p} is unreadable ({e}); fix its permissions or run "
                                        "`qa index build`") from e
            if digest != meta.sha256:
                raise IndexCorruptError(f"{p}: checksum mismatch (corrupted); run `qa index build`")


def damaged(live: Path, e: Exception) -> IndexCorruptError:
    """The error for an index file that does not parse."""
    return IndexCorruptError(f"{live}: damaged index data ({e.__class__.__name__}: {str(e)[:120]}); "
                             "run `qa index build`")
