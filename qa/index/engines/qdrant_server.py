"""The server backend: a Qdrant server or cluster through `qdrant-client` (`QA_BACKEND=qdrant+http(s)://…`).

A build writes a new collection `<QA_QDRANT_COLLECTION>_<UTC time>` and the index folder records its
name, so replicas switch when they load the new folder and the previous collection is kept for
replicas still serving the old one (dropped at the build after). `qa index update` deletes and
upserts in the recorded collection in place. The collection's metadata records the model, so an
index folder never reads vectors of another model. TLS follows the URL's scheme; the API key comes
from `QA_QDRANT_API_KEY`. `qdrant+local:FOLDER` runs the same code against qdrant-client's
pure-Python local mode (no server; small data only), which is how the tests run it.

Every failure of the connection becomes a one-line `BackendError` naming the fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qa.index.catalogue.manifest import BackendEntry, Manifest, ModelFingerprint
from qa.index.engines.base import BackendError, BackendSettings, ChunkPoint, OldIndex, Writer
from qa.index.engines.dense import DenseParams
from qa.index.engines.qdrant_common import (
    CHUNK,
    LEXICAL,
    SENTENCES,
    Probe,
    QdrantBackend,
    engine_module,
    payload,
    point_vectors,
)
from qa.index.engines.qdrant_engine import QdrantEngine, QdrantWriter, layout, previous_entry
from qa.index.engines.sparse import SparseVector

T = TypeVar("T")
FORMAT = "qa-vi-chunks-1"  # the point layout of qa.index.engines.qdrant_common, in the collection's metadata


def _models() -> Any:
    return engine_module("qdrant_client.models", "qdrant+…", "qdrant-client")


def guard(settings: BackendSettings, fn: Callable[[], T], what: str = "") -> T:
    """Run a client call; any failure becomes a BackendError that says what to do."""
    url = settings.url
    try:
        return fn()
    except BackendError:
        raise
    except Exception as e:  # the client raises httpx, its own and (local mode) ValueError/RuntimeError types
        status = getattr(e, "status_code", None)
        name = e.__class__.__name__
        if status in (401, 403):
            raise BackendError(f"Qdrant at {url} refused the API key (HTTP {status}); set QA_QDRANT_API_KEY "
                               "to the cluster's API key") from e
        if status == 404 and what:
            raise BackendError(f"{what} is not on Qdrant at {url} (deleted, or another cluster?); "
                               "run `qa index build` to create it") from e
        if status is not None:
            raise BackendError(f"Qdrant at {url} answered HTTP {status} ({str(e)[:160]}); check the server's "
                               "log and QA_BACKEND") from e
        if url.startswith("local:"):
            raise BackendError(f"qdrant-client local mode at {url[6:]}: {str(e)[:200]}") from e
        cause = e.__cause__ or e.__context__ or e
        raise BackendError(f"cannot reach Qdrant at {url} ({name}: {str(cause)[:120]}); start the server "
                           "or fix QA_BACKEND (qdrant+http://HOST:6333)") from e


def connect(settings: BackendSettings) -> Any:
    """A client for the configured server, checked with one request (a bad URL or key fails here)."""
    _models()
    from qdrant_client import QdrantClient  # optional dependency (the scale extra), checked by _models()

    url = settings.url
    if url.startswith("local:"):
        # local mode says that it ignores payload indexes and HNSW parameters: expected, not news
        warnings.filterwarnings("ignore", message="Payload indexes have no effect in the local Qdrant")
        warnings.filterwarnings("ignore", message="Local mode performs exact")
        path = url[len("local:"):]
        client = guard(settings, lambda: QdrantClient(location=":memory:") if path == ":memory:"
                       else QdrantClient(path=path))
    else:
        with warnings.catch_warnings():  # "Api key is used with an insecure connection": docs/scale-out.md says https
            warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
            client = QdrantClient(url=url, api_key=settings.api_key or None, https=url.startswith("https://"),
                                  timeout=settings.timeout_s, check_compatibility=False)
    guard(settings, client.get_collections)
    return client


def model_metadata(model: ModelFingerprint) -> dict[str, Any]:
    return {"qa_format": FORMAT, "qa_model": model.id, "qa_dimension": model.dimension, "qa_profile": model.profile}


class QdrantServerBackend(QdrantBackend):
    """One collection on a Qdrant server or cluster (or in qdrant-client's local mode)."""

    kind = "qdrant"

    def __init__(self, client: Any, collection: str, dimension: int, settings: BackendSettings,
                 own_client: bool = True) -> None:
        super().__init__(dimension, settings, f"collection {collection} on Qdrant at {settings.url or 'memory'}")
        self.m = _models()
        self.client = client
        self.collection = collection
        self.own_client = own_client

    @classmethod
    def create(cls, client: Any, collection: str, model: ModelFingerprint, settings: BackendSettings,
               own_client: bool = True) -> QdrantServerBackend:
        """A new, empty collection laid out as `qa.index.engines.qdrant_common` describes."""
        m = _models()
        s = settings
        quant = (m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, quantile=0.99,
                                                                        always_ram=True))
                 if s.quantization == "int8" else None)
        dim = model.dimension
        guard(s, lambda: client.create_collection(
            collection,
            vectors_config={
                CHUNK: m.VectorParams(size=dim, distance=m.Distance.DOT, on_disk=s.on_disk or None,
                                      hnsw_config=m.HnswConfigDiff(m=16, ef_construct=100),
                                      quantization_config=quant),
                SENTENCES: m.VectorParams(size=dim, distance=m.Distance.DOT, on_disk=s.on_disk or None,
                                          multivector_config=m.MultiVectorConfig(
                                              comparator=m.MultiVectorComparator.MAX_SIM),
                                          hnsw_config=m.HnswConfigDiff(m=0)),
            },
            sparse_vectors_config={LEXICAL: m.SparseVectorParams(modifier=m.Modifier.IDF,
                                                                 index=m.SparseIndexParams(on_disk=s.on_disk))},
            shard_number=s.shards or None,
            replication_factor=s.replication if s.replication > 1 else None,
            on_disk_payload=True,
            metadata=model_metadata(model),
        ))
        guard(s, lambda: client.create_payload_index(collection, "doc_id", m.PayloadSchemaType.KEYWORD, wait=True))
        return cls(client, collection, dim, s, own_client)

    @classmethod
    def open(cls, client: Any, collection: str, model: ModelFingerprint, settings: BackendSettings,
             own_client: bool = True) -> QdrantServerBackend:
        """The recorded collection, refused when it holds another model's or dimension's vectors."""
        where = f"collection {collection}"
        info = guard(settings, lambda: client.get_collection(collection), what=where)
        vectors = info.config.params.vectors
        size = vectors[CHUNK].size if isinstance(vectors, dict) and CHUNK in vectors else None
        meta = dict(getattr(info.config, "metadata", None) or {})
        if size is None or (meta and meta.get("qa_format") != FORMAT):
            raise BackendError(f"{where} on Qdrant at {settings.url} is not a qa-vi collection; "
                               "run `qa index build` (or point QA_BACKEND at the cluster that holds this index)")
        got_model = meta.get("qa_model", model.id)
        if size != model.dimension or got_model != model.id:
            raise BackendError(f"{where} on Qdrant at {settings.url} holds vectors of model {got_model} "
                               f"(dim {size}) but this index was built with {model}; run `qa index build` "
                               "to write a collection for it")
        return cls(client, collection, model.dimension, settings, own_client)

    def drop(self) -> None:
        guard(self.settings, lambda: self.client.delete_collection(self.collection))

    # --- translation of probes -----------------------------------------------------------------
    def _filter(self, p: Probe) -> Any:
        m = self.m
        must: list[Any] = []
        if p.ids is not None:
            must.append(m.HasIdCondition(has_id=list(p.ids)))
        if p.doc_ids is not None:
            must.append(m.FieldCondition(key="doc_id", match=m.MatchAny(any=sorted(p.doc_ids))))
        return m.Filter(must=must) if must else None

    def _query(self, p: Probe) -> Any:
        v = p.vector
        if isinstance(v, SparseVector):
            return self.m.SparseVector(indices=v.indices.tolist(), values=v.values.tolist())
        return np.asarray(v, dtype=np.float32).tolist()

    def _params(self, p: Probe) -> Any:
        return self.m.SearchParams(exact=True) if p.ids is not None else \
            self.m.SearchParams(hnsw_ef=p.ef) if p.using == CHUNK else None

    def _call(self, fn: Callable[[], T]) -> T:
        return guard(self.settings, fn, what=f"collection {self.collection}")

    def _write(self, points: Sequence[ChunkPoint]) -> None:
        m = self.m
        structs = [m.PointStruct(id=p.id, payload=payload(p), vector=point_vectors(p, self.dimension, m.SparseVector))
                   for p in points]
        self._call(lambda: self.client.upsert(self.collection, points=structs, wait=True))

    def _delete_docs(self, doc_ids: list[str]) -> None:
        m = self.m
        sel = m.FilterSelector(filter=m.Filter(must=[m.FieldCondition(key="doc_id", match=m.MatchAny(any=doc_ids))]))
        self._call(lambda: self.client.delete(self.collection, points_selector=sel, wait=True))

    def _fuse(self, probes: list[Probe], limit: int) -> list[int]:
        m = self.m
        pre = [m.Prefetch(query=self._query(p), using=p.using, limit=p.limit, filter=self._filter(p),
                          params=self._params(p)) for p in probes]
        res = self._call(lambda: self.client.query_points(self.collection, prefetch=pre, limit=limit,
                                                          query=m.FusionQuery(fusion=m.Fusion.RRF),
                                                          with_payload=False))
        return [int(x.id) for x in res.points]

    def _run(self, probes: list[Probe]) -> list[dict[int, float]]:
        m = self.m
        reqs = [m.QueryRequest(query=self._query(p), using=p.using, limit=p.limit, filter=self._filter(p),
                               params=self._params(p), with_payload=False) for p in probes]
        res = self._call(lambda: self.client.query_batch_points(self.collection, requests=reqs))
        return [{int(x.id): float(x.score) for x in r.points} for r in res]

    def _vectors(self, ids: list[int], using: str) -> dict[int, np.ndarray]:
        recs = self._call(lambda: self.client.retrieve(self.collection, ids, with_payload=False,
                                                       with_vectors=[using]))
        return {int(r.id): np.asarray(r.vector[using], dtype=np.float32) for r in recs}

    def _count(self, doc_id: str | None) -> int:
        m = self.m
        flt = m.Filter(must=[m.FieldCondition(key="doc_id", match=m.MatchValue(value=doc_id))]) if doc_id else None
        return int(self._call(lambda: self.client.count(self.collection, count_filter=flt, exact=True)).count)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and self.own_client:
            try:
                client.close()
            except Exception:  # closing a dead connection must not mask the real error
                pass


def _drop(client: Any, settings: BackendSettings, collection: str) -> None:
    try:
        guard(settings, lambda: client.delete_collection(collection))
    except BackendError:
        pass  # cleanup only: a collection left behind costs disk, not correctness


def open_collection(manifest: Manifest, settings: BackendSettings) -> QdrantServerBackend:
    """The recorded collection of an index folder, on its own connection."""
    client = connect(settings)
    try:
        return QdrantServerBackend.open(client, manifest.backend.collection, manifest.model, settings)
    except BaseException:
        client.close()  # a refused collection must not keep the connection (or local mode's folder lock)
        raise


class QdrantServerWriter(QdrantWriter):
    """A build writes a new collection `<prefix>_<UTC time>` (the one before is kept for replicas still on
    the old folder, the one before that dropped); an update changes the recorded collection in place."""

    def __init__(self, settings: BackendSettings, live: Path, model: ModelFingerprint,
                 old: OldIndex | None) -> None:
        super().__init__(settings, live, model, old)
        # a build: a wrong URL or API key fails here, before minutes of encoding
        self.client = connect(settings) if old is None else None
        self.before: BackendEntry | None = None

    def create(self, stage: Path) -> QdrantBackend:
        s, before = self.settings, previous_entry(self.live)
        self.before = before
        self.collection = f"{s.collection}_{datetime.now(timezone.utc).strftime('%Y%m%d%H%M%S%f')}"
        self.previous = before.collection if before is not None and before.kind == "qdrant" else ""
        return QdrantServerBackend.create(self.client, self.collection, self.model, s, own_client=False)

    def reopen(self, stage: Path, old: Manifest) -> QdrantBackend:
        return open_collection(old, layout(old.backend, self.settings))

    def abort(self) -> None:
        if self.engine is not None:
            self.engine.close()
            if self.client is not None:
                _drop(self.client, self.settings, self.collection)  # the live index keeps its own collection
        if self.client is not None:
            self.client.close()

    def published(self) -> None:
        if self.client is None:
            return
        b = self.before
        if b is not None and b.kind == "qdrant" and b.previous not in ("", self.collection, self.previous):
            _drop(self.client, self.settings, b.previous)  # two builds old: no replica reads it any more
        self.client.close()


class QdrantServerEngine(QdrantEngine):
    kind = "qdrant"
    usage = ("qdrant+http://HOST:6333 or qdrant+https://HOST:6333 (a Qdrant server or cluster), "
             "or qdrant+local:FOLDER (qdrant-client's local mode, for trials)")

    def parse(self, value: str) -> dict[str, str] | None:
        if not value.startswith("qdrant+"):
            return None
        url = value[len("qdrant+"):]
        if url.startswith(("http://", "https://")) and len(url.split("://", 1)[1]) > 0:
            return {"url": url.rstrip("/")}
        if url.startswith("local:") and len(url) > len("local:"):
            return {"url": url}
        return None

    def trial(self, folder: Path) -> str:
        return f"qdrant+local:{folder}"  # qdrant-client's local mode: the server API, no server

    def writer(self, settings: BackendSettings, live: Path, model: ModelFingerprint, dense: DenseParams,
               old: OldIndex | None = None) -> Writer:
        return QdrantServerWriter(settings, live, model, old)

    def open_live(self, live: Path, manifest: Manifest, settings: BackendSettings) -> QdrantBackend:
        return open_collection(manifest, settings)
