"""What the two Qdrant engines share beyond the search plan: an engine bound to an index's chunk list,
the build / update writer, and loading.

The index folder keeps the catalogue (`qa.index.catalogue`) plus vocabulary.npy (hashed folded
features, for `has_phrase`); the engine keeps one point per chunk: vectors, sentence vectors and term
weights (`qa.index.engines.qdrant_common`). The manifest's `backend` section records the kind, the
collection, the BM25 constants (an update keeps the build's, so kept points' weights stay valid) and
the layout. `qa.index.engines.qdrant_edge` and `qa.index.engines.qdrant_server` say where the points go.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.errors import IndexCorruptError, IndexMissingError, QAError
from qa.index.catalogue.manifest import BackendEntry, Manifest, ModelFingerprint, read_manifest
from qa.index.engines.base import (
    BackendSettings,
    Candidates,
    Engine,
    EngineRows,
    OldIndex,
    SearchRequest,
    Writer,
    Written,
    point_ids,
)
from qa.index.engines.qdrant_common import QdrantBackend
from qa.index.engines.sparse import SparseParams, TermVocabulary
from qa.schema import Chunk

VOCABULARY = "vocabulary.npy"


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
        kind=entry.kind, url=entry.url)
    lay = entry.layout
    return replace(base, on_disk=bool(lay.get("on_disk", False)),
                   quantization=lay.get("quantization", "none"))


def previous_entry(live: Path) -> BackendEntry | None:
    """The backend entry of the index now at `live`, if one loads."""
    try:
        return read_manifest(live).backend
    except (IndexMissingError, IndexCorruptError):
        return None


class QdrantWriter(Writer):
    """A build (a new shard or collection) or an update (the recorded one, changed) of Qdrant points."""

    def __init__(self, settings: BackendSettings, live: Path, model: ModelFingerprint,
                 old: OldIndex | None) -> None:
        self.settings, self.live, self.model, self.old = settings, live, model, old
        self.engine: QdrantBackend | None = None
        self.collection, self.previous = "", ""

    @abstractmethod
    def create(self, stage: Path) -> QdrantBackend:
        """A new, empty shard or collection for a full build (sets `collection` and `previous`)."""

    @abstractmethod
    def reopen(self, stage: Path, old: Manifest) -> QdrantBackend:
        """The old index's points, to be changed by an update (and only visible after the swap)."""

    def open(self, stage: Path, chunks: Sequence[Chunk]) -> QdrantBackend:
        if self.old is None:
            self.params = SparseParams.fit(c.text for c in chunks)
            self.engine = self.create(stage)
        else:  # the build's avgdl: kept chunks' weights use it
            self.params = SparseParams.from_dict(dict(self.old.manifest.backend.sparse))
            self.engine = self.reopen(stage, self.old.manifest)
        return self.engine

    def finish(self, stage: Path, chunks: Sequence[Chunk]) -> Written:
        engine = self.engine
        assert engine is not None and self.params is not None, "open first"
        engine.close()
        s = self.settings
        if self.old is None:  # every point went through this engine: its terms are the vocabulary
            vocabulary = TermVocabulary(engine.terms, len(chunks))
            entry = BackendEntry(s.kind, self.collection, self.previous, s.url if s.kind == "qdrant" else "",
                                 self.params.to_dict(),
                                 {"on_disk": s.on_disk, "quantization": s.quantization, "shards": s.shards,
                                  "replication": s.replication})
        else:
            vocabulary = TermVocabulary.build(c.text for c in chunks)
            entry = self.old.manifest.backend
        vocabulary.save(stage / VOCABULARY)
        return Written([VOCABULARY], entry, "hnsw")

    def abort(self) -> None:
        if self.engine is not None:
            self.engine.close()


class QdrantEngine(Engine):
    """Loading is the same for both Qdrant engines; each says how to open its points."""

    @abstractmethod
    def open_live(self, live: Path, manifest: Manifest, settings: BackendSettings) -> QdrantBackend:
        """The engine holding this folder's chunks, checked against its manifest."""

    def load(self, live: Path, manifest: Manifest, settings: BackendSettings | None,
             chunks: Sequence[Chunk]) -> EngineRows:
        vocabulary = TermVocabulary.load(live / VOCABULARY, len(chunks))
        engine = self.open_live(live, manifest, layout(manifest.backend, settings))
        try:
            stored = engine.count()
        except QAError:
            engine.close()
            raise
        if stored != len(chunks):
            engine.close()
            raise IndexCorruptError(f"{engine.where} has {stored} chunks but {live} lists {len(chunks)} "
                                    "(an update stopped half-way?); run `qa index update`")
        empty = np.zeros((0, manifest.model.dimension), np.float32)
        return EngineRows(empty, empty, None, vocabulary, BoundBackend(engine, chunks, manifest.model))

