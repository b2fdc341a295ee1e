"""An encoder whose question embeddings are micro-batched across concurrent callers.

Wraps any `Encoder`: `encode_queries` from many threads at once goes through one forward pass
(qa.batching.MicroBatcher), each caller getting back exactly the rows of its own texts. Documents
(index builds) pass straight through.

>>> class Twice:
...     name, dimension, profile = "twice", 1, "none"
...     def encode_queries(self, texts): return np.array([[2.0 * len(t)] for t in texts])
...     def encode_documents(self, texts, progress=False): return self.encode_queries(texts)
>>> BatchingEncoder(Twice()).encode_queries(["ab", "c"]).tolist()
[[4.0], [2.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa.batching import Arrivals, MicroBatcher
from qa.model.encoder import Encoder


class BatchingEncoder:
    """`inner` with its question embeddings shared between concurrent calls (bounded wait and batch)."""

    def __init__(self, inner: Encoder, max_wait: float = 0.004, max_batch: int = 32,
                 gate: Arrivals | None = None) -> None:
        self.inner = inner
        self.name, self.dimension, self.profile = inner.name, inner.dimension, inner.profile
        self.batcher: MicroBatcher[str, np.ndarray] = MicroBatcher(self._rows, max_wait, max_batch, gate)

    def _rows(self, texts: list[str]) -> list[np.ndarray]:
        return list(self.inner.encode_queries(texts))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return self.inner.encode_queries(texts)
        return np.stack(self.batcher(texts))

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.inner.encode_documents(texts, progress)

    def __getattr__(self, name: str) -> Any:  # anything else (e.g. `model`) is the inner encoder's
        return getattr(self.inner, name)
