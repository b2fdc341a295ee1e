"""Answer or abstain: one calibrated probability from the reader and the retrieval evidence.

Each passage the reader read gives a candidate answer (its best phrase); a few features describe
it (the reader's span and no-answer scores, where retrieval ranked the passage and how well it
scored, how much of the question the passage and the answer's sentence hold, whether it holds the
kind of answer asked for, whether an evidence check finds it lacking). A logistic model gives
each candidate's logit; the best candidate's logit then goes through a one-feature (Platt)
scaling fitted on whole held-out questions, answerable and not, so that the probability a user
sees means what it says: among answers shown at 0.8, about 8 in 10 are right. Two cut points,
chosen on held-out data (qa.answer.calibrate), turn it into the product's three outcomes: an
answer (P ≥ `sure_at`), a tentative answer shown as uncertain ("Có thể: …", `answer_at` ≤ P <
`sure_at`), or "not in the documents" (P < `answer_at`).

>>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
>>> w = fit_logistic(x, y, l2=1e-3)
>>> [round(float(p)) for p in sigmoid(x @ w[:-1] + w[-1])]
[0, 0, 1, 1]
>>> d = Decision.neutral()
>>> d.outcome(0.9), d.outcome(0.3), d.outcome(0.01)
('answer', 'tentative', 'abstain')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

FEATURES = ("margin", "span_score", "null_score", "passage_score", "passage_rank",
            "sentence_cosine", "coverage", "sentence_coverage", "type_match", "type_missing", "phrase_words",
            "vietnamese", "lacks_number", "lacks_name")
Outcome = Literal["answer", "tentative", "abstain"]


@dataclass(frozen=True)
class Evidence:
    """What is known about one candidate answer (a passage's best phrase)."""

    margin: float  # reader: span score − no-answer score
    span_score: float
    null_score: float
    passage_score: float  # retrieval's fused score
    passage_rank: int
    sentence_cosine: float  # the answer sentence's cosine to the question
    coverage: float  # share of the question's terms in the heading and the passage
    sentence_coverage: float  # ... in the answer sentence
    type_match: bool  # the question asks for a kind of answer and the phrase holds one
    type_missing: bool  # it asks for one and the answer sentence holds none
    phrase_words: int
    vietnamese: bool
    # what the checks of qa.answer.evidence find lacking: a number the question gives (a year) is not in the
    # passage; a name it gives is nowhere in the documents. Features weighed with the rest, not vetoes
    lacks_number: bool = False
    lacks_name: bool = False

    def vector(self) -> np.ndarray:
        clip = lambda v: max(-30.0, min(30.0, v))  # noqa: E731  (an unread passage scores -inf)
        return np.array([clip(self.margin), clip(self.span_score), clip(self.null_score),
                         self.passage_score, float(self.passage_rank), self.sentence_cosine, self.coverage,
                         self.sentence_coverage, float(self.type_match), float(self.type_missing),
                         min(self.phrase_words, 40) / 10.0, float(self.vietnamese),
                         float(self.lacks_number), float(self.lacks_name)],
                        dtype=np.float64)


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
class Decision:
    """Standardization, candidate weights, the Platt scaling of the best logit, and the two cut points."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]  # per feature, then the intercept
    platt: tuple[float, float] = (1.0, 0.0)
    answer_at: float = 0.1  # below: abstain
    sure_at: float = 0.5  # below (and at or above answer_at): a tentative answer
    # stop reading passages once one is answered this surely: on the calibration questions, the next
    # passage never beat one at this probability (qa.answer.calibrate.early_stop_at); 0.9 unfitted
    early_stop: float = 0.9
    fitted: tuple[tuple[str, float], ...] = ()  # what it was fitted on, and the figures there

    @classmethod
    def neutral(cls) -> Decision:
        """Logit = the reader's margin, probability = sigmoid(logit): before fitting, and in tests."""
        n = len(FEATURES)
        return cls((0.0,) * n, (1.0,) * n, (1.0,) + (0.0,) * n)

    def logit(self, e: Evidence) -> float:
        z = (e.vector() - np.array(self.mean)) / np.array(self.scale)
        w = np.array(self.weights)
        return float(z @ w[:-1] + w[-1])

    def probability(self, best_logit: float) -> float:
        a, b = self.platt
        return float(sigmoid(np.array(a * best_logit + b)))

    def outcome(self, probability: float) -> Outcome:
        if probability < self.answer_at:
            return "abstain"
        return "answer" if probability >= self.sure_at else "tentative"

    def to_dict(self) -> dict[str, object]:
        return {"features": list(FEATURES), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "platt": list(self.platt), "answer_at": self.answer_at,
                "sure_at": self.sure_at, "early_stop": self.early_stop, "fitted": dict(self.fitted)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Decision:
        if d.get("features") != list(FEATURES):
            raise ValueError(f"decision features {d.get('features')} != {list(FEATURES)}")
        fitted = d.get("fitted") or {}
        return cls(tuple(d["mean"]), tuple(d["scale"]), tuple(d["weights"]), tuple(d["platt"]),  # type: ignore[arg-type]
                   float(d["answer_at"]), float(d["sure_at"]),  # type: ignore[arg-type]
                   float(d.get("early_stop", cls.early_stop)),  # type: ignore[arg-type]  # files fitted before it
                   tuple(sorted(fitted.items())) if isinstance(fitted, dict) else ())

    @classmethod
    def fit(cls, candidates: list[list[Evidence]], labels: list[list[bool]], l2: float = 1.0) -> Decision:
        """Fit on questions' candidates (label: the answer shown for it would hold a gold answer), then the
        Platt scaling of each question's best logit against whether that best candidate is right (False
        for every candidate of an unanswerable question). Cut points stay at their defaults."""
        x = np.array([e.vector() for cs in candidates for e in cs])
        y = np.array([float(v) for ls in labels for v in ls])
        mean, sd = x.mean(axis=0), x.std(axis=0)
        scale = np.where(sd > 1e-9, sd, 1.0)
        w = fit_logistic((x - mean) / scale, y, l2)
        d = cls(tuple(float(v) for v in mean), tuple(float(v) for v in scale), tuple(float(v) for v in w))
        best, right = [], []
        for cs, ls in zip(candidates, labels, strict=True):
            if cs:
                logits = [d.logit(e) for e in cs]
                k = int(np.argmax(logits))
                best.append(logits[k])
                right.append(float(ls[k]))
        pw = fit_logistic(np.array(best)[:, None], np.array(right), l2=1e-3)
        return cls(d.mean, d.scale, d.weights, (float(pw[0]), float(pw[1])))
