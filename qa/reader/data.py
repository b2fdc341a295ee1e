"""Training windows for the span reader, from SQuAD-like QA files (only the training paragraphs).

For every question: the windows of its own paragraph that hold a gold answer (positives, labelled
with the answer's first and last token), windows of its paragraph that do not (negatives: "no answer
here", labelled at `<s>`), and hard negatives: the sentences of other paragraphs that BM25 ranks
highest for the question and that do not contain its answer.

Case: part of the data is lower-cased (UIT-ViQuAD) while users' documents are not, so the reader
reads text as it is and learns from both: `with_lowercase_copies` adds a lower-cased copy of every
cased question and paragraph.

>>> sentence_spans("paris nằm ở điểm gặp nhau. vào thế kỷ 10, paris là thành phố chính.")
[(0, 26), (27, 67)]
>>> it = EvalItem("Ai?", ("An",), context="Ông An đến.", starts=(4,))
>>> [x.context for x in with_lowercase_copies([it])]
['Ông An đến.', 'ông an đến.']
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from qa.eval.data import EvalItem
from qa.eval.metrics import normalize_answer
from qa.lang.sentences import split_sentences
from qa.lang.text import terms
from qa.reader.windows import Span, Window, WindowMaker, lower_same_length

Kind = Literal["pos", "same", "other"]


@dataclass(frozen=True)
class TrainingWindow:
    """A window with its label: answer start/end token indices in `window.ids`, or (0, 0) for none."""

    window: Window
    label: tuple[int, int]
    kind: Kind
    question: int  # index of the question it was made for


def with_lowercase_copies(items: list[EvalItem]) -> list[EvalItem]:
    """The items, then a lower-cased copy (offsets unchanged) of each one whose paragraph has capitals."""
    copies = [replace(it, question=lower_same_length(it.question), context=lower_same_length(it.context),
                      answers=tuple(lower_same_length(a) for a in it.answers))
              for it in items if it.context and any(c.isupper() for c in it.context)]
    return items + copies


def sentence_spans(text: str) -> list[Span]:
    """The product's sentence splitter (it also splits text written without capitals)."""
    return split_sentences(text)


def _label(w: Window, gold: Sequence[Span]) -> tuple[int, int] | None:
    """Token span of the first gold answer fully inside the window, else None."""
    for s, e in gold:
        if s >= w.span[0] and e <= w.span[1]:
            first = next((k for k, (_, b) in enumerate(w.offsets) if b > s), None)
            last = max((k for k, (a, _) in enumerate(w.offsets) if a < e), default=None)
            if first is not None and last is not None and last >= first:
                return w.context_start + first, w.context_start + last
    return None


def _holds(text: str, answers: Sequence[str]) -> bool:
    t = " " + " ".join(normalize_answer(text)) + " "
    return any(" " + " ".join(normalize_answer(a)) + " " in t for a in answers)


def training_windows(items: list[EvalItem], maker: WindowMaker, same: int = 3, other: int = 3,
                     seed: int = 0) -> list[TrainingWindow]:
    """Positives, same-paragraph negatives (up to `same`) and BM25 hard negatives (up to `other`) per question."""
    import bm25s

    rng = random.Random(seed)
    paragraphs = list(dict.fromkeys(it.context for it in items if it.context))
    sents = {p: sentence_spans(p) for p in paragraphs}
    lengths = {p: maker.sentence_lengths(p, sents[p]) for p in paragraphs}
    pool = [(p, i) for p in paragraphs for i in range(len(sents[p]))]
    bm = bm25s.BM25()
    bm.index([terms(p[a:b]) or ["_"] for p in paragraphs for a, b in sents[p]], show_progress=False)
    out: list[TrainingWindow] = []
    for qi, it in enumerate(items):
        if not it.context or not it.answers:
            continue
        p = it.context
        qids = maker.question_ids(it.question)
        gold = [(s, s + len(a)) for a, s in zip(it.answers, it.starts, strict=True)]
        own = [maker.make(qids, p, sents[p], i, lengths[p]) for i in range(len(sents[p]))]
        positives = [(w, lab) for w in own if (lab := _label(w, gold)) is not None]
        if not positives:
            continue  # the answer crosses windows: no clean example
        negatives = [w for w in own if not any(s < w.span[1] and e > w.span[0] for s, e in gold)]
        rng.shuffle(negatives)
        out += [TrainingWindow(w, lab, "pos", qi) for w, lab in positives]
        out += [TrainingWindow(w, (0, 0), "same", qi) for w in negatives[:same]]
        hits, _ = bm.retrieve([terms(it.question) or ["_"]], k=min(len(pool), 4 * other + 8), show_progress=False)
        taken = 0
        for h in hits[0]:
            q, i = pool[int(h)]
            if q == p or _holds(q[slice(*sents[q][i])], it.answers):
                continue
            out.append(TrainingWindow(maker.make(qids, q, sents[q], i, lengths[q]), (0, 0), "other", qi))
            taken += 1
            if taken >= other:
                break
    return out
