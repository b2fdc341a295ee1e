"""Training the learned ranking (`qa rank train`): question → paragraph pairs to a `RankModel`.

Each training question is prepared and searched like a user's (`Retriever.fuse`); the hand
fusion's top `top_k` candidates become one group of feature rows (`qa.search.features`), the
chunk holding the gold answer labelled 1, the other chunks of its paragraph left out (neither
right nor wrong) and every other candidate 0; candidates outside the training paragraphs are
dropped, so no held-out paragraph is seen. A seeded share of the questions is added again typed
without diacritics and lower-cased (how users type). The model is linear, fitted with a listwise
softmax loss (the gold chunk's probability among its group) by L-BFGS, L2-regularized toward the
hand fusion: the score is `blend · hand_z + w · x`, so with w = 0 it ranks as today. The questions
of a fixed fifth of the paragraphs (`qa.eval.data.heldout`) are kept out of the fit and measure it.

>>> x = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])   # feature 0 marks the gold row
>>> g = [Group(x[:2], np.array([False, True]), np.zeros(2)), Group(x[2:], np.array([False, True]), np.zeros(2))]
>>> w = fit_listwise(g, l2=0.1)
>>> bool(w[0] > 0.5 and abs(w[1]) < 0.5), top1(g, w, blend=1.0)
(True, 1.0)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize

from qa.eval.data import EvalItem, heldout, paragraph_key
from qa.index.store import IndexData
from qa.lang.shorthand import abbreviate
from qa.lang.text import fold
from qa.model.encoder import Encoder
from qa.search.features import FEATURES, Pool
from qa.search.hybrid import Retriever
from qa.search.learned import RankModel

Log = Callable[[str], None]


@dataclass(frozen=True)
class Group:
    """One question's candidates: feature rows, which are gold, and the hand z-score (the fixed offset)."""

    x: np.ndarray
    y: np.ndarray
    hand: np.ndarray
    held: bool = False  # the question's paragraph is in the validation fifth (qa.eval.data.heldout)


@dataclass(frozen=True)
class TrainOptions:
    """The recipe; every number is recorded in the model's `meta`."""

    top_k: int = 20
    questions: int = 6000  # typed questions sampled from the training files (0 = all)
    folded_share: float = 0.35  # of those, also asked without diacritics
    lower_share: float = 0.1  # and lower-cased
    casual_share: float = 0.15  # and in chat shorthand ("hn có bn đb", half of them without diacritics)
    l2: float = 3.0
    blend: float = 1.0
    seed: int = 0


def variants(items: Sequence[EvalItem], options: TrainOptions) -> list[EvalItem]:
    """The sampled questions as typed, plus seeded shares typed without diacritics, lower-cased and in
    chat shorthand (`qa.lang.shorthand.abbreviate`; only questions holding a phrase it shortens).

    >>> it = EvalItem("Hà Nội ở đâu?", ("Bắc Bộ",), context="Hà Nội ở Bắc Bộ.", starts=(9,))
    >>> [v.question for v in variants([it], TrainOptions(questions=0, folded_share=1.0, lower_share=1.0,
    ...                                                  casual_share=0.0))]
    ['Hà Nội ở đâu?', 'ha noi o dau?', 'hà nội ở đâu?']
    >>> [v.question for v in variants([it], TrainOptions(questions=0, folded_share=0.0, lower_share=0.0,
    ...                                                  casual_share=1.0))][1:]
    ['hn ở đâu']
    """
    rng = random.Random(options.seed)
    chosen = [it for it in items if it.context and it.answers]
    if options.questions and len(chosen) > options.questions:
        chosen = rng.sample(chosen, options.questions)
    out = list(chosen)
    out += [replace(it, question=fold(it.question)) for it in chosen if rng.random() < options.folded_share]
    out += [replace(it, question=it.question.lower()) for it in chosen if rng.random() < options.lower_share]
    for it in chosen:
        if rng.random() < options.casual_share:
            casual = abbreviate(it.question, rng.choice)
            if casual != it.question:
                out.append(replace(it, question=fold(casual) if rng.random() < 0.5 else casual))
    return [it for it in out if it.question.strip()]


def paragraph_chunks(index: IndexData) -> dict[str, list[int]]:
    """Document id -> its chunk ids."""
    out: dict[str, list[int]] = {}
    for i, c in enumerate(index.chunks):
        out.setdefault(c.doc_id, []).append(i)
    return out


def gold_chunks(index: IndexData, by_doc: dict[str, list[int]], item: EvalItem) -> tuple[str, set[int]]:
    """(document of the item's paragraph, its chunks holding the first gold answer)."""
    assert item.context is not None
    doc = paragraph_key(item.context) + ".txt"
    text = index.documents[doc].text if doc in index.documents else ""
    at = text.find(item.context)
    if at < 0 or not item.answers:
        return doc, set()
    a, b = at + item.starts[0], at + item.starts[0] + len(item.answers[0])
    return doc, {i for i in by_doc.get(doc, []) if index.chunks[i].start <= a and b <= index.chunks[i].end}


def collect(retriever: Retriever, items: Sequence[EvalItem], top_k: int, allowed_docs: set[str] | None = None,
            log: Log | None = None) -> list[Group]:
    """One group per question whose gold chunk is among the hand fusion's top `top_k` (others teach nothing)."""
    index = retriever.index
    by_doc = paragraph_chunks(index)
    queries = retriever.prepare.many([it.question for it in items], batch=4096)  # StoredQueries sorts by length
    groups: list[Group] = []
    for n, (it, q) in enumerate(zip(items, queries, strict=True)):
        doc, gold = gold_chunks(index, by_doc, it)
        if not gold:
            continue
        found, _, fused = retriever.fuse(q)
        order = np.argsort(-fused, kind="stable")[:top_k]
        ids = found.ids[order]
        keep = np.array([int(i) in gold or (index.chunks[int(i)].doc_id != doc and (
            allowed_docs is None or index.chunks[int(i)].doc_id in allowed_docs)) for i in ids], dtype=bool)
        rows = order[keep]
        y = np.array([int(i) in gold for i in found.ids[rows]], dtype=bool)
        if not y.any() or y.all():
            continue
        groups.append(Group(retriever.features(q, found, fused, rows), y, Pool.of(fused[rows]).z(),
                            heldout(it.context or "")))
        if log and (n + 1) % 2000 == 0:
            log(f"  features: {n + 1}/{len(items)} questions")
    return groups


def standardization(groups: Iterable[Group]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([g.x for g in groups])
    scale = x.std(axis=0)
    return x.mean(axis=0), np.where(scale > 1e-6, scale, 1.0)


def fit_listwise(groups: Sequence[Group], l2: float = 1.0, blend: float = 1.0) -> np.ndarray:
    """Weights w minimizing Σ_groups −log softmax(blend·hand + x·w)[gold] + l2/2·|w|² (x as given)."""
    x = np.concatenate([g.x for g in groups])
    y = np.concatenate([g.y for g in groups]).astype(np.float64)
    off = blend * np.concatenate([g.hand for g in groups])
    starts = np.cumsum([0] + [len(g.y) for g in groups[:-1]])
    seg = np.repeat(np.arange(len(groups)), [len(g.y) for g in groups])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = off + x @ w
        m = np.maximum.reduceat(s, starts)
        e = np.exp(s - m[seg])
        z_all = np.add.reduceat(e, starts)
        z_pos = np.add.reduceat(e * y, starts)
        value = float(np.sum(np.log(z_all) - np.log(z_pos))) + 0.5 * l2 * float(w @ w)
        p_all, p_pos = e / z_all[seg], e * y / z_pos[seg]
        grad = x.T @ (p_all - p_pos) + l2 * w
        return value, grad

    res = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return np.asarray(res.x, dtype=np.float64)


def top1(groups: Sequence[Group], w: np.ndarray, blend: float) -> float:
    """Share of groups whose best-scored row is gold."""
    return sum(bool(g.y[int(np.argmax(blend * g.hand + g.x @ w))]) for g in groups) / max(1, len(groups))


def train(index: IndexData, encoder: Encoder, items: Sequence[EvalItem], options: TrainOptions,
          allowed_docs: set[str] | None = None, log: Log | None = None) -> RankModel:
    """A fitted `RankModel` from the training questions over `index` (which holds their paragraphs)."""
    retriever = Retriever(index, encoder)
    retriever.prepare.embed.size = 10_000_000  # every question once
    asked = variants(items, options)
    if log:
        log(f"{len(asked)} questions ({len(items)} in the files), top {options.top_k} candidates each")
    groups = collect(retriever, asked, options.top_k, allowed_docs, log)
    if not groups:
        raise ValueError("no training question has its gold chunk among the candidates")
    fit_on = [g for g in groups if not g.held] or groups
    val = [g for g in groups if g.held]
    mean, scale = standardization(fit_on)
    std = [replace(g, x=(g.x - mean) / scale) for g in fit_on]
    w = fit_listwise(std, options.l2, options.blend)
    meta: dict[str, object] = {"recipe": {**options.__dict__}, "groups": len(fit_on), "questions": len(asked)}
    for name, part in (("fit", std), ("validation", [replace(g, x=(g.x - mean) / scale) for g in val])):
        if part:
            hand, learned = top1(part, np.zeros_like(w), options.blend), top1(part, w, options.blend)
            meta[f"{name}_top1"] = {"groups": len(part), "hand": round(hand, 4), "learned": round(learned, 4)}
            if log:
                log(f"{name}: {len(part)} questions, top-1 among the candidates "
                    f"hand {hand:.3f} -> learned {learned:.3f}")
    return RankModel(FEATURES, mean, scale, w, top_k=options.top_k, blend=options.blend, meta=meta)


def training_docs(items: Iterable[EvalItem]) -> set[str]:
    """The paragraph documents of the training items (what `collect` may show as negatives)."""
    return {paragraph_key(it.context) + ".txt" for it in items if it.context}
