"""FAISS inner-product index, exact when small and approximate (HNSW, IVF) when large.

>>> idx = DenseIndex.build(np.eye(3, dtype="float32"))
>>> idx.search(np.eye(3, dtype="float32")[:1], 2)[1][0].tolist()
[0, 1]
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError


@dataclass(frozen=True)
class DenseParams:
    """Automatic choice by size: exact below `hnsw_from`, HNSW up to `ivf_from`, IVF above."""

    kind: str = "auto"  # auto | flat | hnsw | ivf
    hnsw_from: int = 20_000
    ivf_from: int = 500_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    ivf_nprobe: int = 24

    def choose(self, n: int) -> str:
        if self.kind != "auto":
            return self.kind
        if n < self.hnsw_from:
            return "flat"
        return "hnsw" if n < self.ivf_from else "ivf"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_env(cls) -> DenseParams:
        """`QA_DENSE_KIND`, `QA_HNSW_FROM`, `QA_IVF_FROM` override the defaults."""
        d = cls()
        return cls(
            kind=os.environ.get("QA_DENSE_KIND", d.kind),
            hnsw_from=int(os.environ.get("QA_HNSW_FROM", d.hnsw_from)),
            ivf_from=int(os.environ.get("QA_IVF_FROM", d.ivf_from)),
        )


class DenseIndex:
    """A FAISS index over L2-normalized vectors (inner product = cosine)."""

    def __init__(self, index: Any, kind: str) -> None:
        self.index = index
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
            nlist = int(max(16, min(4 * np.sqrt(n), n // 39)))
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            # train on a sample: k-means over all 1M vectors is wasted time
            rng = np.random.default_rng(0)
            sample = x[rng.choice(n, size=min(n, nlist * 64), replace=False)]
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
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str, params: DenseParams | None = None) -> DenseIndex:
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
