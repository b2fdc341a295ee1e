"""The default backend: FAISS + bm25s in this process, over a loaded `IndexData` (point id = row).

>>> b = InProcessBackend(dimension=2)
>>> b.count(), b.kind
(0, 'faiss')
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from qa.index.backend import BackendError, Candidates, ChunkPoint, SearchRequest
from qa.index.dense import DenseIndex, DenseParams
from qa.index.lexical import LexicalIndex
from qa.schema import Chunk

if TYPE_CHECKING:
    from qa.index.store import IndexData


class InProcessBackend:
    """FAISS + bm25s in this process: the default, and exactly today's retrieval.

    Wrapping a loaded `IndexData` shares its arrays (point id = row). `upsert` / `delete_documents`
    rebuild the arrays and, at the next search, the FAISS and bm25s indexes, the way `qa index update`
    rebuilds an in-process index.
    """

    kind = "faiss"

    def __init__(self, data: IndexData | None = None, *, dimension: int = 0,
                 dense_params: DenseParams | None = None) -> None:
        self.dense_params = dense_params or (data.manifest.dense if data is not None else DenseParams())
        self._identity = data is not None  # point id == row
        self._dense: DenseIndex | None = None
        self._lexical: LexicalIndex | None = None
        if data is not None:
            assert data.dense is not None and isinstance(data.lexical, LexicalIndex), "not an in-process index"
            self.dimension = int(data.chunk_vectors.shape[1]) if data.chunk_vectors.ndim == 2 else dimension
            self._set(np.arange(len(data.chunks), dtype=np.int64), list(data.chunks), data.chunk_vectors,
                      data.sentence_vectors, data.sentence_offsets)
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

    def _rebuild(self, keep: np.ndarray, points: Sequence[ChunkPoint]) -> None:
        chunks = [self.chunks[i] for i in keep] + [p.chunk for p in points]
        sparts = [self.svec[self.offsets[i] : self.offsets[i + 1]] for i in keep] + [p.sentences for p in points]
        cparts = [self.cvec[keep]] + [p.vector[None, :] for p in points]
        dim = self.dimension
        ids = np.concatenate([self.ids[keep], np.array([p.id for p in points], dtype=np.int64)])
        counts = [len(c.sentences) for c in chunks]
        self._set(ids, chunks, np.concatenate(cparts).astype(np.float32),
                  np.concatenate(sparts).astype(np.float32) if sparts else np.zeros((0, dim), np.float32),
                  np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        self._identity, self._dense, self._lexical = False, None, None

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        new = {p.id for p in points}
        keep = np.array([i for i, p in enumerate(self.ids) if int(p) not in new], dtype=np.int64)
        self._rebuild(keep, points)

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        gone = set(doc_ids)
        self._rebuild(np.array([i for i, c in enumerate(self.chunks) if c.doc_id not in gone], np.int64), [])

    def count(self, doc_id: str | None = None) -> int:
        return len(self.chunks) if doc_id is None else sum(1 for c in self.chunks if c.doc_id == doc_id)

    def optimize(self) -> None:
        self._indexes()

    def close(self) -> None:
        pass

    def _indexes(self) -> tuple[DenseIndex, LexicalIndex]:
        if self._dense is None or self._lexical is None:
            self._dense = DenseIndex.build(self.cvec, self.dense_params)
            self._lexical = LexicalIndex.build([c.text for c in self.chunks])
        return self._dense, self._lexical

    def _cosines(self, rows: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]:
        off = self.offsets
        counts = (off[rows + 1] - off[rows]).astype(int)
        idx = (np.concatenate([np.arange(off[c], off[c + 1]) for c in rows]) if len(rows)
               else np.zeros(0, int))
        cos = (self.svec[idx] @ vectors.T).max(axis=1) if idx.size else np.zeros(0)
        return np.split(cos, np.cumsum(counts)[:-1]) if len(rows) else []

    def sentence_cosines(self, ids: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]:
        return self._cosines(self._rows(ids), vectors)

    def search(self, request: SearchRequest) -> Candidates:
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
