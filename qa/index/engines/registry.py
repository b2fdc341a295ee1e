"""The engines, by `QA_BACKEND` scheme. Adding one: a module with an `IndexBackend` and an `Engine`
(`qa.index.engines.base`), and its instance in `ENGINES`; the contract suite then runs over it.

>>> parse_backend("qdrant+https://qdrant.example.com:6333", api_key="k").url
'https://qdrant.example.com:6333'
>>> parse_backend("qdrant-edge").kind, parse_backend("").kind
('qdrant-edge', 'faiss')
>>> [e.kind for e in ENGINES]
['faiss', 'qdrant-edge', 'qdrant']
"""

from __future__ import annotations

from qa.errors import ConfigError, IndexCorruptError
from qa.index.engines.base import BackendSettings, Engine
from qa.index.engines.inprocess import InProcessEngine
from qa.index.engines.qdrant_edge import QdrantEdgeEngine
from qa.index.engines.qdrant_server import QdrantServerEngine

ENGINES: tuple[Engine, ...] = (InProcessEngine(), QdrantEdgeEngine(), QdrantServerEngine())
KINDS: tuple[str, ...] = tuple(e.kind for e in ENGINES)


def parse_backend(value: str, **kw: object) -> BackendSettings:
    """QA_BACKEND's value; ConfigError names the choices."""
    v = value.strip()
    for engine in ENGINES:
        fields = engine.parse(v)
        if fields is not None:
            return BackendSettings(kind=engine.kind, **fields, **kw)  # type: ignore[arg-type]
    raise ConfigError(f"QA_BACKEND={value!r}; use {', '.join(e.usage for e in ENGINES)}")


def engine_for(kind: str, where: str = "") -> Engine:
    """The engine of a BackendSettings or manifest kind (IndexCorruptError for a manifest's unknown kind)."""
    for engine in ENGINES:
        if engine.kind == kind:
            return engine
    raise IndexCorruptError(f"{where or 'the index'} is malformed (ValueError: backend kind {kind!r}); "
                            "run `qa index build`")
