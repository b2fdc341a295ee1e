"""Training the question tower (`qa tower train`): question → paragraph pairs to tuned top layers.

Only the question side learns (`qa.model.tower`): passages keep the index's vectors, so every index
already built stays valid and a build costs nothing more. Each training question is asked as a user
would (as typed, and seeded shares without diacritics, lower-cased and in chat shorthand:
`qa.search.rank_train.variants`), in the form search embeds it (shorthand expanded, diacritics
restored: `QueryPreparer.forms`) and as typed when that differs. The loss is a softmax over every
chunk of the training paragraphs: the chunks holding the gold answer are right, the rest of its
paragraph neither right nor wrong, every other paragraph's chunks wrong (same-article paragraphs
are the hard negatives). The temperature matters: the model's question–chunk cosines spread only
~0.02 around their mean, so at τ = 0.02 the loss is the bulk's and training lowers it without
ranking the right chunk higher; τ = 0.005 puts the weight on the top of the ranking.

The lower layers never change, so their output is computed once per text and cached: a step costs
only the tuned layers (~0.5 s for 64 questions at 4 layers on 2 cores). A fixed fifth of the
paragraphs (`qa.eval.data.heldout`) is kept out of the fit and measures it after every epoch.

>>> import torch
>>> q = torch.tensor([[1.0, 0.0]]); docs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
>>> right = torch.tensor([[True, False, False]]); same = torch.tensor([[True, False, True]])
>>> round(float(contrastive_loss(q, docs, right, same, tau=0.1)), 4)    # row 2 (same paragraph) left out
0.0
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.eval.data import EvalItem, heldout, paragraph_key
from qa.index.store import IndexData
from qa.lang.text import nfc
from qa.search.query import QueryPreparer
from qa.search.rank_train import TrainOptions, gold_chunks, paragraph_chunks, variants

Log = Callable[[str], None]
Progress = Callable[[int, int], None]
CHECKPOINT = "tower-checkpoint.pt"


@dataclass(frozen=True)
class TowerOptions:
    """The recipe; every number is recorded in the tower's `trained`."""

    tuned: int = 4  # top layers retrained (of 12)
    epochs: int = 3
    lr: float = 3e-5
    tau: float = 0.005  # softmax temperature over cosines (see the module docstring)
    batch: int = 64
    warmup: float = 0.06  # share of the steps with a rising learning rate, then linear decay
    folded_share: float = 0.35  # as qa.search.rank_train: questions also asked without diacritics,
    lower_share: float = 0.1  # lower-cased
    casual_share: float = 0.15  # and in chat shorthand
    typed_too: bool = True  # train on the question as typed too, when search also embeds that form
    seed: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class Example:
    """One text to embed and the index rows it should find."""

    text: str
    right: tuple[int, ...]  # chunk ids holding the gold answer
    doc: str  # its paragraph's document id


def examples(index: IndexData, items: Sequence[EvalItem], options: TowerOptions) -> list[Example]:
    """The training texts: every variant of every question, in the forms search embeds."""
    prepare = QueryPreparer(index, None)  # type: ignore[arg-type]  # forms() only: no embedding
    by_doc = paragraph_chunks(index)
    asked = variants(items, TrainOptions(questions=0, folded_share=options.folded_share,
                                         lower_share=options.lower_share, casual_share=options.casual_share,
                                         seed=options.seed))
    out: list[Example] = []
    for it in asked:
        doc, right = gold_chunks(index, by_doc, it)
        if not right:
            continue
        restored = prepare.forms(it.question)[1]
        out.append(Example(restored, tuple(sorted(right)), doc))
        if options.typed_too and restored != it.question:
            out.append(Example(it.question, tuple(sorted(right)), doc))
    return out


def contrastive_loss(q: Any, docs: Any, right: Any, same: Any, tau: float) -> Any:
    """Mean over rows of −log(Σ_right e^{s/τ} / Σ_{not same-but-wrong} e^{s/τ}), s = q · docs."""
    import torch

    s = (q @ docs.T) / tau
    shown = s.masked_fill(same & ~right, float("-inf"))
    return (torch.logsumexp(shown, 1) - torch.logsumexp(s.masked_fill(~right, float("-inf")), 1)).mean()


class HiddenCache:
    """Text -> the hidden states entering the first tuned layer (float16), computed once."""

    def __init__(self, net: Any, tokenizer: Any, prefix: str, max_tokens: int = 128) -> None:
        self.net, self.tokenizer, self.prefix, self.max_tokens = net, tokenizer, prefix, max_tokens
        self.table: dict[str, Any] = {}

    def add(self, texts: Sequence[str], batch: int = 128, progress: Progress | None = None) -> None:
        import torch

        new = sorted({t for t in texts if t not in self.table}, key=len)  # by length: little padding
        for i in range(0, len(new), batch):
            part = new[i : i + batch]
            enc = self.tokenizer([self.prefix + nfc(t) for t in part], padding=True, truncation=True,
                                 max_length=self.max_tokens, return_tensors="pt")
            with torch.inference_mode():
                h = self.net.bottom(enc["input_ids"], enc["attention_mask"])
            for t, row, n in zip(part, h, enc["attention_mask"].sum(1).tolist(), strict=True):
                self.table[t] = row[:n].to(torch.float16).clone()
            if progress:
                progress(min(i + batch, len(new)), len(new))

    def batch(self, texts: Sequence[str], device: str = "cpu") -> tuple[Any, Any]:
        """A padded float32 batch and its attention mask."""
        import torch

        rows = [self.table[t] for t in texts]
        n = max(r.shape[0] for r in rows)
        x = torch.zeros(len(rows), n, rows[0].shape[1])
        mask = torch.zeros(len(rows), n, dtype=torch.long)
        for i, r in enumerate(rows):
            x[i, : r.shape[0]] = r.float()
            mask[i, : r.shape[0]] = 1
        return x.to(device), mask.to(device)


def pooled(net: Any, x: Any, mask: Any) -> Any:
    """Mean-pooled, normalized question vectors from the tuned layers (as the model pools)."""
    import torch

    h = net.top(x, mask)
    m = mask.unsqueeze(-1).to(h.dtype)
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)


def embed(net: Any, cache: HiddenCache, texts: Sequence[str], device: str = "cpu") -> np.ndarray:
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), 256):
            out.append(pooled(net, *cache.batch(texts[i : i + 256], device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def paragraph_top1(net: Any, cache: HiddenCache, index: IndexData, forms: Sequence[Sequence[str]],
                   gold_docs: Sequence[str], device: str = "cpu") -> float:
    """Share of questions whose best paragraph (best chunk, best of its forms) is the gold one."""
    flat = list(dict.fromkeys(t for f in forms for t in f))
    vec = dict(zip(flat, embed(net, cache, flat, device), strict=True))
    cvec = np.asarray(index.chunk_vectors, dtype=np.float32)
    docs = [c.doc_id for c in index.chunks]
    hits = 0
    for f, gold in zip(forms, gold_docs, strict=True):
        scores = (cvec @ np.stack([vec[t] for t in f]).T).max(axis=1)
        hits += docs[int(np.argmax(scores))] == gold
    return hits / max(1, len(gold_docs))


def train_tower(net: Any, tokenizer: Any, prefix: str, index: IndexData, items: Sequence[EvalItem],
                options: TowerOptions, work: Path, log: Log | None = None, progress: Progress | None = None,
                resume: bool = False) -> dict[str, Any]:
    """Fit `net.upper` (a `qa.model.tower.build_tower` net over the index's model) in place; returns
    the figures for `TowerConfig.trained`. A checkpoint per epoch in `work`; `resume` continues it."""
    import torch

    say = log or (lambda _m: None)
    random.seed(options.seed)
    torch.manual_seed(options.seed)
    fit_items = [it for it in items if it.context and not heldout(it.context)]
    val_items = [it for it in items if it.context and heldout(it.context)]
    train_docs = {paragraph_key(it.context) + ".txt" for it in items if it.context}
    rows = np.array([i for i, c in enumerate(index.chunks) if c.doc_id in train_docs])
    position = {int(r): k for k, r in enumerate(rows)}
    doc_rows: dict[str, list[int]] = {}
    for k, r in enumerate(rows):
        doc_rows.setdefault(index.chunks[int(r)].doc_id, []).append(k)
    fit = examples(index, fit_items, options)
    if not fit:
        raise ValueError("no training question has its answer in a chunk of the index; check the files and the index")
    prepare = QueryPreparer(index, None)  # type: ignore[arg-type]
    val_forms = [list(dict.fromkeys([it.question, prepare.forms(it.question)[1]])) for it in val_items]
    val_gold = [paragraph_key(it.context or "") + ".txt" for it in val_items]
    say(f"{len(fit)} training texts from {len(fit_items)} questions; {len(rows)} chunks in the softmax; "
        f"{len(val_items)} validation questions")
    cache = HiddenCache(net, tokenizer, prefix)
    cache.add([e.text for e in fit] + [t for f in val_forms for t in f], progress=progress)
    device = options.device
    net.to(device)
    docs = torch.from_numpy(np.asarray(index.chunk_vectors, dtype=np.float32)[rows]).to(device)
    params = [p for p in net.upper.parameters()]
    for p in net.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=options.lr, weight_decay=0.01)
    steps = math.ceil(len(fit) / options.batch) * options.epochs
    warm = max(1, int(options.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    figures: dict[str, Any] = {"training_texts": len(fit), "validation_questions": len(val_items), "epochs": []}
    start = 0
    if resume and (work / CHECKPOINT).is_file():
        ck = torch.load(work / CHECKPOINT, map_location=device, weights_only=False)
        if ck["options"] != asdict(options):
            raise ValueError(f"{work / CHECKPOINT} was made with other options; start without --resume")
        net.upper.load_state_dict(ck["upper"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        start, figures = ck["epoch"] + 1, ck["figures"]
        say(f"resuming after epoch {start}")
    if start == 0:
        figures["validation_top1_before"] = round(paragraph_top1(net, cache, index, val_forms, val_gold, device), 4)
        say(f"validation: paragraph top-1 {figures['validation_top1_before']:.3f} before training")
    per = math.ceil(len(fit) / options.batch)
    for epoch in range(start, options.epochs):
        # the net stays in eval mode (no dropout): the measured recipe; the lower layers are cached anyway
        order = list(range(len(fit)))
        random.Random(options.seed + epoch).shuffle(order)
        total = 0.0
        for b in range(per):
            part = [fit[i] for i in order[b * options.batch : (b + 1) * options.batch]]
            right = torch.zeros(len(part), len(rows), dtype=torch.bool)
            same = torch.zeros_like(right)
            for j, e in enumerate(part):
                same[j, doc_rows[e.doc]] = True
                right[j, [position[r] for r in e.right]] = True
            q = pooled(net, *cache.batch([e.text for e in part], device))
            loss = contrastive_loss(q, docs, right.to(device), same.to(device), options.tau)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach())
            if progress:
                progress(b + 1, per)
        top1 = paragraph_top1(net, cache, index, val_forms, val_gold, device)
        figures["epochs"].append({"epoch": epoch + 1, "loss": round(total / per, 4), "validation_top1": round(top1, 4)})
        say(f"epoch {epoch + 1}/{options.epochs}: loss {total / per:.3f}, validation paragraph top-1 {top1:.3f}")
        torch.save({"epoch": epoch, "options": asdict(options), "upper": net.upper.state_dict(),
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "figures": figures},
                   work / CHECKPOINT)
    net.to("cpu")
    for p in params:
        p.requires_grad_(False)
    return {**figures, "options": asdict(replace(options, device="cpu"))}
