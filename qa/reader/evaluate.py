"""The reader on its own, given each question's gold paragraph: phrase EM / token F1 and sentence accuracy.

Every sentence of the paragraph is read (each in its window); the span with the largest margin over
"no answer" is the prediction. This isolates the reader from retrieval; `qa eval` measures the whole
product.

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
from qa.reader.read import SpanReader

Progress = Callable[[int, int], None]


def evaluate_reader(reader: SpanReader, items: list[EvalItem], progress: Progress | None = None) -> dict[str, Any]:
    """Mean EM, F1 and sentence accuracy over the answerable SQuAD-like items, and seconds per question."""
    em = f1 = sent = 0.0
    n = 0
    t0 = time.perf_counter()
    for k, it in enumerate(items, 1):
        if not it.context or not it.answers:
            continue
        text = it.context
        sents = sentence_spans(text)
        readings = reader.read(it.question, text, sents, list(range(len(sents))))
        n += 1
        if readings:
            best = max(readings, key=lambda r: r.margin)
            pred = text[best.start : best.end]
            em += exact_match(pred, it.answers)
            f1 += token_f1(pred, it.answers)
            gold = [(s, s + len(a)) for a, s in zip(it.answers, it.starts, strict=True)]
            holding = [(a, b) for a, b in sents if any(s < b and e > a for s, e in gold)]
            sent += any(best.start < b and best.end > a for a, b in holding)
        if progress:
            progress(k, len(items))
    n = max(n, 1)
    return {"n": n, "EM": em / n, "F1": f1 / n, "sentence_accuracy": sent / n,
            "seconds_per_question": (time.perf_counter() - t0) / n}
