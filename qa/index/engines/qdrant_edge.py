"""The embedded backend: Qdrant Edge (`qdrant-edge-py`, Qdrant's Rust engine in this process).

The shard lives in the index folder (`index/qdrant_edge/`), written beside the live folder and
swapped in with it, so a build or an update is atomic like the in-process index. It is created
without a write-ahead log (durable at `flush`, which every build and update ends with), which also
lets several processes (app workers) open the same shard to read it. `optimize()` builds the HNSW
graph and vacuums deleted points, whose terms would otherwise still count in the IDF statistics.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError
from qa.index.catalogue.manifest import Manifest, ModelFingerprint
from qa.index.engines.base import BackendError, BackendSettings, ChunkPoint, OldIndex, Writer
from qa.index.engines.dense import DenseParams
from qa.index.engines.qdrant_common import (
    CHUNK,
    LEXICAL,
    RRF_K,
    SENTENCES,
    Probe,
    QdrantBackend,
    engine_module,
    payload,
    point_vectors,
)
from qa.index.engines.qdrant_engine import QdrantEngine, QdrantWriter, layout
from qa.index.engines.sparse import SparseVector

SHARD_DIR = "qdrant_edge"


def _edge() -> Any:
    return engine_module("qdrant_edge", "qdrant-edge", "qdrant-edge-py")


def edge_config(dimension: int, settings: BackendSettings) -> Any:
    q = _edge()
    quant = (q.ScalarQuantizationConfig(q.ScalarType.Int8, quantile=0.99, always_ram=True)
             if settings.quantization == "int8" else None)
    memory = q.Memory.Cold if settings.on_disk else None
    return q.EdgeConfig(
        vectors={
            CHUNK: q.EdgeVectorParams(size=dimension, distance=q.Distance.Dot, quantization_config=quant,
                                      memory=memory, hnsw_config=q.HnswIndexConfig(m=16, ef_construct=100,
                                                                                   full_scan_threshold=10_000)),
            SENTENCES: q.EdgeVectorParams(size=dimension, distance=q.Distance.Dot, memory=memory,
                                          multivector_config=q.MultiVectorConfig(q.MultiVectorComparator.MaxSim),
                                          hnsw_config=q.HnswIndexConfig(m=0, ef_construct=100,
                                                                        full_scan_threshold=10_000)),
        },
        sparse_vectors={LEXICAL: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
        optimizers=q.EdgeOptimizersConfig(deleted_threshold=0.0, vacuum_min_vector_number=1),
        wal_enabled=False,
    )


class QdrantEdgeBackend(QdrantBackend):
    """A Qdrant Edge shard in a folder."""

    kind = "qdrant-edge"

    def __init__(self, path: Path, dimension: int, settings: BackendSettings | None = None,
                 create: bool = False) -> None:
        settings = settings or BackendSettings(kind="qdrant-edge")
        super().__init__(dimension, settings, f"the Qdrant Edge shard {path}")
        self.q = _edge()
        self.path = path
        config = edge_config(dimension, settings)
        try:
            if create:
                self.shard = self.q.EdgeShard.create(str(path), config)
                self.shard.update(self.q.UpdateOperation.create_field_index("doc_id", self.q.PayloadSchemaType.Keyword))
            else:
                self.shard = self.q.EdgeShard.load(str(path), config)
        except Exception as e:  # the binding raises plain Exception with the engine's message
            msg = str(e)
            if "ncompatible" in msg:
                raise BackendError(f"{path} was built for other vectors ({msg.split(':')[-1].strip()}); this index "
                                   f"expects dimension {dimension}; run `qa index build`") from e
            raise BackendError(f"cannot open the Qdrant Edge shard {path}: {msg[:200]}; run `qa index build`") from e

    def _filter(self, p: Probe) -> Any:
        q = self.q
        must: list[Any] = []
        if p.ids is not None:
            must.append(q.HasIdCondition(set(p.ids)))
        if p.doc_ids is not None:
            must.append(q.FieldCondition(key="doc_id", match=q.MatchAny(sorted(p.doc_ids))))
        return q.Filter(must=must) if must else None

    def _query(self, p: Probe) -> Any:
        v = p.vector
        vec = self.q.SparseVector(indices=v.indices.tolist(), values=v.values.tolist()) \
            if isinstance(v, SparseVector) else np.asarray(v, dtype=np.float32).tolist()
        return self.q.Query.Nearest(vec, using=p.using)

    def _params(self, p: Probe) -> Any:
        return self.q.SearchParams(exact=True) if p.ids is not None else \
            self.q.SearchParams(hnsw_ef=p.ef) if p.using == CHUNK else None

    def _write(self, points: Sequence[ChunkPoint]) -> None:
        q = self.q
        ops = [q.Point(id=p.id, payload=payload(p), vector=point_vectors(p, self.dimension, q.SparseVector))
               for p in points]
        self.shard.update(q.UpdateOperation.upsert_points(ops))

    def _delete_docs(self, doc_ids: list[str]) -> None:
        q = self.q
        self.shard.update(q.UpdateOperation.delete_points_by_filter(
            q.Filter(must=[q.FieldCondition(key="doc_id", match=q.MatchAny(doc_ids))])))

    def _fuse(self, probes: list[Probe], limit: int) -> list[int]:
        q = self.q
        pre = [q.Prefetch(limit=p.limit, query=self._query(p), filter=self._filter(p), params=self._params(p))
               for p in probes]
        found = self.shard.query(q.QueryRequest(limit=limit, prefetches=pre, query=q.Fusion.Rrf(k=RRF_K)))
        return [int(x.id) for x in found]

    def _run(self, probes: list[Probe]) -> list[dict[int, float]]:
        q = self.q
        reqs = [q.QueryRequest(limit=p.limit, query=self._query(p), filter=self._filter(p), params=self._params(p))
                for p in probes]
        return [{int(x.id): float(x.score) for x in res} for res in self.shard.query_batch(q.QueryBatchRequest(reqs))]

    def _vectors(self, ids: list[int], using: str) -> dict[int, np.ndarray]:
        recs = self.shard.retrieve(ids, with_payload=False, with_vector=[using])
        return {int(r.id): np.asarray(r.vector[using], dtype=np.float32) for r in recs}

    def _count(self, doc_id: str | None) -> int:
        q = self.q
        flt = q.Filter(must=[q.FieldCondition(key="doc_id", match=q.MatchValue(doc_id))]) if doc_id else None
        return int(self.shard.count(q.CountRequest(filter=flt, exact=True)))

    def optimize(self) -> None:
        self.shard.optimize()

    def close(self) -> None:
        shard, self.shard = getattr(self, "shard", None), None
        if shard is not None:
            shard.flush()
            shard.close()


class QdrantEdgeWriter(QdrantWriter):
    """The shard is written inside the staged folder: a new one for a build, a copy of the live one for an
    update (the live shard stays as it is until the swap)."""

    def create(self, stage: Path) -> QdrantBackend:
        self.collection, self.previous = SHARD_DIR, ""
        return QdrantEdgeBackend(stage / SHARD_DIR, self.model.dimension, self.settings, create=True)

    def reopen(self, stage: Path, old: Manifest) -> QdrantBackend:
        shutil.copytree(self.live / SHARD_DIR, stage / SHARD_DIR)
        return QdrantEdgeBackend(stage / SHARD_DIR, self.model.dimension, layout(old.backend, self.settings))


class QdrantEdgeEngine(QdrantEngine):
    kind = "qdrant-edge"
    usage = "qdrant-edge (embedded, on disk in the index folder)"

    def parse(self, value: str) -> dict[str, str] | None:
        return {} if value == "qdrant-edge" else None

    def trial(self, folder: Path) -> str:
        return "qdrant-edge"

    def writer(self, settings: BackendSettings, live: Path, model: ModelFingerprint, dense: DenseParams,
               old: OldIndex | None = None) -> Writer:
        return QdrantEdgeWriter(settings, live, model, old)

    def open_live(self, live: Path, manifest: Manifest, settings: BackendSettings) -> QdrantBackend:
        shard = live / SHARD_DIR
        if not shard.is_dir():
            raise IndexCorruptError(f"{shard} is missing; run `qa index build`")
        return QdrantEdgeBackend(shard, manifest.model.dimension, settings)
