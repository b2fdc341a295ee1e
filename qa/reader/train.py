"""Train the span reader: cache the frozen lower layers once, then fine-tune the upper layers and head.

Sized for a 2-core CPU and reproducible: the frozen part runs once over every training window and
its hidden states go to a float16 file in the work folder (memory-mapped; a resumed run reuses it);
each epoch samples one positive and `negatives` negative windows per question, seeded by the
epoch's number, and runs only the upper layers in length-bucketed batches. A checkpoint (weights,
optimizer, schedule, random state, position in the epoch) is written at every epoch's end and every
`checkpoint_minutes`, so `--resume` continues a cut-off run where it stopped, with the same batches.
The no-answer probability is calibrated with a Platt scaling fitted on the training windows' margins
(span score − no-answer score); the answer decision is calibrated on held-out data later
(qa.answer.decide).

>>> sample_epoch({7: {"pos": [0], "same": [1], "other": [2]}}, 1.0, 1.0, random.Random(0))
[0, 2]
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.decide import fit_logistic
from qa.errors import ModelError
from qa.reader.cache import Cache, Progress, batches
from qa.reader.data import TrainingWindow
from qa.reader.model import ReaderConfig, build_net, load_weights

Log = Callable[[str], None]
Snapshot = Callable[[Any, int], None]  # (net, questions seen so far)
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainOptions:
    """Training recipe; the defaults are the measured choice on the 2-core CPU (see the model card)."""

    epochs: int = 1  # the shipped run; a 2nd epoch gave +0.03 F1 for twice the time (model card)
    lr: float = 2e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06  # share of the steps with a rising learning rate
    negatives: float = 0.35  # negative windows per question, per epoch
    other_share: float = 0.7  # share of negatives taken from other paragraphs (hard negatives)
    tokens_per_batch: int = 4096
    max_batch: int = 32
    seed: int = 1234
    checkpoint_minutes: float = 10.0
    device: str = "cpu"
    platt_sample: int = 2000  # windows of each kind for the margin's Platt fit; 0 keeps the config's
    init: str = ""  # a reader folder to start from (continued training) instead of the embedding model's layers


def sample_epoch(by_question: dict[int, dict[str, list[int]]], negatives: float, other_share: float,
                 rng: random.Random) -> list[int]:
    """One positive per question and, on average, `negatives` negatives (hard ones `other_share` of the time)."""
    out = []
    for q in sorted(by_question):
        v = by_question[q]
        out.append(rng.choice(v["pos"]))
        k = int(negatives) + (rng.random() < negatives - int(negatives))
        for _ in range(k):
            pool = v["other"] if rng.random() < other_share else v["same"]
            pool = pool or v["same"] or v["other"]
            if pool:
                out.append(rng.choice(pool))
    return out


def windows_digest(windows: list[TrainingWindow]) -> str:
    """Identifies the training windows (a cache or checkpoint made for other windows is not reused)."""
    h = hashlib.sha256()
    for w in windows:
        h.update(np.asarray(w.window.ids, dtype=np.int32).tobytes())
        h.update(np.asarray(w.label, dtype=np.int32).tobytes())
    return h.hexdigest()


def span_loss(s: Any, e: Any, valid: Any, ys: Any, ye: Any) -> Any:
    """Mean of the start and end cross-entropies over the positions that may hold an answer."""
    import torch.nn.functional as fn

    return (fn.cross_entropy(s.masked_fill(~valid, -1e4), ys) + fn.cross_entropy(e.masked_fill(~valid, -1e4), ye)) / 2


def margins(net: Any, cache: Cache, windows: list[TrainingWindow], idx: list[int], max_answer: int) -> np.ndarray:
    """Best span score − no-answer score of each window in `idx`."""
    import torch

    out = np.zeros(len(idx))
    pos = {i: k for k, i in enumerate(idx)}
    device = next(net.upper.parameters()).device
    with torch.inference_mode():
        for b in batches([cache.lengths[i] for i in idx], 8192, 64, random.Random(0)):
            chosen = [idx[k] for k in b]
            h, mask, valid = cache.batch(chosen, windows)
            s, e = net.top(h.to(device), mask.to(device))
            s, e, valid = s.cpu(), e.cpu(), valid
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


def no_attention_dropout(net: Any) -> None:
    """Switch off dropout on the attention weights of the trained layers: with it, PyTorch's fused
    attention falls back to a path that halves training speed on the CPU (measured: 11 k vs 18 k
    token-layers/s); dropout on the hidden states stays."""
    for layer in net.upper:
        att = layer.attention.self
        att.dropout.p = 0.0
        if hasattr(att, "dropout_prob"):
            att.dropout_prob = 0.0


class Trainer:
    """One training run in a work folder: cache, epochs, checkpoints, snapshots, calibration."""

    def __init__(self, base: Any, windows: list[TrainingWindow], config: ReaderConfig, options: TrainOptions,
                 work: Path, log: Log = print, progress: Progress | None = None,
                 snapshot: Snapshot | None = None, snapshot_at: tuple[int, ...] = ()) -> None:
        import torch

        self.windows, self.config, self.options, self.work = windows, config, options, work
        self.log, self.progress, self.snapshot, self.snapshot_at = log, progress, snapshot, sorted(snapshot_at)
        random.seed(options.seed)
        np.random.seed(options.seed)
        torch.manual_seed(options.seed)
        self.device = torch.device(options.device)
        self.net = build_net(base, config.frozen)
        if options.init:
            # continued training: a further epoch from a trained reader at a lower rate costs one epoch,
            # not a whole new multi-epoch run (the weights are the shipped int8 ones, dequantized)
            start = ReaderConfig.read(Path(options.init))
            if start.frozen != config.frozen:
                raise ModelError(f"--init {options.init}: that reader keeps {start.frozen} frozen layers, not "
                                 f"{config.frozen}; leave out --frozen or give --frozen {start.frozen}")
            load_weights(self.net, Path(options.init), start)
        self.net = self.net.to(self.device)
        for p in [*self.net.embeddings.parameters(), *self.net.lower.parameters()]:
            p.requires_grad_(False)
        no_attention_dropout(self.net)
        self.digest = windows_digest(windows)
        self.by_question: dict[int, dict[str, list[int]]] = {}
        for i, w in enumerate(windows):
            self.by_question.setdefault(w.question, {"pos": [], "same": [], "other": []})[w.kind].append(i)
        self.by_question = {q: v for q, v in self.by_question.items() if v["pos"]}

    def plan(self, epoch: int, lengths: list[int]) -> list[list[int]]:
        """The batches of one epoch: a function of the seed and the epoch's number only (so resumable)."""
        rng = random.Random(self.options.seed * 1000 + epoch)
        ep = sample_epoch(self.by_question, self.options.negatives, self.options.other_share, rng)
        grouped = batches([lengths[i] for i in ep], self.options.tokens_per_batch, self.options.max_batch, rng)
        return [[ep[k] for k in g] for g in grouped]

    def run(self, resume: bool = False) -> tuple[Any, ReaderConfig]:
        import torch

        o, net = self.options, self.net
        t0 = time.perf_counter()
        cache = Cache(net, self.windows, self.work, self.digest, self.progress, self.log)
        self.log(f"frozen {self.config.frozen} layers cached for {len(self.windows)} windows "
                 f"in {time.perf_counter() - t0:.0f} s")
        steps_per_epoch = len(self.plan(1, cache.lengths))
        total = steps_per_epoch * o.epochs
        warm = max(1, int(o.warmup * total))
        opt = torch.optim.AdamW([{"params": net.upper.parameters(), "lr": o.lr},
                                 {"params": net.head.parameters(), "lr": o.head_lr}], weight_decay=o.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
        epoch, done_batches, seen = 1, 0, 0
        ckpt = self.work / CHECKPOINT
        if resume and ckpt.is_file():
            state = torch.load(ckpt, map_location=self.device, weights_only=False)
            if state["digest"] != self.digest or state["options"] != asdict(o):
                raise RuntimeError(f"{ckpt} was made for other windows or options; start a new --out folder")
            net.load_state_dict(state["net"], strict=False)
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            torch.set_rng_state(state["torch_rng"])
            epoch, done_batches, seen = state["epoch"], state["batch"], state["seen"]
            self.log(f"resumed at epoch {epoch}, batch {done_batches} ({seen} questions seen)")
        step = (epoch - 1) * steps_per_epoch + done_batches
        pending = [q for q in self.snapshot_at if q > seen]
        while epoch <= o.epochs:
            plan = self.plan(epoch, cache.lengths)
            net.upper.train()
            loss_sum, n_sum, t1, last_ckpt = 0.0, 0, time.perf_counter(), time.perf_counter()
            for b_i in range(done_batches, len(plan)):
                b = plan[b_i]
                h, mask, valid = cache.batch(b, self.windows)
                s, en = net.top(h.to(self.device), mask.to(self.device))
                ys = torch.tensor([self.windows[i].label[0] for i in b], device=self.device)
                ye = torch.tensor([self.windows[i].label[1] for i in b], device=self.device)
                loss = span_loss(s, en, valid.to(self.device), ys, ye)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.upper.parameters(), 1.0)
                opt.step()
                sched.step()
                step += 1
                seen += sum(self.windows[i].kind == "pos" for i in b)
                loss_sum += float(loss.detach()) * len(b)
                n_sum += len(b)
                if self.progress:
                    self.progress(step, total)
                while pending and seen >= pending[0]:
                    if self.snapshot:
                        net.eval()
                        self.snapshot(net, pending[0])
                        net.upper.train()
                    pending.pop(0)
                if time.perf_counter() - last_ckpt > 60 * o.checkpoint_minutes and b_i + 1 < len(plan):
                    self._checkpoint(ckpt, net, opt, sched, epoch, b_i + 1, seen)
                    last_ckpt = time.perf_counter()
            self.log(f"epoch {epoch}/{o.epochs}: loss {loss_sum / max(1, n_sum):.4f}, "
                     f"{time.perf_counter() - t1:.0f} s, {seen} questions seen")
            epoch, done_batches = epoch + 1, 0
            self._checkpoint(ckpt, net, opt, sched, epoch, 0, seen)
            if self.snapshot:
                net.eval()
                self.snapshot(net, seen)
        net.eval()
        return net, (self.calibrate(net, cache) if o.platt_sample else self.config)

    def _checkpoint(self, path: Path, net: Any, opt: Any, sched: Any, epoch: int, batch: int, seen: int) -> None:
        import torch

        trainable = {k: v for k, v in net.state_dict().items() if k.startswith(("upper.", "head."))}
        tmp = path.with_suffix(".tmp")
        torch.save({"net": trainable, "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "torch_rng": torch.get_rng_state(), "epoch": epoch, "batch": batch, "seen": seen,
                    "digest": self.digest, "options": asdict(self.options)}, tmp)
        tmp.replace(path)

    def calibrate(self, net: Any, cache: Cache) -> ReaderConfig:
        """Platt scaling of the margin: positives against an equal-sized sample of negatives."""
        rng = random.Random(self.options.seed)
        pos = [i for i, w in enumerate(self.windows) if w.kind == "pos"]
        neg = [i for i, w in enumerate(self.windows) if w.kind != "pos"]
        k = self.options.platt_sample
        pos, neg = rng.sample(pos, min(len(pos), k)), rng.sample(neg, min(len(neg), k))
        x = margins(net, cache, self.windows, pos + neg, self.config.max_answer_tokens)
        y = np.array([1.0] * len(pos) + [0.0] * len(neg))
        coef = fit_logistic(x[:, None], y, l2=1e-3)
        slope, intercept = float(coef[0]), float(coef[1])
        if not math.isfinite(slope) or slope <= 0:
            raise RuntimeError(f"the reader did not learn to tell answers apart (Platt slope {slope}); train longer")
        return replace(self.config, platt=(slope, intercept))


def train_reader(base: Any, windows: list[TrainingWindow], config: ReaderConfig, options: TrainOptions,
                 work: Path, log: Log = print, progress: Progress | None = None, resume: bool = False,
                 snapshot: Snapshot | None = None, snapshot_at: tuple[int, ...] = ()) -> tuple[Any, ReaderConfig]:
    """Fine-tune a ReaderNet over `base` (a transformers BertModel); returns it and its calibrated config."""
    return Trainer(base, windows, config, options, work, log, progress, snapshot, snapshot_at).run(resume)
