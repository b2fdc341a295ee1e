"""Training windows for the span reader, from SQuAD-like QA files (only the training paragraphs).

For every question: the window of its own paragraph that holds the gold answer (a positive,
labelled with the answer's first and last token; the paragraph is usually one window, so every
other sentence of it is a distractor the reader learns to pass over), the windows of its paragraph
that do not hold it (long paragraphs only), and a hard negative: the window of another training
paragraph that BM25 ranks highest for the question and that does not hold its answer ("no answer
here", labelled at `<s>`) — what retrieval puts in front of the reader when the answer is missing.

Users type questions lower-cased or without diacritics (the product restores those, not always
perfectly): a seeded share of the questions is read lower-cased or folded instead of as written.

>>> sentence_spans("Paris nằm ở điểm gặp nhau. Vào thế kỷ 10, Paris là thành phố chính.")
[(0, 26), (27, 67)]
>>> label_of(((0, 3), (4, 7), (8, 11)), (1, 1, 1), context_start=5, gold=[(4, 11)])
(6, 7)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from qa.eval.data import EvalItem
from qa.eval.metrics import normalize_answer
from qa.lang.sentences import split_sentences
from qa.lang.text import fold, terms
from qa.reader.windows import Passage, Span, Tokenized, Window, WindowMaker, lower_same_length

Kind = Literal["pos", "same", "other"]


@dataclass(frozen=True)
class TrainingWindow:
    """A window with its label: answer start/end token indices in `window.ids`, or (0, 0) for none."""

    window: Window
    label: tuple[int, int]
    kind: Kind
    question: int  # index of the question it was made for


@dataclass(frozen=True)
class DataOptions:
    """What windows are made per question (seeded)."""

    other: int = 1  # hard negatives from other paragraphs
    same: int = 1  # negative windows of the question's own paragraph (when it needs several windows)
    lowercase_share: float = 0.12  # questions read lower-cased
    folded_share: float = 0.06  # questions read without diacritics
    seed: int = 1234


def sentence_spans(text: str) -> list[Span]:
    """The product's sentence splitter (it also splits text written without capitals)."""
    return split_sentences(text)


def label_of(offsets: Sequence[Span], segments: Sequence[int], context_start: int,
             gold: Sequence[Span]) -> tuple[int, int] | None:
    """Token indices (in the window's ids) of the first gold answer wholly inside the passage tokens."""
    inside = [k for k, seg in enumerate(segments) if seg == 1]
    if not inside:
        return None
    lo, hi = offsets[inside[0]][0], offsets[inside[-1]][1]
    for s, e in gold:
        if s >= lo and e <= hi:
            first = next((k for k in inside if offsets[k][1] > s), None)
            last = max((k for k in inside if offsets[k][0] < e), default=None)
            if first is not None and last is not None and last >= first:
                return context_start + first, context_start + last
    return None


def _holds(text: str, answers: Sequence[str]) -> bool:
    t = " " + " ".join(normalize_answer(text)) + " "
    return any(" " + " ".join(normalize_answer(a)) + " " in t for a in answers)


def question_variant(question: str, rng: random.Random, options: DataOptions) -> str:
    """The question as written, lower-cased, or folded (a seeded choice per question)."""
    x = rng.random()
    if x < options.lowercase_share:
        return lower_same_length(question)
    if x < options.lowercase_share + options.folded_share:
        return fold(question)
    return question


def _window_text(text: str, w: Window) -> str:
    return text[w.offsets[0][0] : w.offsets[-1][1]] if w.offsets else ""


def training_windows(items: list[EvalItem], maker: WindowMaker, options: DataOptions | None = None,
                     progress: object = None) -> list[TrainingWindow]:
    """Positives, own-paragraph negatives and BM25 hard negatives for every answerable question."""
    import bm25s

    options = options or DataOptions()
    rng = random.Random(options.seed)
    paragraphs = list(dict.fromkeys(it.context for it in items if it.context))
    sents = {p: tuple(sentence_spans(p)) for p in paragraphs}
    tokens: dict[str, Tokenized] = {p: maker.tokenize(Passage(p, sents[p])) for p in paragraphs}
    bm = bm25s.BM25()
    bm.index([terms(p) or ["_"] for p in paragraphs], show_progress=False)
    out: list[TrainingWindow] = []
    for qi, it in enumerate(items):
        if not it.context or not it.answers:
            continue
        p = it.context
        question = question_variant(it.question, rng, options)
        qids = maker.question_ids(question)
        gold = [(s, s + len(a)) for a, s in zip(it.answers, it.starts, strict=True)]
        own = maker.windows(qids, tokens[p])
        labelled = [(w, label_of(w.offsets, w.segments, w.context_start, gold)) for w in own]
        positives = [(w, lab) for w, lab in labelled if lab is not None]
        if not positives:
            continue  # the answer crosses windows or was cut: no clean example
        out += [TrainingWindow(w, lab, "pos", qi) for w, lab in positives]
        spans = [(w.offsets[0][0], w.offsets[-1][1]) for w in own]
        negatives = [w for w, (a, b) in zip(own, spans, strict=True) if not any(s < b and e > a for s, e in gold)]
        rng.shuffle(negatives)
        out += [TrainingWindow(w, (0, 0), "same", qi) for w in negatives[: options.same]]
        words = set(terms(it.question))
        hits, _ = bm.retrieve([terms(it.question) or ["_"]], k=min(len(paragraphs), 4 * options.other + 4),
                              show_progress=False)
        taken = 0
        for h in hits[0]:
            q = paragraphs[int(h)]
            if q == p or _holds(q, it.answers):
                continue
            ws = maker.windows(qids, tokens[q])
            if not ws:
                continue
            # the window sharing most words with the question: the hardest one to reject
            best = max(ws, key=lambda w: len(words & set(terms(_window_text(q, w)))))
            out.append(TrainingWindow(best, (0, 0), "other", qi))
            taken += 1
            if taken >= options.other:
                break
        if callable(progress):
            progress(qi + 1, len(items))
    return out
