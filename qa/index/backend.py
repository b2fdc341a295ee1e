"""Index backends: where chunk vectors and term weights live and who searches them.

Three implementations of one small interface (`IndexBackend`):

- `faiss` (default): today's in-process index, FAISS + bm25s in RAM (`InProcessBackend`, a thin
  adapter over `DenseIndex` / `LexicalIndex` / `IndexData`);
- `qdrant-edge`: Qdrant's engine embedded in this process, the shard on disk inside the index folder
  (`qa.index.qdrant_edge`);
- `qdrant+http(s)://host:6333`: a Qdrant server or cluster through `qdrant-client`
  (`qa.index.qdrant_server`).

Every backend stores one point per chunk: the chunk vector, its sentences' vectors, and one sparse
vector of accented + folded term weights (`qa.index.sparse`: the app's own tokenization, stable hashed
ids, the engine's IDF). A search returns candidate chunks with three scores each (the best chunk
cosine over the question's vectors, the lexical BM25 with the fields mixed as asked, and optionally
the best sentence cosine); `qa.search.hybrid` fuses them with its tuned z-score weights.

>>> BackendSettings.parse("qdrant+https://qdrant.example.com:6333", api_key="k").url
'https://qdrant.example.com:6333'
>>> BackendSettings.parse("qdrant-edge").kind, BackendSettings.parse("").kind
('qdrant-edge', 'faiss')
>>> point_id("a.txt", 0) == point_id("a.txt", 0) != point_id("a.txt", 1)
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from qa.errors import ConfigError, QAError
from qa.index.dense import DenseIndex, DenseParams
from qa.index.lexical import LexicalIndex
from qa.index.sparse import LexicalQuery, SparseParams, SparseVector, document_vector
from qa.schema import Chunk

if TYPE_CHECKING:
    from qa.index.store import IndexData

BackendKind = Literal["faiss", "qdrant-edge", "qdrant"]
Quantization = Literal["none", "int8"]
QUANTIZATIONS: tuple[Quantization, ...] = ("none", "int8")
_USAGE = ("use faiss (in-process, the default), qdrant-edge (embedded, on disk in the index folder), "
          "qdrant+http://HOST:6333 or qdrant+https://HOST:6333 (a Qdrant server or cluster), "
          "or qdrant+local:FOLDER (qdrant-client's local mode, for trials)")


class BackendError(QAError):
    """The vector engine cannot be used as configured: unreachable, the API key refused, or a collection
    made with another model or dimension. The message names the fix; no index was changed."""


@dataclass(frozen=True)
class BackendSettings:
    """Which backend (QA_BACKEND) and, for Qdrant, how to reach it and how to lay out new collections."""

    kind: BackendKind = "faiss"
    url: str = ""  # qdrant: http(s)://host:port, or local:FOLDER for qdrant-client's local mode
    api_key: str = field(default="", repr=False)  # QA_QDRANT_API_KEY
    collection: str = "qa_vi"  # prefix of the collections a build creates (<prefix>_<time>)
    timeout_s: int = 10
    shards: int = 0  # new collections on a cluster: shard count (0 = the server's default)
    replication: int = 1  # copies of every shard (2 survives one node down)
    on_disk: bool = False  # original vectors memory-mapped from disk instead of RAM (10 M+ chunks)
    quantization: Quantization = "none"  # int8: scalar-quantized copy in RAM for the HNSW search, originals rescore

    @classmethod
    def parse(cls, value: str, **kw: object) -> BackendSettings:
        """QA_BACKEND's value; ConfigError names the choices."""
        v = value.strip()
        if v in ("", "faiss"):
            return cls(**kw)  # type: ignore[arg-type]
        if v == "qdrant-edge":
            return cls(kind="qdrant-edge", **kw)  # type: ignore[arg-type]
        if v.startswith("qdrant+"):
            url = v[len("qdrant+"):]
            if url.startswith(("http://", "https://")) and len(url.split("://", 1)[1]) > 0:
                return cls(kind="qdrant", url=url.rstrip("/"), **kw)  # type: ignore[arg-type]
            if url.startswith("local:") and len(url) > len("local:"):
                return cls(kind="qdrant", url=url, **kw)  # type: ignore[arg-type]
        raise ConfigError(f"QA_BACKEND={value!r}; {_USAGE}")

    @property
    def label(self) -> str:
        """How messages name it: `faiss`, `qdrant-edge` or `qdrant+URL`."""
        return self.kind if self.kind != "qdrant" else f"qdrant+{self.url}"


def point_id(doc_id: str, ordinal: int) -> int:
    """A chunk's point id in an engine: 63 bits of blake2b over (document, chunk number in it).

    Stable across builds, so `qa index update` deletes a document's points by its id and writes the
    new ones without touching any other document."""
    h = hashlib.blake2b(f"{doc_id}\x00{ordinal}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & 0x7FFF_FFFF_FFFF_FFFF


def point_ids(chunks: Sequence[Chunk]) -> np.ndarray:
    """The point id of every chunk, in order (chunk number = its position among its document's chunks)."""
    seen: dict[str, int] = {}
    out = np.zeros(len(chunks), dtype=np.int64)
    for i, c in enumerate(chunks):
        n = seen.get(c.doc_id, 0)
        seen[c.doc_id] = n + 1
        out[i] = point_id(c.doc_id, n)
    return out


@dataclass(frozen=True)
class ChunkPoint:
    """What a backend stores per chunk."""

    id: int
    chunk: Chunk
    vector: np.ndarray  # (dim,) unit length
    sentences: np.ndarray  # (len(chunk.sentences), dim), in sentence order
    sparse: SparseVector  # accented + folded term weights (qa.index.sparse)


def chunk_points(chunks: Sequence[Chunk], chunk_vectors: np.ndarray, sentence_vectors: np.ndarray,
                 params: SparseParams, ids: np.ndarray | None = None) -> Iterator[ChunkPoint]:
    """Points for chunks whose sentence vectors are stacked in chunk order (as `encode_chunks` returns)."""
    ids = point_ids(chunks) if ids is None else ids
    row = 0
    for i, c in enumerate(chunks):
        n = len(c.sentences)
        yield ChunkPoint(int(ids[i]), c, chunk_vectors[i], sentence_vectors[row : row + n],
                         document_vector(c.text, params))
        row += n


@dataclass(frozen=True)
class SearchRequest:
    """One question's search: its vectors (as typed, and restored when that differs) and lexical side."""

    vectors: np.ndarray  # (1 or 2, dim)
    lexical: LexicalQuery
    candidates: int = 64  # per retriever: dense top-k (per question vector) and lexical top-k
    exact_below: int = 0  # in-process: score every chunk at or below this many (0: candidates only)
    sentences: bool = True  # also each candidate's best sentence cosine
    doc_ids: frozenset[str] | None = None  # only chunks of these documents


@dataclass(frozen=True)
class Candidates:
    """Candidate chunks and their scores, aligned."""

    ids: np.ndarray  # int64 point ids (rows of the index's chunk list once bound to an index)
    dense: np.ndarray  # float32: best cosine of the chunk vector over the question's vectors
    lexical: np.ndarray  # float32: BM25, accented and folded fields mixed by the request's weight
    best_sentence: np.ndarray | None = None  # float32: best sentence cosine (-1 for a chunk without any)
    sentence_cos: dict[int, np.ndarray] | None = None  # id -> each sentence's cosine, where already computed

    @classmethod
    def empty(cls) -> Candidates:
        z = np.zeros(0, np.float32)
        return cls(np.zeros(0, np.int64), z, z, z, {})


class IndexBackend(Protocol):
    """Storage and search of chunk points (one implementation per engine)."""

    kind: str
    dimension: int

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or replace points (same id = replaced)."""

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        """Remove every point of these documents."""

    def search(self, request: SearchRequest) -> Candidates:
        """Candidates from dense ANN and lexical BM25, each scored by every retriever."""

    def sentence_cosines(self, ids: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]:
        """Per point, the cosine of each of its sentences to the question (best over its vectors)."""

    def count(self, doc_id: str | None = None) -> int:
        """Points stored (of one document)."""

    def optimize(self) -> None:
        """Make every write count in search statistics (HNSW graph, IDF after deletes) before serving."""

    def close(self) -> None:
        """Flush and release files and connections."""


class RowSearch(Protocol):
    """What the retriever calls: a backend bound to one index, its ids being rows of the index's chunk list
    (`InProcessBackend` over an `IndexData`, `qa.index.external.BoundBackend` over a Qdrant engine)."""

    kind: str

    def search(self, request: SearchRequest) -> Candidates: ...

    def sentence_cosines(self, ids: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]: ...

    def close(self) -> None: ...


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
