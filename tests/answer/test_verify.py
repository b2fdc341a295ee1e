"""The answer verifier: logistic fit, the Platt scaling of the best candidate, and its saved form."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answer.verify import FEATURES, Evidence, Verifier, fit_logistic, sigmoid


def ev(margin: float, cosine: float, rank: int = 0) -> Evidence:
    return Evidence(margin, float(sigmoid(np.array(margin))), cosine, 0.5, 0.5, False, False, 1.0, 0, rank, True)


def test_fit_logistic_recovers_a_separating_direction() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).astype(float)
    w = fit_logistic(x, y, l2=1e-2)
    assert w[0] > 0 > w[1] and abs(w[2]) < 1.0
    assert ((sigmoid(x @ w[:2] + w[2]) > 0.5) == y.astype(bool)).mean() > 0.97


def test_verifier_ranks_and_calibrates() -> None:
    rng = np.random.default_rng(1)
    cands, labels = [], []
    for _ in range(200):  # answerable: the candidate with the large margin is right
        right = rng.integers(0, 3)
        cands.append([ev(4.0 + rng.normal() if k == right else -3.0 + rng.normal(), 0.85) for k in range(3)])
        labels.append([k == right for k in range(3)])
    for _ in range(200):  # unanswerable: nothing is right, margins stay low
        cands.append([ev(-3.0 + rng.normal(), 0.82) for _ in range(3)])
        labels.append([False] * 3)
    v = Verifier.fit(cands, labels)
    good, bad = v.probability(v.logit(ev(4.0, 0.85))), v.probability(v.logit(ev(-3.0, 0.82)))
    assert good > 0.9 and bad < 0.1
    assert Verifier.from_dict(v.to_dict()) == v
    with pytest.raises(ValueError, match="verifier features"):
        Verifier.from_dict({**v.to_dict(), "features": list(FEATURES[:3])})
