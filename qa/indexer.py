"""Build and incrementally update the index from a docs folder (what `qa index build/update` run).

>>> report = build_index(Path("seeds"), Path("index"), encoder)
>>> report.chunks, report.reused
(42, 0)
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from qa import __version__
from qa.chunking import ChunkingParams, chunk_document
from qa.dense import DenseIndex, DenseParams
from qa.documents import find_documents, load_documents
from qa.embedding import Encoder, encode_with_spans
from qa.errors import DocumentError, IndexCorruptError, IndexMissingError, NoDocumentsError, QAError
from qa.lexical import LexicalIndex
from qa.schema import Chunk, Document
from qa.store import FORMAT, FORMAT_VERSION, IndexData, load_index, read_manifest, save_index

Progress = Callable[[int, int], None]  # (done, total) texts encoded


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


ENCODE_MODES = ("sentences", "both", "chunks")


def encode_mode() -> str:
    """`QA_ENCODE`: which texts go through the model at build time.

    "sentences" (default): each distinct sentence once; a chunk's vector is the length-weighted mean
    of its sentences' vectors. On the seed dev set this retrieves as well as encoding the chunks
    (R@1 0.86 vs 0.84-0.85) at half the model time. "both": chunks encoded too. "chunks": one pass
    over the chunks, sentence vectors pooled from its token embeddings (-0.03 highlight hit).
    """
    mode = os.environ.get("QA_ENCODE", "sentences")
    if mode not in ENCODE_MODES:
        raise QAError(f"QA_ENCODE={mode!r}; use one of {', '.join(ENCODE_MODES)}")
    return mode


def _uses_pooling(encoder: Encoder, mode: str) -> bool:
    return mode == "chunks" and hasattr(encoder, "encode_documents_with_spans")


def chunk_vectors_from_sentences(chunks: list[Chunk], svec: np.ndarray) -> np.ndarray:
    """Per chunk, the unit-length mean of its sentence vectors weighted by sentence length.

    >>> chunk_vectors_from_sentences([chunk_of_two_sentences], np.eye(2, dtype=np.float32))  # lengths 30, 10
    array([[0.9486833, 0.3162278]], dtype=float32)
    """
    out = np.zeros((len(chunks), svec.shape[1]), dtype=np.float32)
    row = 0
    for i, c in enumerate(chunks):
        n = len(c.sentences)
        if n:
            w = np.array([e - s for s, e in c.sentences], dtype=np.float32)
            v = w @ svec[row : row + n]
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        row += n
    return out


def encode_chunks(encoder: Encoder, docs: dict[str, Document], chunks: list[Chunk],
                  progress: Progress | None = None, batch: int = 64,
                  mode: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chunk vectors and per-sentence vectors (rows in chunk order, then sentence order), per `encode_mode`.

    Overlapping chunks share sentences; each distinct sentence is encoded once.
    """
    mode = mode or encode_mode()
    if _uses_pooling(encoder, mode):
        return _encode_pooled(encoder, chunks, progress, batch)
    sent_texts = [docs[c.doc_id].text[s:e] for c in chunks for s, e in c.sentences]
    unique = list(dict.fromkeys(sent_texts))
    own = [c.text for c in chunks] if mode != "sentences" else []
    texts = own + unique
    out = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    # longest first across all texts, so each batch pads little (sentences are much shorter than chunks)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for b in range(0, len(order), batch):
        ids = order[b : b + batch]
        out[ids] = encoder.encode_documents([texts[i] for i in ids])
        if progress:
            progress(min(b + batch, len(texts)), len(texts))
    row = {t: len(own) + i for i, t in enumerate(unique)}
    svec = out[[row[t] for t in sent_texts]] if sent_texts else np.zeros((0, encoder.dimension), np.float32)
    cvec = out[: len(chunks)] if own else chunk_vectors_from_sentences(chunks, svec)
    return cvec, svec


def _encode_pooled(encoder: Encoder, chunks: list[Chunk], progress: Progress | None,
                   batch: int) -> tuple[np.ndarray, np.ndarray]:
    dim = encoder.dimension
    cvec = np.zeros((len(chunks), dim), dtype=np.float32)
    per_chunk: list[np.ndarray] = [np.zeros((0, dim), np.float32)] * len(chunks)
    order = sorted(range(len(chunks)), key=lambda i: -len(chunks[i].text))
    for b in range(0, len(order), batch):
        ids = order[b : b + batch]
        spans = [[(s - chunks[i].start, e - chunks[i].start) for s, e in chunks[i].sentences] for i in ids]
        dv, sv = encode_with_spans(encoder, [chunks[i].text for i in ids], spans)
        cvec[ids] = dv
        for i, v in zip(ids, sv, strict=True):
            per_chunk[i] = v
        if progress:
            progress(min(b + batch, len(order)), len(order))
    svec = np.concatenate(per_chunk) if per_chunk else np.zeros((0, dim), np.float32)
    return cvec, np.ascontiguousarray(svec, dtype=np.float32)


def _encoded(encoder: Encoder, docs: dict[str, Document], chunks: list[Chunk], mode: str) -> int:
    """Texts that went through the model (pooled sentence vectors are free, repeats are encoded once)."""
    if _uses_pooling(encoder, mode):
        return len(chunks)
    sentences = len({docs[c.doc_id].text[s:e] for c in chunks for s, e in c.sentences})
    return sentences + (len(chunks) if mode != "sentences" else 0)


def model_fingerprint(encoder: Encoder) -> dict[str, Any]:
    return {"id": encoder.name, "dimension": int(encoder.dimension), "profile": encoder.profile}


def _manifest(encoder: Encoder, params: ChunkingParams, dense: DenseIndex, docs: dict[str, Document],
              chunks: list[Chunk], seconds: float, mode: str) -> dict[str, Any]:
    per_doc: dict[str, dict[str, Any]] = {
        d.doc_id: {"sha256": d.sha256, "title": d.title, "chars": len(d.text), "chunks": 0}
        for d in docs.values()
    }
    for c in chunks:
        per_doc[c.doc_id]["chunks"] += 1
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "model": model_fingerprint(encoder),
        "chunking": params.to_dict(),
        "encode": mode,
        "dense": {"kind": dense.kind, "params": DenseParams.from_env().to_dict()},
        "documents": per_doc,
        "counts": {"documents": len(docs), "chunks": len(chunks),
                   "sentences": sum(len(c.sentences) for c in chunks)},
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
    }


def _load_docs(docs_dir: Path, report: BuildReport) -> dict[str, Document]:
    def on_error(path: Path, err: DocumentError) -> None:
        report.errors.append(str(err))
        try:
            report.skipped[path.relative_to(docs_dir).as_posix()] = _sha256(path)
        except (OSError, ValueError):
            pass

    docs = load_documents(docs_dir, on_error=on_error)
    if not docs:
        raise NoDocumentsError(
            f"no readable documents in {docs_dir} (supported: .txt .md .html .pdf .docx)"
            + (f"; errors: {'; '.join(report.errors)}" if report.errors else "")
        )
    return {d.doc_id: d for d in docs}


def _assemble(encoder: Encoder, params: ChunkingParams, docs: dict[str, Document], chunks: list[Chunk],
              cvec: np.ndarray, svec: np.ndarray, started: float, report: BuildReport, mode: str) -> IndexData:
    dense = DenseIndex.build(cvec, DenseParams.from_env())
    lexical = LexicalIndex.build([c.text for c in chunks])
    manifest = _manifest(encoder, params, dense, docs, chunks, time.perf_counter() - started, mode)
    manifest["skipped"] = report.skipped
    return IndexData(manifest, docs, chunks, cvec, svec, dense, lexical)


def build_index(docs_dir: Path, index_dir: Path, encoder: Encoder, params: ChunkingParams | None = None,
                progress: Progress | None = None) -> BuildReport:
    """Full rebuild: every document chunked and encoded, then swapped in atomically."""
    started = time.perf_counter()
    params = params or ChunkingParams()
    report = BuildReport()
    docs = _load_docs(docs_dir, report)
    chunks = [c for d in docs.values() for c in chunk_document(d, params)]
    mode = encode_mode()
    cvec, svec = encode_chunks(encoder, docs, chunks, progress, mode=mode)
    save_index(_assemble(encoder, params, docs, chunks, cvec, svec, started, report, mode), index_dir)
    report.documents, report.chunks = len(docs), len(chunks)
    report.sentences, report.encoded_texts = len(svec), _encoded(encoder, docs, chunks, mode)
    report.added = sorted(docs)
    report.seconds = time.perf_counter() - started
    return report


def update_index(docs_dir: Path, index_dir: Path, encoder: Encoder, params: ChunkingParams | None = None,
                 progress: Progress | None = None) -> BuildReport:
    """Incremental: re-encode only new and changed documents, drop deleted ones.

    Falls back to a full build when the old index is missing, damaged, or made with another
    model or chunking.
    """
    params = params or ChunkingParams()
    try:
        old = load_index(index_dir)
    except (IndexMissingError, IndexCorruptError):
        return build_index(docs_dir, index_dir, encoder, params, progress)
    same_model = old.manifest.get("model") == model_fingerprint(encoder)
    mode = encode_mode()
    # indexes from before QA_ENCODE encoded chunks and sentences: vectors from another mode don't mix
    same_vectors = old.manifest.get("encode", "both") == mode
    if not same_model or not same_vectors or old.manifest.get("chunking") != params.to_dict():
        return build_index(docs_dir, index_dir, encoder, params, progress)
    started = time.perf_counter()
    report = BuildReport(full=False)
    docs = _load_docs(docs_dir, report)
    keep = {d for d, doc in docs.items() if d in old.documents and old.documents[d].sha256 == doc.sha256}
    report.added = sorted(d for d in docs if d not in old.documents)
    report.changed = sorted(d for d in docs if d in old.documents and d not in keep)
    report.removed = sorted(d for d in old.documents if d not in docs)
    # old rows of the kept documents, in the old order
    old_rows: dict[str, list[int]] = {}
    for i, c in enumerate(old.chunks):
        old_rows.setdefault(c.doc_id, []).append(i)
    fresh_docs = {d: docs[d] for d in docs if d not in keep}
    fresh_chunks = [c for d in fresh_docs.values() for c in chunk_document(d, params)]
    f_cvec, f_svec = encode_chunks(encoder, fresh_docs, fresh_chunks, progress, mode=mode)
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
    save_index(_assemble(encoder, params, docs, chunks, cvec, svec, started, report, mode), index_dir)
    report.documents, report.chunks, report.sentences = len(docs), len(chunks), len(svec)
    report.reused_documents = len(keep)
    report.encoded_texts = _encoded(encoder, fresh_docs, fresh_chunks, mode)
    report.seconds = time.perf_counter() - started
    return report


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def staleness(docs_dir: Path, index_dir: Path) -> dict[str, list[str]]:
    """Documents added, changed or removed on disk since the index was built (cheap: hashes only)."""
    manifest = read_manifest(index_dir)
    indexed: dict[str, Any] = manifest.get("documents", {})
    found = find_documents(docs_dir) if docs_dir.is_dir() else []
    on_disk = {p.relative_to(docs_dir).as_posix(): p for p in found}
    skipped: dict[str, str] = manifest.get("skipped", {})
    # a file that failed to load is not "new" again until its bytes change
    on_disk = {d: p for d, p in on_disk.items() if d not in skipped or skipped[d] != _sha256(p)}
    return {
        "added": sorted(d for d in on_disk if d not in indexed),
        "changed": sorted(d for d, p in on_disk.items()
                          if d in indexed and indexed[d]["sha256"] != _sha256(p)),
        "removed": sorted(d for d in indexed if d not in on_disk),
    }
