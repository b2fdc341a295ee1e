"""Is a candidate answer right? A small logistic model over the evidence, trained on real QA data.

Each candidate sentence read by the span reader gets a few features (the reader's answer margin,
the sentence's cosine to the question, how much of the question it and its passage cover, whether
it holds the kind of answer asked for, where retrieval ranked its passage); a logistic model gives
P(the sentence answers the question). The best candidate's logit then goes through a second,
one-feature (Platt) scaling fitted on whole questions, answerable and not, so the confidence a user
sees is a probability that means what it says.

>>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
>>> w = fit_logistic(x, y, l2=1e-3)
>>> [round(float(p)) for p in sigmoid(x @ w[:-1] + w[-1])]
[0, 0, 1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURES = ("reader_margin", "reader_prob", "cosine", "coverage", "passage_coverage", "type_match", "type_missing",
            "passage_score", "passage_rank", "candidate_rank", "vietnamese")


@dataclass(frozen=True)
class Evidence:
    """What is known about one candidate answer sentence."""

    reader_margin: float
    reader_prob: float
    cosine: float
    coverage: float
    passage_coverage: float
    type_match: bool  # the question asks for a kind of answer and the sentence holds one
    type_missing: bool  # it asks for one and the sentence holds none
    passage_score: float
    passage_rank: int
    candidate_rank: int
    vietnamese: bool

    def vector(self) -> np.ndarray:
        return np.array([max(-20.0, min(20.0, self.reader_margin)), self.reader_prob, self.cosine, self.coverage,
                         self.passage_coverage, float(self.type_match), float(self.type_missing),
                         self.passage_score, float(self.passage_rank), float(self.candidate_rank),
                         float(self.vietnamese)], dtype=np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> np.ndarray:
    """Weights (one per column, then the intercept) of an L2-regularized logistic regression (Newton)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = sigmoid(xb @ w)
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


@dataclass(frozen=True)
class Verifier:
    """Standardization, candidate weights, and the Platt scaling of the best candidate's logit."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]  # per feature, then the intercept
    platt: tuple[float, float] = (1.0, 0.0)

    def logit(self, e: Evidence) -> float:
        z = (e.vector() - np.array(self.mean)) / np.array(self.scale)
        w = np.array(self.weights)
        return float(z @ w[:-1] + w[-1])

    def probability(self, best_logit: float) -> float:
        a, b = self.platt
        return float(sigmoid(np.array(a * best_logit + b)))

    def to_dict(self) -> dict[str, object]:
        return {"features": list(FEATURES), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "platt": list(self.platt)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Verifier:
        if d.get("features") != list(FEATURES):
            raise ValueError(f"verifier features {d.get('features')} != {list(FEATURES)}")
        return cls(tuple(d["mean"]), tuple(d["scale"]), tuple(d["weights"]), tuple(d["platt"]))  # type: ignore[arg-type]

    @classmethod
    def fit(cls, candidates: list[list[Evidence]], labels: list[list[bool]], l2: float = 1.0) -> Verifier:
        """Fit on questions' candidates (label: the sentence holds a gold answer), then the Platt scaling of
        each question's best logit against whether that best candidate is right (False for every
        candidate of an unanswerable question)."""
        x = np.array([e.vector() for cs in candidates for e in cs])
        y = np.array([float(v) for ls in labels for v in ls])
        mean, scale = x.mean(axis=0), np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        w = fit_logistic((x - mean) / scale, y, l2)
        v = cls(tuple(mean), tuple(scale), tuple(w))
        best, right = [], []
        for cs, ls in zip(candidates, labels, strict=True):
            if cs:
                logits = [v.logit(e) for e in cs]
                k = int(np.argmax(logits))
                best.append(logits[k])
                right.append(float(ls[k]))
        pw = fit_logistic(np.array(best)[:, None], np.array(right), l2=1e-3)
        return cls(v.mean, v.scale, v.weights, (float(pw[0]), float(pw[1])))
