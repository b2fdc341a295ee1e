"""What the two Qdrant backends share: the collection layout and the search plan.

One point per chunk, three named vectors and a small payload:

- `chunk`: the chunk vector (dot product = cosine; HNSW-indexed);
- `sentences`: a multivector of its sentences' vectors (MaxSim, not indexed: it is only read or
  scored for a few candidate ids);
- `lexical`: sparse accented + folded term weights with `Modifier.IDF` (`qa.index.engines.sparse`), so the
  engine's score is BM25;
- payload `doc_id` (keyword-indexed: delete by document, filters), `start`, `end`, `sentences`.

A search is two requests. (1) Candidates: one query whose prefetches are the dense ANN top-k for
each question vector and the sparse top-k, fused by the engine (RRF) into their union. (2) Scores:
one batch scoring exactly those ids by every retriever: chunk cosine per question vector, best
sentence cosine (MaxSim of a one-vector query) and BM25. The app's tuned z-score fusion
(`qa.search.hybrid`) ranks them. Each engine module only translates `Probe`s into its own requests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import numpy as np

from qa.index.engines.base import BackendError, BackendSettings, Candidates, ChunkPoint, SearchRequest
from qa.index.engines.sparse import SparseVector, TermVocabulary

CHUNK, SENTENCES, LEXICAL = "chunk", "sentences", "lexical"
RRF_K = 60
BATCH = 256  # points per upsert request
SLICE = 2048  # points made at once (a million never sit in memory as request objects)


def engine_module(name: str, backend: str, package: str) -> Any:
    """Import an optional engine module, or say which package `backend` needs and how to install it."""
    try:
        return import_module(name)
    except ImportError as e:
        raise BackendError(f"QA_BACKEND={backend} needs the {package} package; "
                           f"run `pip install -e \".[scale]\"` (or pip install {package})") from e


@dataclass(frozen=True)
class Probe:
    """One engine search: a named vector, the query for it, how many, and which points may answer."""

    using: str  # CHUNK, SENTENCES or LEXICAL
    vector: np.ndarray | SparseVector  # (dim,) for CHUNK, (n, dim) for SENTENCES, sparse for LEXICAL
    limit: int
    ids: tuple[int, ...] | None = None  # only these points, scored exactly
    doc_ids: frozenset[str] | None = None  # only points of these documents
    ef: int = 128  # HNSW beam for dense probes


def _ids(ids: np.ndarray) -> SparseVector:
    return SparseVector(ids, np.zeros(len(ids), np.float32))


def payload(p: ChunkPoint) -> dict[str, object]:
    c = p.chunk
    return {"doc_id": c.doc_id, "start": c.start, "end": c.end, "sentences": len(c.sentences)}


def sentence_rows(p: ChunkPoint, dimension: int) -> list[list[float]]:
    """The sentences multivector (a chunk without sentences stores one zero vector: never empty)."""
    return p.sentences.tolist() if len(p.sentences) else [[0.0] * dimension]


def point_vectors(p: ChunkPoint, dimension: int, sparse: Any) -> dict[str, Any]:
    """A chunk's named vectors as both Qdrant engines store them; `sparse` is the engine's own
    SparseVector class (qdrant-edge and qdrant-client each have one)."""
    return {CHUNK: np.asarray(p.vector, dtype=np.float32).tolist(), SENTENCES: sentence_rows(p, dimension),
            LEXICAL: sparse(indices=p.sparse.indices.tolist(), values=p.sparse.values.tolist())}


class QdrantBackend(ABC):
    """The search plan and bookkeeping over engine primitives (`_fuse`, `_run`, `_vectors`, ...)."""

    kind: str = "qdrant"

    def __init__(self, dimension: int, settings: BackendSettings, where: str) -> None:
        self.dimension = dimension
        self.settings = settings
        self.where = where  # for messages: the shard folder or the collection and URL
        self.terms = np.zeros(0, np.uint32)  # folded term ids of the points written through this object

    # --- engine primitives -------------------------------------------------------------------
    @abstractmethod
    def _write(self, points: Sequence[ChunkPoint]) -> None: ...

    @abstractmethod
    def _delete_docs(self, doc_ids: list[str]) -> None: ...

    @abstractmethod
    def _fuse(self, probes: list[Probe], limit: int) -> list[int]:
        """Ids of the RRF fusion of the probes (prefetches), best first."""

    @abstractmethod
    def _run(self, probes: list[Probe]) -> list[dict[int, float]]:
        """Each probe's scores by point id, in one batch."""

    @abstractmethod
    def _vectors(self, ids: list[int], using: str) -> dict[int, np.ndarray]: ...

    @abstractmethod
    def _count(self, doc_id: str | None) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def optimize(self) -> None:
        """Build the HNSW index and drop deleted points from the IDF statistics (embedded engine only;
        a server runs its optimizers by itself)."""
        return None

    # --- the interface --------------------------------------------------------------------------
    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        for a in range(0, len(points), SLICE):
            part = list(points[a : a + SLICE])  # `Points` make their ChunkPoints (and term weights) here
            for b in range(0, len(part), BATCH):
                self._write(part[b : b + BATCH])
            self.terms = TermVocabulary.from_vectors([p.sparse for p in part] + [_ids(self.terms)], 0).ids

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        ids = sorted(doc_ids)
        for a in range(0, len(ids), 1000):
            self._delete_docs(ids[a : a + 1000])

    def count(self, doc_id: str | None = None) -> int:
        return self._count(doc_id)

    def check_dimension(self, vectors: np.ndarray) -> None:
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            got = vectors.shape[-1] if vectors.ndim else 0
            raise BackendError(f"the question vectors have {got} dimensions but {self.where} holds "
                               f"{self.dimension}-dimensional vectors (another model); use the model the "
                               "index was built with (--model / QA_MODEL) or run `qa index build`")

    def search(self, request: SearchRequest) -> Candidates:
        self.check_dimension(request.vectors)
        sparse = request.lexical.vector()
        k, docs = request.candidates, request.doc_ids
        ef = max(128, 2 * k)
        probes = [Probe(CHUNK, v, k, doc_ids=docs, ef=ef) for v in request.vectors]
        if sparse.nnz:
            probes.append(Probe(LEXICAL, sparse, k, doc_ids=docs))
        ids = self._fuse(probes, limit=k * len(probes))  # the union of every retriever's top k
        if not ids:
            return Candidates.empty()
        m, only = len(ids), tuple(ids)
        scoring = [Probe(CHUNK, v, m, ids=only) for v in request.vectors]
        if request.sentences:
            scoring += [Probe(SENTENCES, v[None, :], m, ids=only) for v in request.vectors]
        if sparse.nnz:
            scoring.append(Probe(LEXICAL, sparse, m, ids=only))
        res = self._run(scoring)
        r = len(request.vectors)

        def best(maps: list[dict[int, float]], missing: float) -> np.ndarray:
            return np.array([max(mp.get(i, missing) for mp in maps) for i in ids], dtype=np.float32)

        dense = best(res[:r], -1.0)
        sent = best(res[r : 2 * r], -1.0) if request.sentences else None
        lexical = best(res[-1:], 0.0) if sparse.nnz else np.zeros(m, np.float32)
        return Candidates(np.array(ids, dtype=np.int64), dense, lexical, sent, None)

    def sentence_cosines(self, ids: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]:
        self.check_dimension(vectors)
        got = self._vectors([int(i) for i in ids], SENTENCES)
        out = []
        for i in ids:
            m = np.asarray(got.get(int(i), np.zeros((0, self.dimension))), dtype=np.float32).reshape(-1,
                                                                                                   self.dimension)
            out.append((m @ vectors.T).max(axis=1) if len(m) else np.zeros(0, np.float32))
        return out
