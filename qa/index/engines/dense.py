"""FAISS inner-product index, exact when small and approximate (HNSW, IVF) when large.

>>> idx = DenseIndex.build(np.eye(3, dtype="float32"))
>>> idx.search(np.eye(3, dtype="float32")[:1], 2)[1][0].tolist()
[0, 1]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from qa.errors import IndexCorruptError

DenseKind = Literal["auto", "flat", "hnsw", "ivf"]


@dataclass(frozen=True)
class DenseParams:
    """Automatic choice by size: exact below `hnsw_from`, HNSW up to `ivf_from`, IVF above.

    Tuned with benchmarks/bench_scale.py on clustered synthetic vectors (2 cores): exact search
    costs ~11 ms p50 at 100 k (too slow), HNSW(32, efSearch 64) 0.4 ms p95 at recall@10 1.000,
    IVF(2√n lists, nprobe 24) ~2 ms p95 at 1 M with recall@10 ~0.98 and builds in ~1.5 min there,
    where HNSW would take several. efSearch never drops below the k asked for.
    """

    kind: DenseKind = "auto"
    hnsw_from: int = 20_000
    ivf_from: int = 500_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    ivf_nprobe: int = 24
    ivf_lists_per_sqrt_n: float = 2.0  # nlist = 2·√n: ~2,000 lists of ~500 vectors at 1 M
    ivf_train_iterations: int = 10  # k-means; faiss's default 25 triples training for no recall gain

    def ivf_lists(self, n: int) -> int:
        """Number of IVF lists for n vectors (≥ 39 training points per list, as faiss wants)."""
        return int(max(1, min(self.ivf_lists_per_sqrt_n * np.sqrt(n), n // 39)))

    def choose(self, n: int) -> DenseKind:
        if self.kind != "auto":
            return self.kind
        if n < self.hnsw_from:
            return "flat"
        return "hnsw" if n < self.ivf_from else "ivf"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DenseParams:
        """What `to_dict` wrote; unknown keys (a newer version's) are ignored, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class _Borrowed(np.ndarray):
    """An array over memory another object owns (`owner`), which lives as long as the array."""

    owner: Any = None


class DenseIndex:
    """A FAISS index over L2-normalized vectors (inner product = cosine)."""

    def __init__(self, index: Any, kind: DenseKind) -> None:
        self.index: Any = index
        self.kind = kind

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, params: DenseParams | None = None) -> DenseIndex:
        import faiss

        params = params or DenseParams()
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = x.shape
        kind = params.choose(n)
        index: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.hnsw_ef_construction
            index.hnsw.efSearch = params.hnsw_ef_search
        elif kind == "ivf":
            nlist = params.ivf_lists(n)
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.niter = params.ivf_train_iterations
            # train on a sample: k-means over all 1M vectors is wasted time
            rng = np.random.default_rng(0)
            sample = x[rng.choice(n, size=min(n, nlist * 40), replace=False)] if n else x
            index.train(sample)
            index.nprobe = params.ivf_nprobe
        else:
            raise ValueError(f"unknown dense index kind {kind!r}; use auto, flat, hnsw or ivf")
        if n:
            index.add(x)
        return cls(index, kind)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the top k per query; ids are -1 where fewer exist."""
        k = max(1, min(k, self.ntotal))
        if self.ntotal == 0:
            q = len(queries)
            return np.zeros((q, 0), np.float32), np.zeros((q, 0), np.int64)
        x = np.ascontiguousarray(queries, dtype=np.float32)
        if self.kind == "hnsw" and k > self.index.hnsw.efSearch:
            import faiss

            fx: Any = faiss  # the type stubs lack SearchParametersHNSW
            # faiss does not widen the beam to k by itself: fewer than k good neighbors come back
            out = self.index.search(x, k, params=fx.SearchParametersHNSW(efSearch=k))
        else:
            out = self.index.search(x, k)
        return out[0], out[1]

    def stored_vectors(self) -> np.ndarray | None:
        """The vectors FAISS holds (flat and HNSW keep them as they are), as a read-only view that keeps
        this index alive; None for IVF. Lets a loaded index keep one copy of its chunk vectors."""
        import faiss

        if self.kind not in ("flat", "hnsw") or self.ntotal == 0:
            return None
        store: Any = faiss.downcast_index(self.index.storage) if self.kind == "hnsw" else self.index
        if not hasattr(store, "get_xb"):
            return None
        raw = faiss.rev_swig_ptr(store.get_xb(), self.ntotal * self.index.d).reshape(self.ntotal, self.index.d)
        view = raw.view(_Borrowed)
        view.owner = self  # a slice of the view keeps the view, hence FAISS's memory, alive
        view.flags.writeable = False
        return view

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: DenseKind, params: DenseParams | None = None) -> DenseIndex:
        import faiss

        try:
            index: Any = faiss.read_index(str(path))
        except Exception as e:  # faiss raises RuntimeError with a C++ message
            raise IndexCorruptError(f"{path}: cannot read the FAISS index ({str(e)[:120]}); "
                                    "run `qa index build`") from e
        params = params or DenseParams()
        if kind == "hnsw":
            index.hnsw.efSearch = params.hnsw_ef_search
        elif kind == "ivf":
            index.nprobe = params.ivf_nprobe
        return cls(index, kind)
