"""The FAISS dense index: each kind returns k results and finds a vector's own row."""

from __future__ import annotations

import numpy as np
import pytest

from qa.index.engines.dense import DenseIndex, DenseParams


def _unit(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 32)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_dense_kinds_return_k_results_and_find_themselves(kind: str) -> None:
    x = _unit(2000)
    idx = DenseIndex.build(x, DenseParams(kind=kind, hnsw_ef_search=16))
    scores, ids = idx.search(x[:3], 100)  # k above efSearch: the beam widens to k
    assert ids.shape == (3, 100) and (ids >= 0).all()
    assert ids[:, 0].tolist() == [0, 1, 2]
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_dense_auto_choice_and_ivf_lists() -> None:
    p = DenseParams()
    assert [p.choose(n) for n in (19_999, 20_000, 499_999, 500_000)] == ["flat", "hnsw", "hnsw", "ivf"]
    assert [p.ivf_lists(n) for n in (1_000, 100_000, 1_000_000)] == [25, 632, 2000]
