"""What every engine implements, and what the build pipeline hands it.

An engine is where an index's chunk rows live and who searches them: `faiss` (FAISS + bm25s in this
process, `qa.index.engines.inprocess`), `qdrant-edge` (Qdrant's engine embedded, the shard in the
index folder) and `qdrant+http(s)://host:6333` (a Qdrant server or cluster). Each is one module with
two classes:

- an `IndexBackend`: storage and search of chunk points (`upsert`, `delete_documents`, `optimize`,
  `search`, `sentence_cosines`, `count`, `close`), the same contract for every engine
  (`tests/index/test_backends.py` runs it over every registered engine);
- an `Engine`: its `QA_BACKEND` scheme, and how the pipeline (`qa.index.build`) opens it for a
  build or an update (a `Writer`, staged beside the live folder) and how a loaded index reads it
  (`EngineRows`). `qa.index.engines.registry` lists the engines.

Every engine stores one point per chunk: the chunk vector, its sentences' vectors, and (for engines
that score BM25 themselves) one sparse vector of accented + folded term weights
(`qa.index.engines.sparse`). A search returns candidate chunks with three scores each (the best chunk
cosine over the question's vectors, the lexical BM25 with the fields mixed as asked, and optionally
the best sentence cosine); `qa.search.hybrid` fuses them with its tuned z-score weights.

>>> point_id("a.txt", 0) == point_id("a.txt", 0) != point_id("a.txt", 1)
True
>>> pts = Points([Chunk("a.txt", "A", "x", 0, 1, ((0, 1),))], np.ones((1, 2), np.float32), np.ones((1, 2), np.float32))
>>> len(pts), pts[0].id == point_id("a.txt", 0), pts[-1].sparse.nnz, len(pts[5:])
(1, True, 0, 0)
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, overload

import numpy as np

from qa.errors import IndexCorruptError, QAError
from qa.index.catalogue.manifest import BackendEntry, Manifest, ModelFingerprint
from qa.index.engines.dense import DenseIndex, DenseKind, DenseParams
from qa.index.engines.lexical import LexicalIndex
from qa.index.engines.sparse import LexicalQuery, SparseParams, SparseVector, TermVocabulary, document_vector
from qa.schema import Chunk

Quantization = Literal["none", "int8"]
QUANTIZATIONS: tuple[Quantization, ...] = ("none", "int8")
_NO_TERMS = SparseVector(np.zeros(0, np.uint32), np.zeros(0, np.float32))


class BackendError(QAError):
    """The vector engine cannot be used as configured: unreachable, the API key refused, or a collection
    made with another model or dimension. The message names the fix; no index was changed."""


class BackendMismatchError(IndexCorruptError):
    """The index folder was built for another backend than the configured one (a build makes it anew)."""


@dataclass(frozen=True)
class BackendSettings:
    """Which engine (QA_BACKEND, parsed by `qa.index.engines.registry.parse_backend`) and, for Qdrant,
    how to reach it and how to lay out new collections."""

    kind: str = "faiss"  # an engine's `kind` in the registry
    url: str = ""  # qdrant: http(s)://host:port, or local:FOLDER for qdrant-client's local mode
    api_key: str = field(default="", repr=False)  # QA_QDRANT_API_KEY
    collection: str = "qa_vi"  # prefix of the collections a build creates (<prefix>_<time>)
    timeout_s: int = 10
    shards: int = 0  # new collections on a cluster: shard count (0 = the server's default)
    replication: int = 1  # copies of every shard (2 survives one node down)
    on_disk: bool = False  # original vectors memory-mapped from disk instead of RAM (10 M+ chunks)
    quantization: Quantization = "none"  # int8: scalar-quantized copy in RAM for the HNSW search, originals rescore

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


def sentence_offsets(chunks: Sequence[Chunk]) -> np.ndarray:
    """Row of chunk i's first sentence among sentence vectors stacked in chunk order (n + 1 entries)."""
    return np.concatenate([[0], np.cumsum([len(c.sentences) for c in chunks])]).astype(np.int64)


@dataclass(frozen=True)
class ChunkPoint:
    """What a backend stores per chunk."""

    id: int
    chunk: Chunk
    vector: np.ndarray  # (dim,) unit length
    sentences: np.ndarray  # (len(chunk.sentences), dim), in sentence order
    sparse: SparseVector  # accented + folded term weights (qa.index.engines.sparse); empty when not asked for


class Points(Sequence[ChunkPoint]):
    """Chunk points held as columns (chunks, their vectors, sentence vectors stacked in chunk order, ids):
    a slice is a view, a `ChunkPoint` is made when one is read, its term weights computed then (with
    `params`; None: no weights, for engines that score BM25 over the chunk texts themselves). The
    in-process engine takes the columns as they are (no copy of the vectors)."""

    def __init__(self, chunks: Sequence[Chunk], chunk_vectors: np.ndarray, sentence_vectors: np.ndarray,
                 params: SparseParams | None = None, ids: np.ndarray | None = None,
                 offsets: np.ndarray | None = None) -> None:
        self.chunks = chunks
        self.chunk_vectors = chunk_vectors
        self.sentence_vectors = sentence_vectors
        self.params = params
        self.ids = point_ids(chunks) if ids is None else ids
        self.offsets = sentence_offsets(chunks) if offsets is None else offsets

    def __len__(self) -> int:
        return len(self.chunks)

    @overload
    def __getitem__(self, i: int) -> ChunkPoint: ...

    @overload
    def __getitem__(self, i: slice) -> Points: ...

    def __getitem__(self, i: int | slice) -> ChunkPoint | Points:
        if isinstance(i, slice):
            a, b, _ = i.indices(len(self))
            off = self.offsets
            return Points(self.chunks[a:b], self.chunk_vectors[a:b], self.sentence_vectors[off[a] : off[b]],
                          self.params, self.ids[a:b], off[a : b + 1] - off[a])
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        c = self.chunks[i]
        sparse = document_vector(c.text, self.params) if self.params is not None else _NO_TERMS
        return ChunkPoint(int(self.ids[i]), c, self.chunk_vectors[i],
                          self.sentence_vectors[self.offsets[i] : self.offsets[i + 1]], sparse)


def chunk_points(chunks: Sequence[Chunk], chunk_vectors: np.ndarray, sentence_vectors: np.ndarray,
                 params: SparseParams, ids: np.ndarray | None = None) -> Iterator[ChunkPoint]:
    """Points for chunks whose sentence vectors are stacked in chunk order (as `encode_chunks` returns)."""
    return iter(Points(chunks, chunk_vectors, sentence_vectors, params, ids))


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
    (`InProcessBackend` over an `IndexData`, `qa.index.engines.qdrant_engine.BoundBackend` over a Qdrant
    engine)."""

    kind: str

    def search(self, request: SearchRequest) -> Candidates: ...

    def sentence_cosines(self, ids: np.ndarray, vectors: np.ndarray) -> list[np.ndarray]: ...

    def close(self) -> None: ...


class OldIndex(Protocol):
    """What an update reads of the index it changes (a loaded `qa.index.store.IndexData`)."""

    manifest: Manifest
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray
    dense: DenseIndex | None
    lexical: LexicalIndex | TermVocabulary


@dataclass(frozen=True)
class Written:
    """What an engine left in the staged folder: its files (names relative to the folder, listed in the
    manifest and checked at load), the manifest's backend entry, and the dense index kind it reports."""

    files: list[str]
    entry: BackendEntry
    dense_kind: DenseKind


@dataclass(frozen=True)
class EngineRows:
    """What a loaded index gets from its engine: the vectors held in this process (empty arrays when they
    live in the engine), the FAISS index or None, bm25s or the term vocabulary (for `has_phrase`), and
    the engine bound to the chunk list (None: the in-process engine, wrapped by the retriever)."""

    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    dense: DenseIndex | None
    lexical: LexicalIndex | TermVocabulary
    backend: RowSearch | None = None


class Writer(ABC):
    """One build or update of an engine's rows. The pipeline calls `open` with the staged folder (beside
    the live one) and the final chunk list, hands the returned backend the points (`delete_documents`,
    `upsert`, `optimize`), then `finish` (the engine's files written into the folder), publishes the
    folder, and calls `published`; `abort` on any failure (nothing live changed)."""

    params: SparseParams | None = None  # term weights the points must carry (None: none), set by `open`

    @abstractmethod
    def open(self, stage: Path, chunks: Sequence[Chunk]) -> IndexBackend: ...

    @abstractmethod
    def finish(self, stage: Path, chunks: Sequence[Chunk]) -> Written: ...

    def abort(self) -> None:  # noqa: B027 - optional hook, nothing to undo by default
        """Release and remove what `open` made outside the staged folder (default: nothing)."""

    def published(self) -> None:  # noqa: B027 - optional hook
        """After the swap: drop what no reader needs any more, close connections (default: nothing)."""


class Engine(ABC):
    """One `QA_BACKEND` scheme: parsing it, writing an index's rows, reading them back."""

    kind: str  # BackendSettings.kind, and the manifest's backend kind
    usage: str  # how the configuration error lists it

    @abstractmethod
    def parse(self, value: str) -> dict[str, str] | None:
        """The BackendSettings fields for a QA_BACKEND value of this engine's scheme; None: not its scheme."""

    @abstractmethod
    def trial(self, folder: Path) -> str:
        """A QA_BACKEND value of this engine that runs offline with its data under `folder` (what the
        contract tests and the whole-index tests use)."""

    @abstractmethod
    def writer(self, settings: BackendSettings, live: Path, model: ModelFingerprint, dense: DenseParams,
               old: OldIndex | None = None) -> Writer:
        """A full build (`old` None) or an update of `old`, the index at `live`. Called before any
        document is read: an unreachable engine fails here, before minutes of encoding."""

    @abstractmethod
    def load(self, live: Path, manifest: Manifest, settings: BackendSettings | None,
             chunks: Sequence[Chunk]) -> EngineRows:
        """The engine's side of a verified index folder; IndexCorruptError / BackendError name the fix."""

