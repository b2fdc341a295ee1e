"""The index manifest: what was built, from which documents, with which model and parameters.

`manifest.json` is written last into a new index folder; loading reads its build parameters
(model, chunking, what was encoded, the dense index kind and its search settings) instead of
re-reading any configuration, and checks every file against its recorded size and hash.

>>> m = Manifest(model=ModelFingerprint("fake", 64, "none"), counts=Counts(1, 2, 3))
>>> Manifest.from_json(m.to_json()) == m
True
>>> m.to_json()["format"], m.to_json()["format_version"]
('qa-vi-index', 2)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import qa
from qa.atomic import recover
from qa.errors import IndexCorruptError, IndexMissingError
from qa.index.engines.dense import DenseKind, DenseParams
from qa.index.vectors import ENCODE_MODES, EncodeMode
from qa.ingest.chunking import ChunkingParams

FORMAT = "qa-vi-index"
# 2: the diacritics model and corpus term statistics are stored (version 1 refitted them at every start)
FORMAT_VERSION = 2
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ModelFingerprint:
    """The encoder an index was built with; another fingerprint means the vectors don't mix."""

    id: str
    dimension: int
    profile: str

    def __str__(self) -> str:
        return f"{self.id} (dim {self.dimension}, profile {self.profile})"


@dataclass(frozen=True)
class DocEntry:
    """One indexed document: its file's sha256 decides whether `qa index update` re-reads it."""

    sha256: str
    title: str
    chars: int
    chunks: int


@dataclass(frozen=True)
class FileEntry:
    """An index file's size and sha256 (None above the hashing limit: checked by size only)."""

    size: int
    sha256: str | None


@dataclass(frozen=True)
class Counts:
    """How much was indexed (what `/healthz` and `qa index info` report)."""

    documents: int
    chunks: int
    sentences: int


@dataclass(frozen=True)
class BackendEntry:
    """Where the vectors live (`qa.index.engines`): `faiss` files in this folder (not written to
    manifest.json, so in-process manifests are unchanged), or a Qdrant shard (`qdrant-edge`) / server
    collection (`qdrant`) with the BM25 constants and layout it was written with."""

    kind: str = "faiss"
    collection: str = ""  # qdrant: the collection holding this folder's chunks (qdrant-edge: the shard folder)
    previous: str = ""  # qdrant: the collection of the build before (kept for replicas still on it)
    url: str = ""  # qdrant: where it was built (for `qa index info`; QA_BACKEND says where to connect)
    sparse: Mapping[str, float] = field(default_factory=dict)  # qa.index.engines.sparse.SparseParams
    layout: Mapping[str, Any] = field(default_factory=dict)  # on_disk, quantization, shards, replication


@dataclass(frozen=True)
class Manifest:
    """Everything `manifest.json` records; `to_json`/`from_json` keep its on-disk shape."""

    model: ModelFingerprint
    counts: Counts
    chunking: ChunkingParams = field(default_factory=ChunkingParams)
    encode: EncodeMode = "sentences"
    dense_kind: DenseKind = "flat"
    dense: DenseParams = field(default_factory=DenseParams)
    documents: Mapping[str, DocEntry] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)  # unreadable doc_id -> its sha256 (not retried)
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    backend: BackendEntry = field(default_factory=BackendEntry)
    built_at: str = ""
    build_seconds: float = 0.0
    package_version: str = qa.__version__
    format_version: int = FORMAT_VERSION

    def with_files(self, files: Mapping[str, FileEntry]) -> Manifest:
        return replace(self, files=dict(files))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "package_version": self.package_version,
            "model": {"id": self.model.id, "dimension": self.model.dimension, "profile": self.model.profile},
            "chunking": self.chunking.to_dict(),
            "encode": self.encode,
            "dense": {"kind": self.dense_kind, "params": self.dense.to_dict()},
            "documents": {k: vars(v) for k, v in self.documents.items()},
            "counts": vars(self.counts),
            "built_at": self.built_at,
            "build_seconds": self.build_seconds,
            "skipped": dict(self.skipped),
            "files": {k: vars(v) for k, v in self.files.items()},
        } | ({"backend": {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in vars(self.backend).items()}}
             if self.backend.kind != "faiss" else {})

    @classmethod
    def from_json(cls, d: Any, where: str = "manifest.json") -> Manifest:
        """Parse and validate; IndexCorruptError names what is wrong and what to run."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise IndexCorruptError(f"{where} is not a qa-vi index manifest; run `qa index build`")
        if d.get("format_version") != FORMAT_VERSION:
            raise IndexCorruptError(f"{where}: index format {d.get('format_version')} but this version reads "
                                    f"{FORMAT_VERSION}; run `qa index build` to rebuild it")
        try:
            encode = d.get("encode", "sentences")
            if encode not in ENCODE_MODES:
                raise ValueError(f"encode {encode!r}")
            dense = d.get("dense", {})
            if dense.get("kind", "flat") not in ("flat", "hnsw", "ivf"):
                raise ValueError(f"dense kind {dense.get('kind')!r}")
            if not isinstance(d.get("backend", {}).get("kind", "faiss"), str):  # known kinds: the registry's
                raise ValueError(f"backend kind {d['backend'].get('kind')!r}")
            return cls(
                model=ModelFingerprint(str(d["model"]["id"]), int(d["model"]["dimension"]),
                                       str(d["model"]["profile"])),
                counts=Counts(**{k: int(v) for k, v in d["counts"].items()}),
                chunking=ChunkingParams.from_dict(d.get("chunking", {})),
                encode=encode,
                dense_kind=dense.get("kind", "flat"),
                dense=DenseParams.from_dict(dense.get("params", {})),
                documents={k: DocEntry(**v) for k, v in d.get("documents", {}).items()},
                skipped=dict(d.get("skipped", {})),
                files={k: FileEntry(int(v["size"]), v.get("sha256")) for k, v in d.get("files", {}).items()},
                backend=BackendEntry(**d.get("backend", {})),
                built_at=str(d.get("built_at", "")),
                build_seconds=float(d.get("build_seconds", 0.0)),
                package_version=str(d.get("package_version", "")),
                format_version=int(d["format_version"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise IndexCorruptError(f"{where} is malformed ({e.__class__.__name__}: {e}); "
                                    "run `qa index build`") from e


def read_manifest(live: Path) -> Manifest:
    """The parsed manifest of an index folder; IndexMissingError / IndexCorruptError say what to run."""
    recover(live, MANIFEST)
    path = live / MANIFEST
    if not path.is_file():
        raise IndexMissingError(f"no index at {live} (no {MANIFEST}); run `qa index build --index {live}`")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"{path} is unreadable ({e}); run `qa index build`") from e
    return Manifest.from_json(data, str(path))


def write_manifest(folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=1), "utf-8")
