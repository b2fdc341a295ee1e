"""Index backends: where chunk vectors and term weights live and who searches them.

Three implementations of one small interface (`IndexBackend`):

- `faiss` (default): today's in-process index, FAISS + bm25s in RAM (`qa.index.inprocess`, a thin
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
from qa.index.sparse import LexicalQuery, SparseParams, SparseVector, document_vector
from qa.schema import Chunk

if TYPE_CHECKING:
    pass

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
