"""Question vectors kept on disk between runs (training and benchmarks embed each question once).

An encoder wrapper: `encode_queries` answers from the file's table and embeds only new texts;
`save()` writes the table back (atomically). The file records the model's name and dimension, and
a file made with another model is ignored rather than trusted::

    enc = StoredQueries(load_encoder(settings.model), Path("/tmp/qvec.npz"))
    enc.encode_queries(["Hà Nội ở đâu?"])        # embedded the first time, read afterwards
    enc.save()

>>> import tempfile
>>> class Fake:
...     name, dimension, profile, calls = "fake", 2, "", 0
...     def encode_queries(self, texts):
...         self.calls += len(texts)
...         return np.ones((len(texts), 2), np.float32)
>>> path = Path(tempfile.mkdtemp()) / "q.npz"
>>> a = StoredQueries(Fake(), path)
>>> _ = a.encode_queries(["x", "y"]); a.save()
>>> b = StoredQueries(Fake(), path)
>>> _ = b.encode_queries(["x", "y", "z"]); b.encoder.calls
1
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qa.model.encoder import Encoder


class StoredQueries:
    """An `Encoder` whose question vectors persist in an .npz file."""

    def __init__(self, encoder: Encoder, path: Path) -> None:
        self.encoder, self.path = encoder, path
        self.name, self.dimension, self.profile = encoder.name, encoder.dimension, encoder.profile
        # a tuned question tower makes other vectors from the same model: the file keys on both
        self.query_name: str = getattr(encoder, "query_name", encoder.name)
        self.table: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path, allow_pickle=False) as f:
                if str(f["model"]) == self.query_name and f["vectors"].shape[1:] == (encoder.dimension,):
                    self.table = dict(zip(f["texts"].tolist(), f["vectors"], strict=True))
        self.added = 0

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        # by length, so a batch pads little
        new = sorted((t for t in dict.fromkeys(texts) if t not in self.table), key=len)
        for i in range(0, len(new), 64):
            part = new[i : i + 64]
            self.table.update(zip(part, self.encoder.encode_queries(part), strict=True))
            self.added += len(part)
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self.table[t] for t in texts])

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.encoder.encode_documents(texts, progress)

    def save(self) -> None:
        """Write the table (only when something was added)."""
        if not self.added and self.path.is_file():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        texts = list(self.table)
        vectors = np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)
        np.savez(tmp, model=np.array(self.query_name), texts=np.array(texts, dtype=str), vectors=vectors)
        os.replace(tmp, self.path)
        self.added = 0
