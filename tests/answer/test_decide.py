"""The answer decision: logistic fit, Platt scaling of the best candidate, cut points, and its saved form."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qa.answer.calibrate import STOP_GRID, Example, early_stop_at, fit_decision, highest_cut, report
from qa.answer.decide import FEATURES, Decision, Evidence, fit_logistic, sigmoid


def ev(margin: float, rank: int = 0, coverage: float = 0.5) -> Evidence:
    return Evidence(margin, margin + 2.0, 2.0, 1.0, rank, 0.85, coverage, coverage, False, False, 3, True)


def test_fit_logistic_recovers_a_separating_direction() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).astype(float)
    w = fit_logistic(x, y, l2=1e-2)
    assert w[0] > 0 > w[1] and abs(w[2]) < 1.0
    assert ((sigmoid(x @ w[:2] + w[2]) > 0.5) == y.astype(bool)).mean() > 0.97


def examples(seed: int, group: str = "wiki") -> list[Example]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(300):  # answerable: the candidate with the large margin is right
        right = int(rng.integers(0, 2))
        cands = tuple(ev(4.0 + rng.normal() if k == right else -3.0 + rng.normal(), k) for k in range(2))
        out.append(Example(group, True, cands, tuple(k == right for k in range(2))))
    for _ in range(300):  # unanswerable: nothing is right, margins stay low
        out.append(Example(group, False, tuple(ev(-3.0 + rng.normal(), k) for k in range(2)), (False, False)))
    return out


def test_decision_ranks_calibrates_and_cuts_within_the_budget() -> None:
    train = examples(1)
    d = fit_decision(train, budget=0.04)
    assert d.probability(d.logit(ev(4.0))) > 0.9 and d.probability(d.logit(ev(-3.0))) < 0.1
    figures = report(d, examples(2))  # new questions of the same kind
    assert figures["wiki:false_abstention"] <= 0.08 and figures["wiki:abstention_recall"] > 0.9
    assert figures["wiki:ECE"] < 0.1
    assert d.answer_at <= d.sure_at and dict(d.fitted)["wiki:false_abstention"] <= 0.04
    assert Decision.from_dict(d.to_dict()) == d
    old = {k: v for k, v in d.to_dict().items() if k != "early_stop"}  # a file fitted before early_stop
    assert Decision.from_dict(old).early_stop == 0.9
    with pytest.raises(ValueError, match="decision features"):
        Decision.from_dict({**d.to_dict(), "features": list(FEATURES[:3])})


def test_the_early_stop_is_where_a_later_passage_never_won() -> None:
    d = Decision.neutral()
    sure_first = Example("g", True, (ev(3.0, 0), ev(1.0, 1)), (True, False))  # P 0.95 first: stop anywhere
    assert early_stop_at(d, [sure_first]) == STOP_GRID[0]
    later = Example("g", True, (ev(1.0, 0), ev(2.5, 1)), (False, True))  # P 0.73, then 0.92 wins
    assert early_stop_at(d, [sure_first, later]) == 0.8
    never = Example("g", True, (ev(3.0, 0), ev(4.0, 1)), (False, True))  # 0.95 beaten by 0.98
    assert early_stop_at(d, [never]) == 1.0


def test_the_cut_holds_for_every_group() -> None:
    easy = examples(3, "wiki")
    # a second domain whose right answers come with lower margins: its cut must be lower
    rng = np.random.default_rng(4)
    hard = [Example("regs", True, (ev(0.5 + rng.normal()),), (True,)) for _ in range(200)]
    d = fit_decision(easy + hard, budget=0.05)
    r = report(d, easy + hard)
    assert r["regs:false_abstention"] <= 0.05 and r["wiki:false_abstention"] <= 0.05


def test_outcomes_follow_the_cut_points() -> None:
    d = Decision.neutral()
    assert [d.outcome(p) for p in (0.95, d.sure_at, 0.3, d.answer_at, 0.01)] == \
        ["answer", "answer", "tentative", "tentative", "abstain"]
    assert highest_cut([0.2, 0.4, 0.6, 0.8], budget=0.25) == 0.4 and highest_cut([], 0.05) == 0.0



def test_a_lacking_answer_is_weighed_not_vetoed() -> None:
    """An evidence check's finding is a feature: learned as evidence against, where it was (here, a
    candidate lacking what the question gives is right a third of the time)."""
    rng = np.random.default_rng(7)
    out = []
    for k in range(600):
        lacks = k % 2 == 0
        right = bool(rng.random() < (0.33 if lacks else 0.9))
        e = replace(ev(1.0 + rng.normal()), lacks_number=lacks)
        out.append(Example("wiki", True, (e,), (right,)))
    d = fit_decision(out, budget=0.05)
    assert d.weights[FEATURES.index("lacks_number")] < 0
    p_lacking = d.probability(d.logit(replace(ev(1.0), lacks_number=True)))
    assert 0.05 < p_lacking < d.probability(d.logit(ev(1.0)))  # lower, but still an answer
