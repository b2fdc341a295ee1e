"""Train the span reader: cache the frozen lower layers once, then fine-tune the upper layers and head.

Reproducible (seeded) and sized for a 2-core CPU: the frozen part runs once over every training
window and its hidden states are kept (fp16, a few hundred MB); each epoch samples one positive and
`negatives` negative windows per question and runs only the upper layers, in length-bucketed
batches. The no-answer probability is calibrated with a Platt scaling fitted on the training
windows' margins (span score − no-answer score). `qa reader train` runs this, then fits the answer
verifier (qa.reader.calibrate).

>>> sorted(batches([5, 9, 6, 30], tokens_per_batch=20, max_batch=8, rng=random.Random(0)))
[[0, 2], [1], [3]]
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qa.answer.verify import fit_logistic
from qa.reader.data import TrainingWindow
from qa.reader.model import ReaderConfig, build_net

Log = Callable[[str], None]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainOptions:
    """Training recipe; the defaults are the measured best on the 2-core CPU (see the model card)."""

    epochs: int = 6
    lr: float = 3e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1  # share of the steps with a rising learning rate
    negatives: float = 1.0  # negative windows per positive, per epoch
    other_share: float = 0.5  # share of negatives taken from other paragraphs (hard negatives)
    tokens_per_batch: int = 2048
    max_batch: int = 32
    seed: int = 1234


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


def _pad(seqs: list[tuple[int, ...]]) -> tuple[Any, Any]:
    import torch

    n = max(len(s) for s in seqs)
    ids = torch.ones((len(seqs), n), dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for k, s in enumerate(seqs):
        ids[k, : len(s)] = torch.tensor(s)
        mask[k, : len(s)] = 1
    return ids, mask


class Cache:
    """The frozen part's output for every window, flat in one fp16 tensor."""

    def __init__(self, net: Any, windows: list[TrainingWindow], progress: Progress | None = None) -> None:
        import torch

        self.lengths = [len(w.window.ids) for w in windows]
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self.h = torch.empty((int(self.starts[-1]), net.upper[0].attention.self.query.in_features),
                             dtype=torch.float16)
        order = batches(self.lengths, 4096, 64, random.Random(0))
        done = 0
        with torch.inference_mode():
            for b in order:
                ids, mask = _pad([windows[i].window.ids for i in b])
                h = net.bottom(ids, mask)
                for k, i in enumerate(b):
                    self.h[self.starts[i] : self.starts[i + 1]] = h[k, : self.lengths[i]].to(torch.float16)
                done += len(b)
                if progress:
                    progress(done, len(windows))

    def batch(self, idx: list[int], windows: list[TrainingWindow]) -> tuple[Any, Any, Any]:
        """(hidden states, attention mask, which positions may be answer tokens: <s> and the window)."""
        import torch

        n = max(self.lengths[i] for i in idx)
        h = torch.zeros((len(idx), n, self.h.shape[1]), dtype=torch.float32)
        mask = torch.zeros((len(idx), n), dtype=torch.long)
        valid = torch.zeros((len(idx), n), dtype=torch.bool)
        for k, i in enumerate(idx):
            m = self.lengths[i]
            h[k, :m] = self.h[self.starts[i] : self.starts[i + 1]].float()
            mask[k, :m] = 1
            w = windows[i].window
            valid[k, 0] = True
            valid[k, w.context_start : w.context_start + len(w.offsets)] = True
        return h, mask, valid


def margins(net: Any, cache: Cache, windows: list[TrainingWindow], idx: list[int], max_answer: int) -> np.ndarray:
    """Best span score − no-answer score of each window in `idx`."""
    import torch

    out = np.zeros(len(idx))
    pos = {i: k for k, i in enumerate(idx)}
    with torch.inference_mode():
        for b in batches([cache.lengths[i] for i in idx], 4096, 64, random.Random(0)):
            chosen = [idx[k] for k in b]
            h, mask, valid = cache.batch(chosen, windows)
            s, e = net.top(h, mask)
            ctx = valid.clone()
            ctx[:, 0] = False
            s2, e2 = s.masked_fill(~ctx, -1e9), e.masked_fill(~ctx, -1e9)
            n = s.shape[1]
            band = torch.triu(torch.ones(n, n, dtype=torch.bool)) & ~torch.triu(torch.ones(n, n, dtype=torch.bool),
                                                                                max_answer)
            best = (s2[:, :, None] + e2[:, None, :]).masked_fill(~band, -1e9).view(len(chosen), -1).max(1).values
            for k, i in enumerate(chosen):
                out[pos[i]] = float(best[k] - (s[k, 0] + e[k, 0]))
    return out


def train_reader(base: Any, windows: list[TrainingWindow], config: ReaderConfig, options: TrainOptions,
                 log: Log = print, progress: Progress | None = None) -> tuple[Any, ReaderConfig]:
    """Fine-tune a ReaderNet over `base` (a transformers BertModel); returns it and its calibrated config."""
    import torch
    import torch.nn.functional as fn

    random.seed(options.seed)
    np.random.seed(options.seed)
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    net = build_net(base, config.frozen)
    for p in [*net.embeddings.parameters(), *net.lower.parameters()]:
        p.requires_grad_(False)
    t0 = time.perf_counter()
    cache = Cache(net, windows, progress)
    log(f"cached the frozen {config.frozen} layers for {len(windows)} windows in {time.perf_counter() - t0:.0f} s")
    by_question: dict[int, dict[str, list[int]]] = {}
    for i, w in enumerate(windows):
        by_question.setdefault(w.question, {"pos": [], "same": [], "other": []})[w.kind].append(i)

    def epoch() -> list[int]:
        out = []
        for v in by_question.values():
            out.append(rng.choice(v["pos"]))
            k = int(options.negatives) + (rng.random() < options.negatives - int(options.negatives))
            for _ in range(k):
                pool = v["other"] if rng.random() < options.other_share else v["same"]
                pool = pool or v["same"] or v["other"]
                if pool:
                    out.append(rng.choice(pool))
        return out

    def plan_epoch() -> list[list[int]]:
        ep = epoch()
        grouped = batches([cache.lengths[i] for i in ep], options.tokens_per_batch, options.max_batch, rng)
        return [[ep[k] for k in g] for g in grouped]

    plan = plan_epoch()
    total = len(plan) * options.epochs
    warm = max(1, int(options.warmup * total))
    opt = torch.optim.AdamW([{"params": net.upper.parameters(), "lr": options.lr},
                             {"params": net.head.parameters(), "lr": options.head_lr}],
                            weight_decay=options.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    step = 0
    for e in range(1, options.epochs + 1):
        if e > 1:
            plan = plan_epoch()
        net.upper.train()
        seen, loss_sum, t1 = 0, 0.0, time.perf_counter()
        for b in plan:
            h, mask, valid = cache.batch(b, windows)
            s, en = net.top(h, mask)
            ys = torch.tensor([windows[i].label[0] for i in b])
            ye = torch.tensor([windows[i].label[1] for i in b])
            loss = (fn.cross_entropy(s.masked_fill(~valid, -1e4), ys)
                    + fn.cross_entropy(en.masked_fill(~valid, -1e4), ye)) / 2
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.upper.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            seen += len(b)
            loss_sum += float(loss.detach()) * len(b)
            if progress:
                progress(step, total)
        log(f"epoch {e}/{options.epochs}: loss {loss_sum / max(1, seen):.4f}, {time.perf_counter() - t1:.0f} s")
    net.eval()
    # Platt scaling of the margin: positives against an equal-sized sample of negatives
    pos = [i for i, w in enumerate(windows) if w.kind == "pos"]
    neg = [i for i, w in enumerate(windows) if w.kind != "pos"]
    neg = rng.sample(neg, min(len(neg), len(pos)))
    x = margins(net, cache, windows, pos + neg, config.max_answer_tokens)
    y = np.array([1.0] * len(pos) + [0.0] * len(neg))
    coef = fit_logistic(x[:, None], y, l2=1e-3)
    slope, intercept = float(coef[0]), float(coef[1])
    if not math.isfinite(slope) or slope <= 0:
        raise RuntimeError(f"the reader did not learn to tell answers apart (Platt slope {slope}); train longer")
    return net, replace(config, platt=(slope, intercept))
