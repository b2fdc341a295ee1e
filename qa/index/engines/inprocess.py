"""The default engine: FAISS + bm25s in this process (`QA_BACKEND=faiss`, point id = row once loaded).

Its files in the index folder: chunk_vectors.npy, sentence_vectors.npy (read-only memory maps once
loaded), dense.faiss (`qa.index.engines.dense`), bm25_norm/ and bm25_folded/ (`qa.index.engines.lexical`).

>>> b = InProcessBackend(dimension=2)
>>> b.count(), b.kind
(0, 'faiss')
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from qa.errors import IndexCorruptError
from qa.index.catalogue.folder import damaged
from qa.index.catalogue.manifest import BackendEntry, Manifest, ModelFingerprint
from qa.index.engines.base import (
    BackendError,
    BackendSettings,
    Candidates,
    ChunkPoint,
    Engine,
    EngineRows,
    OldIndex,
    Points,
    SearchRequest,
    Writer,
    Written,
    point_ids,
    sentence_offsets,
)
from qa.index.engines.dense import DenseIndex, DenseParams
from qa.index.engines.lexical import LexicalIndex, lexical_files
from qa.schema import Chunk

VECTOR_FILES = ("chunk_vectors.npy", "sentence_vectors.npy", "dense.faiss")


def sentence_rows(offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The sentence-vector rows of chunk rows `rows`, in order (`offsets` from `sentence_offsets`).

    >>> sentence_rows(np.array([0, 2, 3, 6]), np.array([2, 0])).tolist()
    [3, 4, 5, 0, 1]
    """
    rows = np.asarray(rows, dtype=np.int64)
    counts = offsets[rows + 1] - offsets[rows]
    starts = np.cumsum(counts) - counts
    return np.repeat(offsets[rows] - starts, counts) + np.arange(int(counts.sum()), dtype=np.int64)


class InProcessBackend:
    """FAISS + bm25s in this process: the default, and exactly today's retrieval.

    Wrapping a loaded index shares its arrays (point id = row, unless `ids` are given). Writes are
    columns applied at once when the backend is next read (`upsert` of `Points` takes their arrays
    without a copy); the FAISS and bm25s indexes are rebuilt at the next search, the way `qa index
    update` rebuilds an in-process index.
    """

    kind = "faiss"

    def __init__(self, data: OldIndex | None = None, *, dimension: int = 0,
                 dense_params: DenseParams | None = None, ids: np.ndarray | None = None) -> None:
        self.dense_params = dense_params or (data.manifest.dense if data is not None else DenseParams())
        self._identity = data is not None and ids is None  # point id == row
        self._dense: DenseIndex | None = None
        self._lexical: LexicalIndex | None = None
        self._pending: Points | None = None
        self._deleted: set[str] = set()
        if data is not None:
            self.dimension = int(data.chunk_vectors.shape[1]) if data.chunk_vectors.ndim == 2 else dimension
            self._set(np.arange(len(data.chunks), dtype=np.int64) if ids is None else ids, list(data.chunks),
                      data.chunk_vectors, data.sentence_vectors, data.sentence_offsets)
            if ids is None:
                assert data.dense is not None and isinstance(data.lexical, LexicalIndex), "not an in-process index"
                self._dense, self._lexical = data.dense, data.lexical
        else:
            self.dimension = dimension
            z = np.zeros((0, dimension), np.float32)
            self._set(np.zeros(0, np.int64), [], z, z, np.zeros(1, np.int64))

    def _set(self, ids: np.ndarray, chunks: list[Chunk], cvec: np.ndarray, svec: np.ndarray,
             offsets: np.ndarray) -> None:
        self.ids, self.chunks, self.cvec, self.svec, self.offsets = ids, chunks, cvec, svec, offsets
        self._row_of: dict[int, int] | None = None

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        if self._identity:
            return np.asarray(ids, dtype=np.int64)
        if self._row_of is None:
            self._row_of = {int(p): i for i, p in enumerate(self.ids)}
        return np.array([self._row_of[int(i)] for i in ids], dtype=np.int64)

    def _apply(self) -> None:
        """The pending deletes and upserts, applied to the columns in one pass."""
        new, gone = self._pending, self._deleted
        if new is None and not gone:
            return
        self._pending, self._deleted = None, set()
        replaced = set(new.ids.tolist()) if new is not None else set()
        keep = np.array([i for i, (p, c) in enumerate(zip(self.ids.tolist(), self.chunks, strict=True))
                         if c.doc_id not in gone and p not in replaced], dtype=np.int64)
        if new is not None and keep.size == 0:  # a build: the encoded arrays as they are
            self._set(new.ids, list(new.chunks), new.chunk_vectors, new.sentence_vectors, new.offsets)
        else:
            chunks = [self.chunks[i] for i in keep] + (list(new.chunks) if new is not None else [])
            cparts, sparts = [self.cvec[keep]], [self.svec[sentence_rows(self.offsets, keep)]]
            ids = [self.ids[keep]]
            if new is not None:
                cparts.append(new.chunk_vectors)
                sparts.append(new.sentence_vectors)
                ids.append(new.ids)
            self._set(np.concatenate(ids).astype(np.int64), chunks,
                      np.concatenate(cparts).astype(np.float32, copy=False),
                      np.concatenate(sparts).astype(np.float32, copy=False), sentence_offsets(chunks))
        self._identity, self._dense, self._lexical = False, None, None

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        self._apply()
        if not isinstance(points, Points):  # single points (tests, other callers): stacked into columns
            dim = self.dimension
            chunks = [p.chunk for p in points]
            points = Points(chunks,
                            np.stack([p.vector for p in points]).astype(np.float32) if points
                            else np.zeros((0, dim), np.float32),
                            np.concatenate([p.sentences for p in points]).astype(np.float32) if points
                            else np.zeros((0, dim), np.float32),
                            ids=np.array([p.id for p in points], dtype=np.int64))
        self._pending = points

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        self._apply()
        self._deleted = set(doc_ids)

    def arrange(self, chunks: Sequence[Chunk]) -> None:
        """Put the rows in the order of `chunks` (the catalogue's: folder order), as a full build has them."""
        self._apply()
        want = point_ids(chunks)
        if np.array_equal(want, self.ids):
            return
        rows = self._rows(want) if not self._identity else want
        self._set(want, list(chunks), self.cvec[rows], self.svec[sentence_rows(self.offsets, rows)],
                  sentence_offsets(chunks))
        self._identity, self._dense, self._lexical = False, None, None

    def count(self, doc_id: str | None = None) -> int:
        self._apply()
        return len(self.chunks) if doc_id is None else sum(1 for c in self.chunks if c.doc_id == doc_id)

    def optimize(self) -> None:
        self._apply()  # FAISS and bm25s are built at the first search (a build writes them instead)

    def close(self) -> None:
        pass

    def _indexes(self) -> tuple[DenseIndex, LexicalIndex]:
        self._apply()
        if self._dense is None or self._lexical is None:
            self._dense = DenseIndex.build(self.cvec, self.dense_params)
            self._lexical = LexicalIndex.build([c.text for c in self.chunks])
        return self._dense, self._lexical

    def _cosines(self, rows: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]:
        off = self.offsets
        counts = (off[rows + 1] - off[rows]).astype(int)
        idx = sentence_rows(off, rows) if len(rows) else np.zeros(0, int)
        cos = (self.svec[idx] @ vectors.T).max(axis=1) if idx.size else np.zeros(0)
        return np.split(cos, np.cumsum(counts)[:-1]) if len(rows) else []

    def sentence_cosines(self, ids: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]:
        self._apply()
        return self._cosines(self._rows(ids), vectors)

    def search(self, request: SearchRequest) -> Candidates:
        self._apply()
        if request.vectors.ndim != 2 or request.vectors.shape[1] != self.cvec.shape[1]:
            raise BackendError(f"the question vectors have {request.vectors.shape[-1]} dimensions but this index "
                               f"holds {self.cvec.shape[1]}-dimensional vectors (another model); use the model "
                               "the index was built with (--model / QA_MODEL) or run `qa index build`")
        dense, lx = self._indexes()
        n = len(self.chunks)
        w = request.lexical.weights()
        norm = lx.scores(request.lexical.norm_text, "norm")
        folded = lx.scores(request.lexical.folded_text, "folded")
        lex_all = np.asarray(w["norm"] * norm + w["folded"] * folded, dtype=np.float32)
        if request.doc_ids is not None:  # a filter narrows the set: score its chunks exactly
            cand = np.array([i for i, c in enumerate(self.chunks) if c.doc_id in request.doc_ids], np.int64)
        elif n <= request.exact_below:
            cand = np.arange(n)
        else:
            k = request.candidates
            _, top = dense.search(request.vectors, k)
            lex_top = np.argpartition(-lex_all, min(k, n - 1))[:k] if n else np.zeros(0, int)
            both = np.concatenate([top.ravel(), lex_top])
            cand = np.unique(both[both >= 0])
        if cand.size == 0:
            return Candidates.empty()
        dense_cos = (self.cvec[cand] @ request.vectors.T).max(axis=1)
        best, per_chunk = None, None
        if request.sentences:
            cosines = self._cosines(cand, request.vectors)
            best = np.array([c.max() if c.size else -1.0 for c in cosines], dtype=np.float32)
            per_chunk = dict(zip(self.ids[cand].tolist(), cosines, strict=True))
        return Candidates(self.ids[cand], dense_cos, lex_all[cand], best, per_chunk)


class InProcessWriter(Writer):
    """A build or update: the points gathered in an `InProcessBackend`, written as the engine's files."""

    def __init__(self, dimension: int, dense: DenseParams, old: OldIndex | None) -> None:
        self.dimension, self.dense, self.old = dimension, dense, old
        self.backend: InProcessBackend | None = None

    def open(self, stage: Path, chunks: Sequence[Chunk]) -> InProcessBackend:
        old = self.old
        self.backend = (InProcessBackend(dimension=self.dimension, dense_params=self.dense) if old is None else
                        InProcessBackend(old, dense_params=self.dense, ids=point_ids(old.chunks)))
        return self.backend

    def finish(self, stage: Path, chunks: Sequence[Chunk]) -> Written:
        b = self.backend
        assert b is not None, "open first"
        b.arrange(chunks)
        # asarray, not astype: no second copy of the vectors (GBs at a million chunks) just to write them
        np.save(stage / "chunk_vectors.npy", np.asarray(b.cvec, dtype=np.float32))
        np.save(stage / "sentence_vectors.npy", np.asarray(b.svec, dtype=np.float32))
        dense = DenseIndex.build(b.cvec, self.dense)
        dense.save(stage / "dense.faiss")
        kind = dense.kind
        del dense
        LexicalIndex.build([c.text for c in chunks]).save(stage)
        files = list(VECTOR_FILES) + [p.relative_to(stage).as_posix() for p in lexical_files(stage)]
        return Written(files, BackendEntry(), kind)


def one_copy(live: Path, dense: DenseIndex, mapped: np.ndarray) -> np.ndarray:
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


class InProcessEngine(Engine):
    kind = "faiss"
    usage = "faiss (in-process, the default)"

    def parse(self, value: str) -> dict[str, str] | None:
        return {} if value in ("", "faiss") else None

    def trial(self, folder: Path) -> str:
        return "faiss"

    def writer(self, settings: BackendSettings, live: Path, model: ModelFingerprint, dense: DenseParams,
               old: OldIndex | None = None) -> Writer:
        return InProcessWriter(model.dimension, dense, old)

    def load(self, live: Path, manifest: Manifest, settings: BackendSettings | None,
             chunks: Sequence[Chunk]) -> EngineRows:
        try:
            # memory-mapped, read-only: a search reads only its candidates' rows, so the resident set is the
            # pages questions touch and the OS page cache (shared by every process serving this index) holds
            # the rest; a swapped-in rebuild leaves these mappings valid (the old files live while mapped)
            chunk_vectors = np.load(live / "chunk_vectors.npy", allow_pickle=False, mmap_mode="r")
            sentence_vectors = np.load(live / "sentence_vectors.npy", allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise damaged(live, e) from e
        n_sent = sum(len(c.sentences) for c in chunks)
        if chunk_vectors.shape[0] != len(chunks) or sentence_vectors.shape[0] != n_sent:
            raise IndexCorruptError(f"{live}: {len(chunks)} chunks / {n_sent} sentences but vectors "
                                    f"{chunk_vectors.shape[0]} / {sentence_vectors.shape[0]}; run `qa index build`")
        # search settings (efSearch, nprobe) are the ones the index was built with
        dense = DenseIndex.load(live / "dense.faiss", manifest.dense_kind, manifest.dense)
        if dense.ntotal != len(chunks):
            raise IndexCorruptError(f"{live}/dense.faiss has {dense.ntotal} vectors for {len(chunks)} chunks; "
                                    "run `qa index build`")
        chunk_vectors = one_copy(live, dense, chunk_vectors)
        return EngineRows(chunk_vectors, sentence_vectors, dense, LexicalIndex.load(live, len(chunks)))
