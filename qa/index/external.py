"""Index folders whose vectors live in a Qdrant engine: build, incremental update, load.

The folder keeps the catalogue the answerer reads: manifest.json (with a `backend` section: kind,
collection, BM25 constants, layout), documents.jsonl (texts), chunks.jsonl (chunk and sentence
offsets), terms.json, diacritics.json, and vocabulary.npy (hashed folded features, for
`has_phrase`). The engine keeps one point per chunk: vectors, sentence vectors and term weights
(`qa.index.qdrant_common`). With `qdrant-edge` the shard is in the folder too (`qdrant_edge/`), so
the whole index is written beside the live folder and swapped in; with a server a build writes a new
collection and the folder swap switches to it (the collection before is kept one more build for
replicas still on the old folder), while an update changes the recorded collection in place.

    report = build_index(Path("seeds"), Path("index"), encoder,
                         BuildOptions(backend=BackendSettings(kind="qdrant-edge")))
    load_index(Path("index")).backend.kind            # 'qdrant-edge'
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.atomic import file_sha256, fsync_tree, swap_in
from qa.errors import IndexCorruptError, IndexMissingError, QAError
from qa.index.backend import BackendError, BackendSettings, Candidates, SearchRequest, chunk_points, point_ids
from qa.index.dense import DenseIndex
from qa.index.lexical import CorpusTerms
from qa.index.manifest import BackendEntry, FileEntry, Manifest, ModelFingerprint, write_manifest
from qa.index.qdrant_common import QdrantBackend
from qa.index.sparse import SparseParams, SparseVector, TermVocabulary
from qa.index.vectors import Progress
from qa.lang.diacritics import DiacriticRestorer
from qa.model.encoder import Encoder
from qa.schema import Chunk, Document

if TYPE_CHECKING:
    from qa.index.build import BuildOptions, BuildReport
    from qa.index.store import IndexData

SHARD_DIR = "qdrant_edge"
VOCABULARY = "vocabulary.npy"
CATALOGUE = ("documents.jsonl", "chunks.jsonl", "terms.json", "diacritics.json", VOCABULARY)
_HASH_LIMIT = 256 << 20
Encode = Callable[[dict[str, Document], list[Chunk], "Progress | None"], tuple[np.ndarray, np.ndarray]]


class BackendMismatchError(IndexCorruptError):
    """The index folder was built for another backend than the configured one (a build makes it anew)."""


class BoundBackend:
    """An engine seen through one index's chunk list: point ids become chunk rows, as the retriever
    and the answerer use them, and candidates come back in row order (the in-process tie order)."""

    def __init__(self, backend: QdrantBackend, chunks: Sequence[Chunk], model: ModelFingerprint) -> None:
        self.backend = backend
        self.kind = backend.kind
        self.dimension = backend.dimension
        self.model = model
        self.ids = point_ids(chunks)
        self.row_of = {int(p): i for i, p in enumerate(self.ids)}
        self.n_sentences = np.array([len(c.sentences) for c in chunks], dtype=np.int64)

    def search(self, request: SearchRequest) -> Candidates:
        c = self.backend.search(request)
        rows = np.array([self.row_of.get(int(i), -1) for i in c.ids], dtype=np.int64)
        sel = np.flatnonzero(rows >= 0)  # points a newer update wrote are not in this folder: skip them
        sel = sel[np.argsort(rows[sel], kind="stable")]
        best = c.best_sentence[sel] if c.best_sentence is not None else None
        if best is not None:
            best = np.where(self.n_sentences[rows[sel]] > 0, best, np.float32(-1.0)).astype(np.float32)
        return Candidates(rows[sel], c.dense[sel], c.lexical[sel], best, None)

    def sentence_cosines(self, rows: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]:
        got = self.backend.sentence_cosines(self.ids[np.asarray(rows, dtype=np.int64)], vectors)
        return [g[: int(self.n_sentences[r])] for g, r in zip(got, rows, strict=True)]

    def count(self, doc_id: str | None = None) -> int:
        return self.backend.count(doc_id)

    def close(self) -> None:
        self.backend.close()


def layout(entry: BackendEntry, settings: BackendSettings | None) -> BackendSettings:
    """The settings to open an engine with: connection from the configuration, layout as recorded."""
    base = settings if settings is not None and settings.kind == entry.kind else BackendSettings(
        kind=entry.kind, url=entry.url)  # type: ignore[arg-type]
    lay = entry.layout
    return replace(base, on_disk=bool(lay.get("on_disk", False)),
                   quantization=lay.get("quantization", "none"))


def open_engine(live: Path, manifest: Manifest, settings: BackendSettings | None) -> QdrantBackend:
    """The engine holding this folder's chunks, checked against its manifest."""
    entry = manifest.backend
    s = layout(entry, settings)
    if entry.kind == "qdrant-edge":
        from qa.index.qdrant_edge import QdrantEdgeBackend

        shard = live / SHARD_DIR
        if not shard.is_dir():
            raise IndexCorruptError(f"{shard} is missing; run `qa index build`")
        return QdrantEdgeBackend(shard, manifest.model.dimension, s)
    from qa.index.qdrant_server import QdrantServerBackend, connect

    client = connect(s)
    try:
        return QdrantServerBackend.open(client, entry.collection, manifest.model, s)
    except BaseException:
        client.close()  # a refused collection must not keep the connection (or local mode's folder lock)
        raise


def load_external(live: Path, manifest: Manifest, settings: BackendSettings | None) -> IndexData:
    """Load an index folder (any backend's manifest) for the configured backend."""
    from qa.index.store import IndexData, _read_json, load_index, read_texts, verify_files

    kind = manifest.backend.kind
    if settings is not None and settings.kind != kind:
        raise BackendMismatchError(f"{live} was built for backend {kind} but QA_BACKEND is {settings.label}; "
                                   "run `qa index build` to build it for that backend")
    if kind == "faiss":
        return load_index(live)
    verify_files(live, manifest)
    try:
        docs, chunks = read_texts(live)
        terms = CorpusTerms.from_dict(_read_json(live / "terms.json"))
        restorer = DiacriticRestorer.from_dict(_read_json(live / "diacritics.json"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexCorruptError(f"{live}: damaged index data ({e.__class__.__name__}: {str(e)[:120]}); "
                                "run `qa index build`") from e
    vocabulary = TermVocabulary.load(live / VOCABULARY, len(chunks))
    engine = open_engine(live, manifest, settings)
    try:
        stored = engine.count()
    except QAError:
        engine.close()
        raise
    if stored != len(chunks):
        engine.close()
        raise IndexCorruptError(f"{engine.where} has {stored} chunks but {live} lists {len(chunks)} "
                                "(an update stopped half-way?); run `qa index update`")
    dim = manifest.model.dimension
    empty = np.zeros((0, dim), np.float32)
    return IndexData(manifest, docs, chunks, empty, empty, None, vocabulary, terms,
                     restorer, backend=BoundBackend(engine, chunks, manifest.model))


def _doc_order(docs: Mapping[str, Document], chunks: list[Chunk]) -> dict[str, list[Chunk]]:
    by_doc: dict[str, list[Chunk]] = {d: [] for d in docs}
    for c in chunks:
        by_doc[c.doc_id].append(c)
    return by_doc


def _write_catalogue(tmp: Path, manifest: Manifest, docs: Mapping[str, Document], chunks: list[Chunk],
                     vocabulary: TermVocabulary | None = None) -> Manifest:
    from qa.index.docfile import document_row
    from qa.index.store import _write_json, _write_jsonl

    texts = [c.text for c in chunks]
    _write_jsonl(tmp / "documents.jsonl", (document_row(d) for d in docs.values()))
    _write_jsonl(tmp / "chunks.jsonl", (c.to_dict() for c in chunks))
    _write_json(tmp / "terms.json", CorpusTerms.build(texts).to_dict())
    restorer = DiacriticRestorer.fit(d.text[s:e] for d in docs.values() for s, e in (d.spans or ((0, len(d.text)),)))
    _write_json(tmp / "diacritics.json", restorer.to_dict())
    (vocabulary or TermVocabulary.build(texts)).save(tmp / VOCABULARY)
    files = {}
    for name in CATALOGUE:
        p = tmp / name
        size = p.stat().st_size
        files[name] = FileEntry(size, file_sha256(p) if size <= _HASH_LIMIT else None)
    manifest = manifest.with_files(files)
    write_manifest(tmp, manifest)
    return manifest


def _previous_entry(live: Path) -> BackendEntry | None:
    from qa.index.manifest import read_manifest

    try:
        return read_manifest(live).backend
    except (IndexMissingError, IndexCorruptError):
        return None


def _stage(live: Path) -> Path:
    live.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{live.name}.new-", dir=live.parent))


def _write_points(engine: QdrantBackend, chunks: list[Chunk], cvec: np.ndarray, svec: np.ndarray,
                  params: SparseParams, batch: int = 2048) -> np.ndarray:
    """Upsert in slices, so a million points never sit in memory as request objects at once; returns
    the folded term ids written (the vocabulary of these chunks)."""
    ids = point_ids(chunks)
    soff = np.concatenate([[0], np.cumsum([len(c.sentences) for c in chunks])]).astype(np.int64)
    seen = np.zeros(0, np.uint32)
    for a in range(0, len(chunks), batch):
        b = min(len(chunks), a + batch)
        points = list(chunk_points(chunks[a:b], cvec[a:b], svec[soff[a] : soff[b]], params, ids[a:b]))
        engine.upsert(points)
        seen = TermVocabulary.from_vectors([p.sparse for p in points] + [_ids(seen)], 0).ids
    return seen


def _ids(ids: np.ndarray) -> SparseVector:
    return SparseVector(ids, np.zeros(len(ids), np.float32))


def _finish(tmp: Path, live: Path, manifest: Manifest, docs: dict[str, Document], chunks: list[Chunk],
            vocabulary: TermVocabulary | None = None) -> None:
    _write_catalogue(tmp, manifest, docs, chunks, vocabulary)
    fsync_tree(tmp)
    tmp.chmod(0o755)
    swap_in(tmp, live)
    from qa.index.store import collect_leftovers

    collect_leftovers(live)


def build_external(docs_dir: Path, index_dir: Path, encoder: Encoder, o: BuildOptions,
                   progress: Progress | None, encode: Encode) -> BuildReport:
    """Full build into a new Qdrant Edge shard or a new server collection, then the folder swapped in."""
    from qa.index.build import BuildReport, _load_docs, _manifest, model_fingerprint
    from qa.index.vectors import encoded_count
    from qa.ingest.chunking import chunk_document

    started = time.perf_counter()
    s = o.backend
    live = index_dir.resolve()
    report = BuildReport()
    client = None
    if s.kind == "qdrant":  # a wrong URL or API key fails here, before minutes of encoding
        from qa.index.qdrant_server import connect

        client = connect(s)
    docs = _load_docs(docs_dir, report)
    chunks = [c for d in docs.values() for c in chunk_document(d, o.chunking)]
    cvec, svec = encode(docs, chunks, progress)
    params = SparseParams.fit(c.text for c in chunks)
    fp = model_fingerprint(encoder)
    before = _previous_entry(live)
    tmp = _stage(live)
    engine: QdrantBackend | None = None
    try:
        if s.kind == "qdrant-edge":
            from qa.index.qdrant_edge import QdrantEdgeBackend

            collection, previous = SHARD_DIR, ""
            engine = QdrantEdgeBackend(tmp / SHARD_DIR, fp.dimension, s, create=True)
        else:
            from qa.index.qdrant_server import QdrantServerBackend

            collection = f"{s.collection}_{datetime.now(timezone.utc).strftime('%Y%m%d%H%M%S%f')}"
            previous = before.collection if before is not None and before.kind == "qdrant" else ""
            engine = QdrantServerBackend.create(client, collection, fp, s, own_client=False)
        vocabulary = TermVocabulary(_write_points(engine, chunks, cvec, svec, params), len(chunks))
        engine.optimize()
        engine.close()
        entry = BackendEntry(s.kind, collection, previous, s.url if s.kind == "qdrant" else "", params.to_dict(),
                             {"on_disk": s.on_disk, "quantization": s.quantization, "shards": s.shards,
                              "replication": s.replication})
        manifest = replace(_manifest(encoder, o, DenseIndex(None, "hnsw"), docs, chunks,
                                     time.perf_counter() - started, report.skipped), backend=entry)
        _finish(tmp, live, manifest, docs, chunks, vocabulary)
    except BaseException:
        if engine is not None:
            engine.close()
            if s.kind == "qdrant":
                _drop(client, s, collection)  # the live index keeps its own collection
        if client is not None:
            client.close()
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if client is not None:
        if before is not None and before.kind == "qdrant" and before.previous not in ("", collection, previous):
            _drop(client, s, before.previous)  # two builds old: no replica reads it any more
        client.close()
    report.documents, report.chunks, report.sentences = len(docs), len(chunks), len(svec)
    report.encoded_texts = encoded_count(encoder, docs, chunks, o.encode)
    report.added = sorted(docs)
    report.seconds = time.perf_counter() - started
    return report


def _drop(client: Any, settings: BackendSettings, collection: str) -> None:
    from qa.index.qdrant_server import guard

    try:
        guard(settings, lambda: client.delete_collection(collection))
    except BackendError:
        pass  # cleanup only: a collection left behind costs disk, not correctness


def update_external(docs_dir: Path, index_dir: Path, encoder: Encoder, o: BuildOptions,
                    progress: Progress | None, encode: Encode) -> BuildReport:
    """Re-encode only new and changed documents: delete their old points and the removed documents'
    points by `doc_id`, upsert the new ones. A missing, damaged or other-backend index, or another
    model, chunking or encode mode, means a full build."""
    from qa.index.build import BuildReport, _load_and_diff, _manifest, model_fingerprint
    from qa.index.store import load_index
    from qa.index.vectors import encoded_count
    from qa.ingest.chunking import chunk_document

    live = index_dir.resolve()
    try:
        old = load_index(live, o.backend)
    except (IndexMissingError, IndexCorruptError):
        return build_external(docs_dir, index_dir, encoder, o, progress, encode)
    assert isinstance(old.backend, BoundBackend)
    old.backend.close()
    m = old.manifest
    fp = model_fingerprint(encoder)
    if m.model != fp or m.encode != o.encode or m.chunking != o.chunking:
        return build_external(docs_dir, index_dir, encoder, o, progress, encode)
    started = time.perf_counter()
    report = BuildReport(full=False)
    docs, keep = _load_and_diff(docs_dir, old.manifest, report)
    fresh_docs = {d: docs[d] for d in docs if d not in keep}
    fresh_chunks = [c for d in fresh_docs.values() for c in chunk_document(d, o.chunking)]
    f_cvec, f_svec = encode(fresh_docs, fresh_chunks, progress)
    old_by_doc, fresh_by_doc = _doc_order(old.documents, old.chunks), _doc_order(fresh_docs, fresh_chunks)
    chunks = [c for d in docs for c in (old_by_doc[d] if d in keep else fresh_by_doc[d])]  # folder order
    entry = m.backend
    params = SparseParams.from_dict(dict(entry.sparse))  # the build's avgdl: kept chunks' weights use it
    tmp = _stage(live)
    engine: QdrantBackend | None = None
    try:
        if entry.kind == "qdrant-edge":
            from qa.index.qdrant_edge import QdrantEdgeBackend

            shutil.copytree(live / SHARD_DIR, tmp / SHARD_DIR)  # the live shard stays as it is until the swap
            engine = QdrantEdgeBackend(tmp / SHARD_DIR, fp.dimension, layout(entry, o.backend))
        else:
            engine = open_engine(live, m, o.backend)
        engine.delete_documents(report.changed + report.removed)
        _write_points(engine, fresh_chunks, f_cvec, f_svec, params)
        engine.optimize()
        engine.close()
        manifest = replace(_manifest(encoder, o, DenseIndex(None, "hnsw"), docs, chunks,
                                     time.perf_counter() - started, report.skipped), backend=entry)
        _finish(tmp, live, manifest, docs, chunks)
    except BaseException:
        if engine is not None:
            engine.close()
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.documents, report.chunks = len(docs), len(chunks)
    report.sentences = sum(len(c.sentences) for c in chunks)
    report.reused_documents = len(keep)
    report.encoded_texts = encoded_count(encoder, fresh_docs, fresh_chunks, o.encode)
    report.seconds = time.perf_counter() - started
    return report
