"""Fit the answer decision on held-out questions, answerable and not, and choose its cut points.

Each question is asked the way a user would ask it, over an index of held-out paragraphs the
reader never read: its candidates (the best phrase of each passage read) are labelled by whether
the sentence shown for them holds a gold answer. A question with a paragraph is then asked again
with that paragraph's document left out, so that every candidate is wrong: the unanswerable case
from the hardest place there is (the same topic, the same corpus). The cut point `answer_at` is
the highest probability that keeps false abstentions within the budget on every group of
questions given (one per domain), so no domain pays for another.

    examples = gather(answerer, items, group="viquad")
    decision = fit_decision(examples, budget=0.04)

>>> p = [0.9, 0.8, 0.3, 0.05]           # best-candidate probabilities of answerable questions
>>> highest_cut(p, budget=0.25), highest_cut(p, budget=0.0)
(0.3, 0.05)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from qa.answer.answerer import Answerer, Judged
from qa.answer.answertype import expected_type
from qa.answer.decide import Decision, Evidence
from qa.answer.terms import QuestionTerms
from qa.eval.data import EvalItem
from qa.eval.evaluate import gold_spans
from qa.eval.metrics import ece

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Example:
    """One asking of one question: its candidates' evidence and whether each would be right."""

    group: str  # the domain it comes from (the cut point must hold for each)
    answerable: bool
    evidence: tuple[Evidence, ...]
    right: tuple[bool, ...]


def _labels(answerer: Answerer, judged: list[Judged], gold: list[tuple[str, int, int]]) -> tuple[bool, ...]:
    out = []
    for j in judged:
        doc = answerer.index.chunks[j.hit.chunk_id].doc_id
        s, e = j.span
        out.append(any(d == doc and a < e and b > s for d, a, b in gold))
    return tuple(out)


def ask_examples(answerer: Answerer, item: EvalItem, group: str) -> list[Example]:
    """The question as asked, and (for a question with a paragraph) asked without its paragraph."""
    out = []
    own = {d for d, doc in answerer.index.documents.items() if item.context and item.context in doc.text}
    for leave_out in ((False, True) if own else (False,)):
        k = max(answerer.params.passages_read, answerer.params.passages_considered)
        result = answerer.search(item.question, k, own if leave_out else ())
        terms = QuestionTerms.of(result.query, answerer.idf, answerer.default_idf)
        judged = answerer.judge(result, terms, expected_type(result.query.restored)) if result.hits else []
        gold = [] if leave_out else gold_spans(answerer.index.documents, item)
        answerable = bool(item.answers) and not leave_out
        out.append(Example(group, answerable, tuple(j.evidence for j in judged), _labels(answerer, judged, gold)))
    return out


def gather(answerer: Answerer, items: Sequence[EvalItem], group: str,
           progress: Progress | None = None) -> list[Example]:
    """`ask_examples` for every item (the answerer's reader reads; its decision is not used)."""
    out: list[Example] = []
    for n, it in enumerate(items, 1):
        out += ask_examples(answerer, it, group)
        if progress:
            progress(n, len(items))
    return out


def highest_cut(probabilities: Sequence[float], budget: float) -> float:
    """The highest cut t such that at most `budget` of the answerable questions fall below it."""
    ps = sorted(probabilities)
    if not ps:
        return 0.0
    allowed = int(math.floor(budget * len(ps) + 1e-9))  # questions that may be refused
    return ps[min(allowed, len(ps) - 1)]


def best_of(decision: Decision, ex: Example) -> tuple[float, bool]:
    """(probability of the chosen candidate, whether it is right); (0, False) with no candidate."""
    if not ex.evidence:
        return 0.0, False
    logits = [decision.logit(e) for e in ex.evidence]
    k = max(range(len(logits)), key=lambda i: logits[i])
    return decision.probability(logits[k]), ex.right[k]


STOP_GRID = (0.5, 0.6, 0.7, 0.8, 0.9)


def early_stop_at(d: Decision, examples: list[Example]) -> float:
    """The lowest probability on `STOP_GRID` at which stopping after the first passage answered that
    surely never changes the chosen candidate of a calibration question (examples read every passage).

    >>> e = lambda margin, rank: Evidence(margin, 0, 0, 0, rank, 0, 0, 0, False, False, 1, True)
    >>> x = Example("g", True, (e(1.0, 0), e(2.0, 1)), (False, True))   # P 0.73 first, 0.88 second
    >>> early_stop_at(Decision.neutral(), [x])
    0.8
    """
    for t in STOP_GRID:
        changed = False
        for x in examples:
            logits = [d.logit(e) for e in x.evidence]
            first = next((i for i, z in enumerate(logits) if d.probability(z) >= t), None)
            if first is not None and max(logits[: first + 1]) < max(logits):
                changed = True
                break
        if not changed:
            return t
    return 1.0  # never stop early


def fit_decision(examples: list[Example], budget: float = 0.04, sure_at: float = 0.5,
                 l2: float = 1.0) -> Decision:
    """Fit the decision, then `answer_at`: the lowest of the groups' highest cuts within `budget`;
    then `early_stop` (`early_stop_at`)."""
    d = Decision.fit([list(x.evidence) for x in examples], [list(x.right) for x in examples], l2)
    groups = sorted({x.group for x in examples})
    cuts = []
    for g in groups:
        probs = [best_of(d, x)[0] for x in examples if x.group == g and x.answerable]
        if probs:
            cuts.append(highest_cut(probs, budget))
    answer_at = min(cuts) if cuts else 0.0
    d = replace(d, answer_at=answer_at, sure_at=max(sure_at, answer_at))
    d = replace(d, early_stop=early_stop_at(d, examples))
    return replace(d, fitted=tuple(sorted(report(d, examples).items())))


def report(d: Decision, examples: list[Example]) -> dict[str, float]:
    """Per group: false abstentions, unanswerable abstained, answers right, ECE of the shown answers."""
    out: dict[str, float] = {"budget_answer_at": round(d.answer_at, 6)}
    for g in sorted({x.group for x in examples}):
        mine = [x for x in examples if x.group == g]
        ans = [best_of(d, x) for x in mine if x.answerable]
        una = [best_of(d, x) for x in mine if not x.answerable]
        shown = [(p, ok and x.answerable) for x in mine for p, ok in [best_of(d, x)] if p >= d.answer_at]
        if ans:
            out[f"{g}:answerable"] = len(ans)
            out[f"{g}:false_abstention"] = round(sum(p < d.answer_at for p, _ in ans) / len(ans), 4)
            out[f"{g}:right_when_answered"] = round(sum(ok for p, ok in ans if p >= d.answer_at)
                                                    / max(1, sum(p >= d.answer_at for p, _ in ans)), 4)
        if una:
            out[f"{g}:unanswerable"] = len(una)
            out[f"{g}:abstention_recall"] = round(sum(p < d.answer_at for p, _ in una) / len(una), 4)
        if shown:
            out[f"{g}:ECE"] = ece(shown)
    return out


def write_examples(examples: list[Example], path: Path) -> None:
    """The calibration questions' evidence as JSON, to refit without asking again (`read_examples`)."""
    rows = [{"group": x.group, "answerable": x.answerable, "right": list(x.right),
             "evidence": [asdict(e) for e in x.evidence]} for x in examples]
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def read_examples(path: Path) -> list[Example]:
    """The examples `write_examples` wrote.

    >>> import tempfile
    >>> e = Evidence(1.0, 3.0, 2.0, 0.5, 0, 0.9, 0.5, 0.5, True, False, 2, True)
    >>> x = Example("wiki", True, (e,), (True,))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_examples([x], Path(d) / "x.json")
    ...     read_examples(Path(d) / "x.json") == [x]
    True
    """
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [Example(r["group"], r["answerable"], tuple(Evidence(**e) for e in r["evidence"]), tuple(r["right"]))
            for r in rows]
