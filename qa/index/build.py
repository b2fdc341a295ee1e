"""Build and incrementally update the index from a docs folder (what `qa index build/update` run).

    report = build_index(Path("seeds"), Path("index"), encoder, BuildOptions())
    report.chunks, report.reused_documents        # (26, 0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qa.atomic import file_sha256
from qa.errors import DocumentError, IndexCorruptError, IndexMissingError, NoDocumentsError
from qa.index.backend import BackendSettings
from qa.index.dense import DenseIndex, DenseParams
from qa.index.lexical import CorpusTerms, LexicalIndex
from qa.index.manifest import Counts, DocEntry, Manifest, ModelFingerprint, read_manifest
from qa.index.store import IndexData, load_index, save_index
from qa.index.vectors import EncodeMode, Progress, check_mode, encode_chunks, encoded_count
from qa.ingest.chunking import ChunkingParams, chunk_document
from qa.ingest.documents import find_documents, load_documents, read_document
from qa.lang.diacritics import DiacriticRestorer
from qa.model.encoder import Encoder, ModelOptions
from qa.schema import Chunk, Document


@dataclass(frozen=True)
class BuildOptions:
    """How an index is built (QA_ENCODE, QA_DENSE_KIND, ...); recorded in its manifest."""

    chunking: ChunkingParams = field(default_factory=ChunkingParams)
    encode: EncodeMode = "sentences"
    dense: DenseParams = field(default_factory=DenseParams)
    backend: BackendSettings = field(default_factory=BackendSettings)  # QA_BACKEND: where the vectors go
    ray: RayOptions | None = None  # `qa index build --ray [ADDRESS]`: embed on a Ray cluster


@dataclass(frozen=True)
class RayOptions:
    """Embedding with Ray Data (`qa.index.distributed`): the cluster, and the model each worker loads."""

    address: str = "local"  # "local" = ray.init() on this machine's cores, else a cluster address
    model: ModelOptions | None = None  # None: the driver's encoder object is shipped to the workers
    batch_size: int = 64


def _encode(o: BuildOptions, encoder: Encoder, docs: dict[str, Document], chunks: list[Chunk],
            progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """`encode_chunks` here, or spread over a Ray cluster when `o.ray` is set (same vectors)."""
    if o.ray is not None:
        from qa.index.distributed import encode_chunks_ray

        return encode_chunks_ray(encoder, docs, chunks, o.ray, progress, mode=o.encode)
    return encode_chunks(encoder, docs, chunks, progress, mode=o.encode)


@dataclass
class BuildReport:
    """What a build or update did, for the CLI and logs."""

    documents: int = 0
    chunks: int = 0
    sentences: int = 0
    encoded_texts: int = 0
    reused_documents: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # unreadable doc_id -> sha256, not retried
    seconds: float = 0.0
    full: bool = True


def model_fingerprint(encoder: Encoder) -> ModelFingerprint:
    return ModelFingerprint(encoder.name, int(encoder.dimension), encoder.profile)


def _manifest(encoder: Encoder, options: BuildOptions, dense: DenseIndex, docs: dict[str, Document],
              chunks: list[Chunk], seconds: float, skipped: dict[str, str]) -> Manifest:
    per_doc = {d: 0 for d in docs}
    for c in chunks:
        per_doc[c.doc_id] += 1
    return Manifest(
        model=model_fingerprint(encoder),
        counts=Counts(len(docs), len(chunks), sum(len(c.sentences) for c in chunks)),
        chunking=options.chunking,
        encode=options.encode,
        dense_kind=dense.kind,
        dense=options.dense,
        documents={d.doc_id: DocEntry(d.sha256, d.title, len(d.text), per_doc[d.doc_id]) for d in docs.values()},
        skipped=dict(skipped),
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(seconds, 3),
    )


def _load_and_diff(docs_dir: Path, old: Manifest,
                   report: BuildReport) -> tuple[dict[str, Document], set[str]]:
    """The documents on disk and the ids unchanged since the `old` index (same bytes, by the manifest's
    hashes: no old text is read); fills the report's added / changed / removed lists."""
    docs = _load_docs(docs_dir, report)
    before = old.documents
    keep = {d for d, doc in docs.items() if d in before and before[d].sha256 == doc.sha256}
    report.added = sorted(d for d in docs if d not in before)
    report.changed = sorted(d for d in docs if d in before and d not in keep)
    report.removed = sorted(d for d in before if d not in docs)
    return docs, keep


def _load_docs(docs_dir: Path, report: BuildReport) -> dict[str, Document]:
    def on_error(path: Path, err: DocumentError) -> None:
        report.errors.append(str(err))
        try:
            report.skipped[path.relative_to(docs_dir).as_posix()] = file_sha256(path)
        except (OSError, ValueError):
            pass

    docs = load_documents(docs_dir, on_error=on_error)
    if not docs:
        raise NoDocumentsError(
            f"no readable documents in {docs_dir} (supported: .txt .md .html .pdf .docx)"
            + (f"; errors: {'; '.join(report.errors)}" if report.errors else "")
        )
    return {d.doc_id: d for d in docs}


def _assemble(encoder: Encoder, options: BuildOptions, docs: dict[str, Document], chunks: list[Chunk],
              cvec: np.ndarray, svec: np.ndarray, started: float, report: BuildReport) -> IndexData:
    dense = DenseIndex.build(cvec, options.dense)
    lexical = LexicalIndex.build([c.text for c in chunks])
    terms = CorpusTerms.build(c.text for c in chunks)
    # fit on the kept text of each document once: chunks overlap and would double-count
    restorer = DiacriticRestorer.fit(
        d.text[s:e] for d in docs.values() for s, e in (d.spans or ((0, len(d.text)),))
    )
    manifest = _manifest(encoder, options, dense, docs, chunks, time.perf_counter() - started, report.skipped)
    return IndexData(manifest, docs, chunks, cvec, svec, dense, lexical, terms, restorer)


def build_index(docs_dir: Path, index_dir: Path, encoder: Encoder, options: BuildOptions | None = None,
                progress: Progress | None = None) -> BuildReport:
    """Full rebuild: every document chunked and encoded, then swapped in atomically."""
    started = time.perf_counter()
    o = options or BuildOptions()
    check_mode(o.encode)
    if o.backend.kind != "faiss":
        from qa.index.external import build_external

        return build_external(docs_dir, index_dir, encoder, o, progress,
                              lambda d, c, p: _encode(o, encoder, d, c, p))
    report = BuildReport()
    docs = _load_docs(docs_dir, report)
    chunks = [c for d in docs.values() for c in chunk_document(d, o.chunking)]
    cvec, svec = _encode(o, encoder, docs, chunks, progress)
    save_index(_assemble(encoder, o, docs, chunks, cvec, svec, started, report), index_dir)
    report.documents, report.chunks = len(docs), len(chunks)
    report.sentences, report.encoded_texts = len(svec), encoded_count(encoder, docs, chunks, o.encode)
    report.added = sorted(docs)
    report.seconds = time.perf_counter() - started
    return report


def update_index(docs_dir: Path, index_dir: Path, encoder: Encoder, options: BuildOptions | None = None,
                 progress: Progress | None = None) -> BuildReport:
    """Incremental: re-encode only new and changed documents, drop deleted ones.

    Falls back to a full build when the old index is missing, damaged, or made with another
    model, chunking or encode mode (vectors from another mode don't mix).
    """
    o = options or BuildOptions()
    check_mode(o.encode)
    if o.backend.kind != "faiss":
        from qa.index.external import update_external

        return update_external(docs_dir, index_dir, encoder, o, progress,
                               lambda d, c, p: _encode(o, encoder, d, c, p))
    try:
        old = load_index(index_dir, o.backend)  # built for another backend: rebuilt in process
    except (IndexMissingError, IndexCorruptError):
        return build_index(docs_dir, index_dir, encoder, o, progress)
    m = old.manifest
    if m.model != model_fingerprint(encoder) or m.encode != o.encode or m.chunking != o.chunking:
        return build_index(docs_dir, index_dir, encoder, o, progress)
    started = time.perf_counter()
    report = BuildReport(full=False)
    docs, keep = _load_and_diff(docs_dir, old.manifest, report)
    # old rows of the kept documents, in the old order
    old_rows: dict[str, list[int]] = {}
    for i, c in enumerate(old.chunks):
        old_rows.setdefault(c.doc_id, []).append(i)
    fresh_docs = {d: docs[d] for d in docs if d not in keep}
    fresh_chunks = [c for d in fresh_docs.values() for c in chunk_document(d, o.chunking)]
    f_cvec, f_svec = _encode(o, encoder, fresh_docs, fresh_chunks, progress)
    chunks: list[Chunk] = []
    cparts: list[np.ndarray] = []
    sparts: list[np.ndarray] = []
    f_soff = np.concatenate([[0], np.cumsum([len(c.sentences) for c in fresh_chunks])]).astype(int)
    fresh_by_doc: dict[str, list[int]] = {}
    for i, c in enumerate(fresh_chunks):
        fresh_by_doc.setdefault(c.doc_id, []).append(i)
    for doc_id in docs:  # documents in folder order, so the result equals a full rebuild's
        if doc_id in keep:
            rows = old_rows.get(doc_id, [])
            chunks += [old.chunks[i] for i in rows]
            cparts.append(old.chunk_vectors[rows])
            offs = old.sentence_offsets
            sparts += [old.sentence_vectors[offs[i] : offs[i + 1]] for i in rows]
        else:
            rows = fresh_by_doc.get(doc_id, [])
            chunks += [fresh_chunks[i] for i in rows]
            cparts.append(f_cvec[rows])
            sparts += [f_svec[f_soff[i] : f_soff[i + 1]] for i in rows]
    dim = encoder.dimension
    cvec = np.concatenate(cparts) if cparts else np.zeros((0, dim), np.float32)
    svec = np.concatenate(sparts) if sparts else np.zeros((0, dim), np.float32)
    save_index(_assemble(encoder, o, docs, chunks, cvec, svec, started, report), index_dir)
    report.documents, report.chunks, report.sentences = len(docs), len(chunks), len(svec)
    report.reused_documents = len(keep)
    report.encoded_texts = encoded_count(encoder, fresh_docs, fresh_chunks, o.encode)
    report.seconds = time.perf_counter() - started
    return report


def staleness(docs_dir: Path, index_dir: Path) -> dict[str, list[str]]:
    """Documents added, changed or removed on disk since the index was built (cheap: hashes only)."""
    manifest = read_manifest(index_dir)
    indexed = manifest.documents
    found = find_documents(docs_dir) if docs_dir.is_dir() else []
    on_disk = {p.relative_to(docs_dir).as_posix(): p for p in found}
    skipped = manifest.skipped
    # a file that failed to load is not "new" again until its bytes change
    on_disk = {d: p for d, p in on_disk.items() if d not in skipped or skipped[d] != file_sha256(p)}
    return {
        "added": sorted(d for d in on_disk if d not in indexed),
        "changed": sorted(d for d, p in on_disk.items()
                          if d in indexed and indexed[d].sha256 != file_sha256(p)),
        "removed": sorted(d for d in indexed if d not in on_disk),
    }


def skipped_files(docs_dir: Path, index_dir: Path) -> dict[str, str]:
    """The files the index left out as unreadable (still on disk, bytes unchanged), each with why:
    re-read now, so the reason is today's (cheap: only those files, and each fails fast)."""
    out: dict[str, str] = {}
    for doc_id, sha in sorted(read_manifest(index_dir).skipped.items()):
        path = docs_dir / doc_id
        try:
            if file_sha256(path) != sha:
                continue  # changed since: `staleness` lists it as added
            read_document(path, docs_dir)
            out[doc_id] = "readable now; run `qa index update` to add it"
        except OSError:
            continue  # gone: nothing to fix
        except DocumentError as e:
            out[doc_id] = str(e).removeprefix(f"{path}: ").removeprefix(f"{path} ")
    return out
