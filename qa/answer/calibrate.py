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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

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
    vetoed: tuple[bool, ...] = ()  # an evidence check refuses the candidate (qa.answer.evidence); () for none


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
        vetoed = tuple(answerer.veto(result, terms, j) is not None for j in judged)
        out.append(Example(group, answerable, tuple(j.evidence for j in judged), _labels(answerer, judged, gold),
                           vetoed))
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


def highest_cut(probabilities: Sequence[float], budget: float, refused: int = 0) -> float:
    """The highest cut t such that at most `budget` of the answerable questions are refused: those
    below t, plus `refused` questions an evidence check refuses whatever t is (not in `probabilities`).

    >>> p = [0.9, 0.8, 0.3, 0.05]
    >>> highest_cut(p, budget=0.5), highest_cut(p, budget=0.5, refused=1)   # 2 of 4 may fall below; 1 of 5
    (0.8, 0.3)
    """
    ps = sorted(probabilities)
    if not ps:
        return 0.0
    allowed = int(math.floor(budget * (len(ps) + refused) + 1e-9)) - refused  # may still fall below t
    return ps[min(max(allowed, 0), len(ps) - 1)]


def chosen(decision: Decision, ex: Example) -> tuple[float, bool, bool]:
    """(probability of the chosen candidate, whether it is right, whether a check vetoes it);
    (0, False, False) with no candidate."""
    if not ex.evidence:
        return 0.0, False, False
    logits = [decision.logit(e) for e in ex.evidence]
    k = max(range(len(logits)), key=lambda i: logits[i])
    return decision.probability(logits[k]), ex.right[k], bool(ex.vetoed and ex.vetoed[k])


def best_of(decision: Decision, ex: Example) -> tuple[float, bool]:
    """(probability of the chosen candidate, whether it is right); (0, False) with no candidate."""
    p, right, _ = chosen(decision, ex)
    return p, right


def fit_decision(examples: list[Example], budget: float = 0.04, sure_at: float = 0.5,
                 l2: float = 1.0) -> Decision:
    """Fit the decision, then `answer_at`: the lowest of the groups' highest cuts within `budget`
    (the answerable questions a check vetoes count as refused: the user sees an abstention either way)."""
    d = Decision.fit([list(x.evidence) for x in examples], [list(x.right) for x in examples], l2)
    groups = sorted({x.group for x in examples})
    cuts = []
    for g in groups:
        picks = [chosen(d, x) for x in examples if x.group == g and x.answerable]
        probs = [p for p, _, vetoed in picks if not vetoed]
        if picks:
            cuts.append(highest_cut(probs, budget, refused=len(picks) - len(probs)))
    answer_at = min(cuts) if cuts else 0.0
    d = replace(d, answer_at=answer_at, sure_at=max(sure_at, answer_at))
    return replace(d, fitted=tuple(sorted(report(d, examples).items())))


def report(d: Decision, examples: list[Example]) -> dict[str, float]:
    """Per group: false abstentions, unanswerable abstained, answers right, ECE of the shown answers
    (a vetoed answer is an abstention, as the user sees it)."""
    out: dict[str, float] = {"budget_answer_at": round(d.answer_at, 6)}
    for g in sorted({x.group for x in examples}):
        mine = [x for x in examples if x.group == g]
        # (probability, right, answered)
        ans = [(p, ok, p >= d.answer_at and not v) for x in mine if x.answerable for p, ok, v in [chosen(d, x)]]
        una = [(p, ok, p >= d.answer_at and not v) for x in mine if not x.answerable for p, ok, v in [chosen(d, x)]]
        shown = [(p, ok and x.answerable) for x in mine for p, ok, v in [chosen(d, x)] if p >= d.answer_at and not v]
        if ans:
            out[f"{g}:answerable"] = len(ans)
            out[f"{g}:false_abstention"] = round(sum(not a for _, _, a in ans) / len(ans), 4)
            out[f"{g}:right_when_answered"] = round(sum(ok for _, ok, a in ans if a)
                                                    / max(1, sum(a for *_, a in ans)), 4)
        if una:
            out[f"{g}:unanswerable"] = len(una)
            out[f"{g}:abstention_recall"] = round(sum(not a for _, _, a in una) / len(una), 4)
        if shown:
            out[f"{g}:ECE"] = ece(shown)
    return out
