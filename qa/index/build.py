"""Build and incrementally update an index from a docs folder (what `qa index build/update` run), the
same pipeline for every engine:

    documents → diff against the manifest → chunks and sentences → vectors (here, or on Ray)
      → points handed to the engine (delete by document, upsert, optimize; `qa.index.engines`)
      → catalogue written beside them (`qa.index.catalogue`) → swapped in atomically

    report = build_index(Path("seeds"), Path("index"), encoder, BuildOptions())
    report.chunks, report.reused_documents        # (26, 0)
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qa.atomic import file_sha256
from qa.errors import DocumentError, IndexCorruptError, IndexMissingError, NoDocumentsError, QAError
from qa.index.catalogue.folder import collect_leftovers, fit_restorer, publish, stage_beside
from qa.index.catalogue.manifest import Counts, DocEntry, Manifest, ModelFingerprint, read_manifest
from qa.index.distributed import RayOptions, encode_chunks_ray
from qa.index.engines.base import BackendSettings, Points, Writer
from qa.index.engines.dense import DenseKind, DenseParams
from qa.index.engines.lexical import CorpusTerms
from qa.index.engines.registry import engine_for
from qa.index.store import load_index
from qa.index.vectors import EncodeMode, Progress, check_mode, encode_chunks, encoded_count
from qa.ingest.chunking import ChunkingParams, chunk_document
from qa.ingest.documents import find_documents, load_documents, read_document
from qa.model.encoder import Encoder
from qa.schema import Chunk, Document

__all__ = ["BuildOptions", "BuildReport", "RayOptions", "build_index", "model_fingerprint", "new_manifest",
           "staleness", "update_index", "write_index"]


@dataclass(frozen=True)
class BuildOptions:
    """How an index is built (QA_ENCODE, QA_DENSE_KIND, ...); recorded in its manifest."""

    chunking: ChunkingParams = field(default_factory=ChunkingParams)
    encode: EncodeMode = "sentences"
    dense: DenseParams = field(default_factory=DenseParams)
    backend: BackendSettings = field(default_factory=BackendSettings)  # QA_BACKEND: where the vectors go
    ray: RayOptions | None = None  # `qa index build --ray [ADDRESS]`: embed on a Ray cluster


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


def _encode(o: BuildOptions, encoder: Encoder, docs: dict[str, Document], chunks: list[Chunk],
            progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """`encode_chunks` here, or spread over a Ray cluster when `o.ray` is set (same vectors)."""
    if o.ray is not None:
        return encode_chunks_ray(encoder, docs, chunks, o.ray, progress, mode=o.encode)
    return encode_chunks(encoder, docs, chunks, progress, mode=o.encode)


def new_manifest(model: ModelFingerprint, options: BuildOptions, dense_kind: DenseKind, docs: dict[str, Document],
                 chunks: list[Chunk], seconds: float, skipped: dict[str, str]) -> Manifest:
    """The manifest of a new index (before its files are listed)."""
    per_doc = {d: 0 for d in docs}
    for c in chunks:
        per_doc[c.doc_id] += 1
    return Manifest(
        model=model,
        counts=Counts(len(docs), len(chunks), sum(len(c.sentences) for c in chunks)),
        chunking=options.chunking,
        encode=options.encode,
        dense_kind=dense_kind,
        dense=options.dense,
        documents={d.doc_id: DocEntry(d.sha256, d.title, len(d.text), per_doc[d.doc_id]) for d in docs.values()},
        skipped=dict(skipped),
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(seconds, 3),
    )


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


def _by_doc(chunks: list[Chunk]) -> dict[str, list[Chunk]]:
    out: dict[str, list[Chunk]] = {}
    for c in chunks:
        out.setdefault(c.doc_id, []).append(c)
    return out


def write_index(writer: Writer, live: Path, model: ModelFingerprint, o: BuildOptions, docs: dict[str, Document],
                chunks: list[Chunk], fresh: Iterable[tuple[list[Chunk], np.ndarray, np.ndarray]],
                gone: Sequence[str] = (), started: float | None = None,
                skipped: dict[str, str] | None = None) -> Manifest:
    """Stage a folder beside `live`, hand the engine the points, write the catalogue, swap it in; returns
    the manifest written (the pipeline's last steps, for every engine).

    `chunks` is the new index's chunk list (folder order); `fresh` the chunks to write with their vectors,
    in slices (sentence vectors stacked in chunk order; a build: all of them, usually one slice); `gone`
    the documents whose old points go first (an update)."""
    started = time.perf_counter() if started is None else started
    stage = stage_beside(live)
    try:
        backend = writer.open(stage, chunks)
        if gone:
            backend.delete_documents(list(gone))
        for part in fresh:
            backend.upsert(Points(*part, params=writer.params))
        backend.optimize()
        try:
            written = writer.finish(stage, chunks)
            manifest = replace(new_manifest(model, o, written.dense_kind, docs, chunks,
                                            time.perf_counter() - started, skipped or {}), backend=written.entry)
            manifest = publish(stage, live, manifest, docs, chunks, written.files,
                    CorpusTerms.build(c.text for c in chunks), fit_restorer(docs))
        except (OSError, RuntimeError) as e:  # faiss reports a failed write (disk full) as RuntimeError
            raise QAError(f"could not write the index beside {live}: {e}; the previous index is unchanged "
                          "(free some disk space or choose another --index folder)") from e
    except BaseException:
        writer.abort()
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    collect_leftovers(live)
    writer.published()
    return manifest


def build_index(docs_dir: Path, index_dir: Path, encoder: Encoder, options: BuildOptions | None = None,
                progress: Progress | None = None) -> BuildReport:
    """Full rebuild: every document chunked and encoded, then swapped in atomically."""
    started = time.perf_counter()
    o = options or BuildOptions()
    check_mode(o.encode)
    live = index_dir.resolve()
    # before any work: a server that cannot be reached fails here
    writer = engine_for(o.backend.kind).writer(o.backend, live, model_fingerprint(encoder), o.dense)
    report = BuildReport()
    try:
        docs = _load_docs(docs_dir, report)
        chunks = [c for d in docs.values() for c in chunk_document(d, o.chunking)]
        cvec, svec = _encode(o, encoder, docs, chunks, progress)
    except BaseException:
        writer.abort()
        raise
    write_index(writer, live, model_fingerprint(encoder), o, docs, chunks, [(chunks, cvec, svec)], [], started,
                report.skipped)
    report.documents, report.chunks, report.sentences = len(docs), len(chunks), len(svec)
    report.encoded_texts = encoded_count(encoder, docs, chunks, o.encode)
    report.added = sorted(docs)
    report.seconds = time.perf_counter() - started
    return report


def update_index(docs_dir: Path, index_dir: Path, encoder: Encoder, options: BuildOptions | None = None,
                 progress: Progress | None = None) -> BuildReport:
    """Incremental: re-encode only new and changed documents, drop deleted ones (their points deleted by
    document, the new ones upserted, the kept ones untouched).

    Falls back to a full build when the old index is missing, damaged, built for another backend, or
    made with another model, chunking or encode mode (vectors from another mode don't mix).
    """
    o = options or BuildOptions()
    check_mode(o.encode)
    live = index_dir.resolve()
    try:
        old = load_index(live, o.backend)
    except (IndexMissingError, IndexCorruptError):
        return build_index(docs_dir, index_dir, encoder, o, progress)
    if old.backend is not None:
        old.backend.close()  # the writer opens the engine again, for writing
    m = old.manifest
    if m.model != model_fingerprint(encoder) or m.encode != o.encode or m.chunking != o.chunking:
        return build_index(docs_dir, index_dir, encoder, o, progress)
    started = time.perf_counter()
    report = BuildReport(full=False)
    docs, keep = _load_and_diff(docs_dir, m, report)
    fresh_docs = {d: docs[d] for d in docs if d not in keep}
    fresh_chunks = [c for d in fresh_docs.values() for c in chunk_document(d, o.chunking)]
    f_cvec, f_svec = _encode(o, encoder, fresh_docs, fresh_chunks, progress)
    old_by_doc, fresh_by_doc = _by_doc(old.chunks), _by_doc(fresh_chunks)
    # documents in folder order, so the result equals a full rebuild's
    chunks = [c for d in docs for c in (old_by_doc if d in keep else fresh_by_doc).get(d, [])]
    writer = engine_for(o.backend.kind).writer(o.backend, live, m.model, o.dense, old)
    write_index(writer, live, m.model, o, docs, chunks, [(fresh_chunks, f_cvec, f_svec)],
                report.changed + report.removed, started, report.skipped)
    report.documents, report.chunks = len(docs), len(chunks)
    report.sentences = sum(len(c.sentences) for c in chunks)
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
