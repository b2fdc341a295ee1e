"""The index folder: written beside the live one and swapped in atomically; validated on load.

Layout of `index/`: manifest.json (qa.index.manifest), documents.jsonl, chunks.jsonl,
chunk_vectors.npy, sentence_vectors.npy, dense.faiss, bm25_norm/, bm25_folded/, terms.json,
diacritics.json. A crash at any point of `save_index` leaves the previous index loadable::

    save_index(data, Path("index"))
    load_index(Path("index")).manifest.counts       # Counts(documents=1, chunks=26, sentences=102)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.atomic import file_sha256, fsync_tree, swap_in, sweep
from qa.errors import IndexCorruptError, QAError
from qa.index.dense import DenseIndex
from qa.index.docfile import DocumentFile, document_row
from qa.index.lexical import CorpusTerms, LexicalIndex, lexical_files
from qa.index.manifest import MANIFEST, FileEntry, Manifest, read_manifest, write_manifest
from qa.lang.diacritics import DiacriticRestorer
from qa.schema import Chunk, Document

if TYPE_CHECKING:
    from qa.index.backend import BackendSettings, RowSearch
    from qa.index.sparse import TermVocabulary

_HASH_LIMIT = 256 << 20  # files above this are checked by size only (hashing GBs at every start is slow)
_DATA_FILES = ("documents.jsonl", "chunks.jsonl", "chunk_vectors.npy", "sentence_vectors.npy", "dense.faiss",
               "terms.json", "diacritics.json")


@dataclass
class IndexData:
    """Everything retrieval and answering need; built once, then only read (loaded vectors are
    read-only memory maps of the index files)."""

    manifest: Manifest
    documents: Mapping[str, Document]  # a DocumentFile once loaded: texts read on demand
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    dense: DenseIndex | None  # None when the vectors live in an engine (`backend`)
    lexical: LexicalIndex | TermVocabulary  # an engine backend keeps only the vocabulary, for has_phrase
    terms: CorpusTerms
    restorer: DiacriticRestorer
    backend: RowSearch | None = None  # a Qdrant engine holding the vectors (qa.index.external); None = in-process
    sentence_offsets: np.ndarray = field(init=False)  # row of chunk i's first sentence in sentence_vectors

    def __post_init__(self) -> None:
        counts = [len(c.sentences) for c in self.chunks]
        self.sentence_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:  # row by row: a million decoded rows at once would double the load's peak
        yield from (json.loads(line) for line in f if line.strip())


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), "utf-8")


def read_texts(live: Path) -> tuple[DocumentFile, list[Chunk]]:
    """An index folder's documents (texts read on demand) and chunks, whatever its backend."""
    return DocumentFile(live / "documents.jsonl"), [Chunk.from_dict(r) for r in _read_jsonl(live / "chunks.jsonl")]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def save_index(data: IndexData, live: Path) -> IndexData:
    """Write the index into a temporary folder beside `live`, then swap it in; returns the saved data
    (its manifest now lists the files)."""
    live = live.resolve()
    live.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{live.name}.new-", dir=live.parent))
    try:
        assert data.dense is not None and isinstance(data.lexical, LexicalIndex), "an in-process index"
        _write_jsonl(tmp / "documents.jsonl", (document_row(d) for d in data.documents.values()))
        _write_jsonl(tmp / "chunks.jsonl", (c.to_dict() for c in data.chunks))  # streamed: 1 M rows
        # asarray, not astype: no second copy of the vectors (GBs at a million chunks) just to write them
        np.save(tmp / "chunk_vectors.npy", np.asarray(data.chunk_vectors, dtype=np.float32))
        np.save(tmp / "sentence_vectors.npy", np.asarray(data.sentence_vectors, dtype=np.float32))
        data.dense.save(tmp / "dense.faiss")
        data.lexical.save(tmp)
        _write_json(tmp / "terms.json", data.terms.to_dict())
        _write_json(tmp / "diacritics.json", data.restorer.to_dict())
        files = [tmp / n for n in _DATA_FILES] + lexical_files(tmp)
        manifest = data.manifest.with_files({
            str(p.relative_to(tmp)): FileEntry(p.stat().st_size,
                                               file_sha256(p) if p.stat().st_size <= _HASH_LIMIT else None)
            for p in files
        })
        write_manifest(tmp, manifest)
        fsync_tree(tmp)
        os.chmod(tmp, 0o755)
        swap_in(tmp, live)
    except (OSError, RuntimeError) as e:  # faiss reports a failed write (disk full) as RuntimeError
        raise QAError(f"could not write the index beside {live}: {e}; the previous index is unchanged "
                      "(free some disk space or choose another --index folder)") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    collect_leftovers(live)
    return replace(data, manifest=manifest)


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


def _one_copy(live: Path, dense: DenseIndex, mapped: np.ndarray) -> np.ndarray:
    """FAISS's own copy of the chunk vectors where it keeps one (flat, HNSW), checked equal to the file's;
    else the file's map. Holding both would keep the chunk vectors in memory twice."""
    stored = dense.stored_vectors()
    if stored is None:
        return mapped
    if stored.shape != mapped.shape:
        raise IndexCorruptError(f"{live}: dense.faiss holds {stored.shape} vectors, chunk_vectors.npy "
                                f"{mapped.shape}; run `qa index build`")
    for a in range(0, len(stored), 65_536):  # in blocks: no full-size temporary
        if not np.array_equal(stored[a : a + 65_536], mapped[a : a + 65_536]):
            raise IndexCorruptError(f"{live}: dense.faiss and chunk_vectors.npy disagree from row {a}; "
                                    "run `qa index build`")
    return stored


def load_index(live: Path, backend: BackendSettings | None = None) -> IndexData:
    """Load and validate an index folder; its vectors from the engine its manifest names (`backend`, the
    configured QA_BACKEND, must agree when given; None = as recorded)."""
    live = live.resolve()
    manifest = read_manifest(live)
    if manifest.backend.kind != "faiss" or (backend is not None and backend.kind != "faiss"):
        from qa.index.external import load_external

        return load_external(live, manifest, backend)
    verify_files(live, manifest)
    try:
        docs, chunks = read_texts(live)
        # memory-mapped, read-only: a search reads only its candidates' rows, so the resident set is the
        # pages questions touch and the OS page cache (shared by every process serving this index) holds
        # the rest; a swapped-in rebuild leaves these mappings valid (the old files live while mapped)
        chunk_vectors = np.load(live / "chunk_vectors.npy", allow_pickle=False, mmap_mode="r")
        sentence_vectors = np.load(live / "sentence_vectors.npy", allow_pickle=False, mmap_mode="r")
        terms = CorpusTerms.from_dict(_read_json(live / "terms.json"))
        restorer = DiacriticRestorer.from_dict(_read_json(live / "diacritics.json"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexCorruptError(f"{live}: damaged index data ({e.__class__.__name__}: {str(e)[:120]}); "
                                "run `qa index build`") from e
    n_sent = sum(len(c.sentences) for c in chunks)
    if chunk_vectors.shape[0] != len(chunks) or sentence_vectors.shape[0] != n_sent:
        raise IndexCorruptError(f"{live}: {len(chunks)} chunks / {n_sent} sentences but vectors "
                                f"{chunk_vectors.shape[0]} / {sentence_vectors.shape[0]}; run `qa index build`")
    # search settings (efSearch, nprobe) are the ones the index was built with
    dense = DenseIndex.load(live / "dense.faiss", manifest.dense_kind, manifest.dense)
    if dense.ntotal != len(chunks):
        raise IndexCorruptError(f"{live}/dense.faiss has {dense.ntotal} vectors for {len(chunks)} chunks; "
                                "run `qa index build`")
    chunk_vectors = _one_copy(live, dense, chunk_vectors)
    lexical = LexicalIndex.load(live, len(chunks))
    return IndexData(manifest, docs, chunks, chunk_vectors, sentence_vectors,
                     dense, lexical, terms, restorer)
