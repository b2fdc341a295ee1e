"""The frozen part's output for every training window, computed once and memory-mapped from disk.

The lower `frozen` layers never change during training, so their hidden states are computed once
(in length-bucketed batches) into one float16 file in the work folder; each epoch then runs only the
upper layers. A `frozen-cache.json` written last marks the cache complete and names the windows
(by digest) and layers it was made for, so a resumed or repeated run reuses it and a run over other
windows recomputes it.

>>> sorted(batches([5, 9, 6, 30], tokens_per_batch=20, max_batch=8, rng=random.Random(0)))
[[0, 2], [1], [3]]
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.reader.data import TrainingWindow

Log = Callable[[str], None]
Progress = Callable[[int, int], None]


def batches(lengths: list[int], tokens_per_batch: int, max_batch: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped by similar length (little padding), at most `tokens_per_batch` padded tokens each."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        if cur and ((len(cur) + 1) * lengths[i] > tokens_per_batch or len(cur) >= max_batch):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def pad(seqs: list[tuple[int, ...]]) -> tuple[Any, Any]:
    """Token ids padded with <pad> (1) and their attention mask."""
    import torch

    n = max(len(s) for s in seqs)
    ids = torch.ones((len(seqs), n), dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for k, s in enumerate(seqs):
        ids[k, : len(s)] = torch.tensor(s)
        mask[k, : len(s)] = 1
    return ids, mask


class Cache:
    """The frozen part's output for every window, flat in one float16 file (memory-mapped)."""

    def __init__(self, net: Any, windows: list[TrainingWindow], folder: Path, digest: str,
                 progress: Progress | None = None, log: Log = print) -> None:
        import torch

        self.lengths = [len(w.window.ids) for w in windows]
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        hidden = net.upper[0].attention.self.query.in_features
        shape = (int(self.starts[-1]), hidden)
        path, meta_path = folder / "frozen-cache.f16", folder / "frozen-cache.json"
        meta = {"digest": digest, "frozen": net.frozen, "shape": list(shape)}
        if meta_path.is_file() and json.loads(meta_path.read_text("utf-8")) == meta and path.is_file():
            self.h = np.memmap(path, dtype=np.float16, mode="r", shape=shape)
            log(f"reusing the frozen-layer cache in {path}")
            return
        meta_path.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        out = np.memmap(path, dtype=np.float16, mode="w+", shape=shape)
        order = batches(self.lengths, 8192, 64, random.Random(0))
        device = next(net.upper.parameters()).device
        done = 0
        with torch.inference_mode():
            for b in order:
                ids, mask = pad([windows[i].window.ids for i in b])
                h = net.bottom(ids.to(device), mask.to(device)).to(torch.float16).cpu().numpy()
                for k, i in enumerate(b):
                    out[self.starts[i] : self.starts[i + 1]] = h[k, : self.lengths[i]]
                done += len(b)
                if progress:
                    progress(done, len(windows))
        out.flush()
        meta_path.write_text(json.dumps(meta), "utf-8")  # written last: marks the cache complete
        self.h = np.memmap(path, dtype=np.float16, mode="r", shape=shape)

    def batch(self, idx: list[int], windows: list[TrainingWindow]) -> tuple[Any, Any, Any]:
        """(hidden states, attention mask, which positions may be answer tokens: <s> and the passage)."""
        import torch

        n = max(self.lengths[i] for i in idx)
        h = np.zeros((len(idx), n, self.h.shape[1]), dtype=np.float32)
        mask = torch.zeros((len(idx), n), dtype=torch.long)
        valid = torch.zeros((len(idx), n), dtype=torch.bool)
        for k, i in enumerate(idx):
            m = self.lengths[i]
            h[k, :m] = self.h[self.starts[i] : self.starts[i + 1]]
            mask[k, :m] = 1
            w = windows[i].window
            valid[k, 0] = True
            valid[k, w.context_start : w.context_start + len(w.offsets)] = True
        return torch.from_numpy(h), mask, valid
