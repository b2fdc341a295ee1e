"""The reader on its own, given each question's gold paragraph: phrase EM / F1, sentence accuracy, boundaries.

The whole paragraph is read (in as many windows as it needs); the span with the largest margin
over "no answer" is the prediction. This isolates the reader from retrieval; `qa eval` measures the
whole product. Boundary faults (qa.reader.phrase) are shares of the predicted phrases.

    report = evaluate_reader(reader, items)
    report["F1"], report["sentence_accuracy"]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from qa.eval.data import EvalItem
from qa.eval.metrics import exact_match, token_f1
from qa.reader.data import sentence_spans
from qa.reader.phrase import boundary_faults, runs_past_comma
from qa.reader.read import SpanReader
from qa.reader.windows import Passage

Progress = Callable[[int, int], None]


def sentence_hit(sentences: list[tuple[int, int]], start: int, end: int, gold: list[tuple[int, int]]) -> bool:
    """Do the sentences holding the phrase [start, end) hold a gold answer?

    >>> sentence_hit([(0, 10), (11, 20)], 12, 15, [(11, 14)]), sentence_hit([(0, 10), (11, 20)], 2, 4, [(11, 14)])
    (True, False)
    """
    shown = [(a, b) for a, b in sentences if a < max(end, start + 1) and b > start]
    return any(a < ge and b > gs for a, b in shown for gs, ge in gold)


def evaluate_reader(reader: SpanReader, items: list[EvalItem], progress: Progress | None = None) -> dict[str, Any]:
    """Mean EM, F1, sentence accuracy and boundary-fault shares over the answerable SQuAD-like items."""
    em = f1 = sent = 0.0
    faults = {"inside_word": 0, "bracket": 0, "past_comma": 0}
    n = 0
    t0 = time.perf_counter()
    for k, it in enumerate(items, 1):
        if not it.context or not it.answers:
            continue
        text = it.context
        sents = sentence_spans(text)
        [r] = reader.read(it.question, [Passage(text, tuple(sents))])
        n += 1
        pred = text[r.start : r.end]
        em += exact_match(pred, it.answers)
        f1 += token_f1(pred, it.answers)
        gold = [(s, s + len(a)) for a, s in zip(it.answers, it.starts, strict=True)]
        sent += sentence_hit(sents, r.start, r.end, gold)
        for f in boundary_faults(text, r.start, r.end):
            faults[f] += 1
        faults["past_comma"] += runs_past_comma(pred, list(it.answers))
        if progress:
            progress(k, len(items))
    n = max(n, 1)
    return {"n": n, "EM": em / n, "F1": f1 / n, "sentence_accuracy": sent / n,
            **{f"phrase_{key}": v / n for key, v in faults.items()},
            "seconds_per_question": (time.perf_counter() - t0) / n}
