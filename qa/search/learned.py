"""The learned ranking: a linear scorer over `qa.search.features`, loaded hash-checked from JSON.

A question's top `top_k` candidates by the hand fusion are re-scored by `score = w · (x - mean) /
scale`, blended with the hand score (`blend`: the share of the hand fusion's per-question z-score
kept); the rest keep their hand order after them. The shipped model (`weights/ranker.json`, model
card beside it) was trained by `qa rank train` (`qa.search.rank_train`); `load_ranker` checks its
sha256 against `ranker.sha256` and refuses a changed file::

    ranker = load_ranker()                      # the shipped one, hash-checked
    scores = ranker.score(features)             # one per candidate row

>>> m = RankModel(("a", "b"), np.zeros(2), np.ones(2), np.array([1.0, -1.0]), top_k=8)
>>> m.score(np.array([[1.0, 0.0], [0.0, 1.0]])).tolist()
[1.0, -1.0]
>>> RankModel.from_dict(m.to_dict()) == m
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from qa.errors import ModelError
from qa.search.features import FEATURES

SHIPPED = Path(__file__).resolve().parent / "weights"
WEIGHTS = "ranker.json"
DIGEST = "ranker.sha256"
FORMAT = 1
Ranking = Literal["hand", "learned"]
RANKINGS: tuple[Ranking, ...] = ("hand", "learned")


@dataclass(frozen=True)
class RankingSettings:
    """QA_RANKING: the hand fusion's order, or the learned re-ranking; QA_RANKER: its folder (default shipped)."""

    ranking: Ranking = "hand"
    folder: Path | None = None


@dataclass(frozen=True, eq=False)
class RankModel:
    """Feature names, per-feature standardization, weights; `top_k` candidates are re-scored."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    top_k: int = 20
    blend: float = 0.0  # share of the hand fusion's z-score kept in the final score
    meta: dict[str, Any] = field(default_factory=dict)  # training recipe and figures (the model card's source)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, RankModel) and self.features == other.features and self.top_k == other.top_k
                and self.blend == other.blend and all(np.array_equal(a, b) for a, b in zip(
                    (self.mean, self.scale, self.weights), (other.mean, other.scale, other.weights), strict=True)))

    __hash__ = None  # type: ignore[assignment]

    def score(self, x: np.ndarray) -> np.ndarray:
        """One score per row of `x` (columns in `self.features` order)."""
        return np.asarray(((x - self.mean) / self.scale) @ self.weights, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "features": list(self.features), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "weights": self.weights.tolist(), "top_k": self.top_k,
                "blend": self.blend, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RankModel:
        try:
            if d.get("format") != FORMAT:
                raise ValueError(f"format {d.get('format')!r}, expected {FORMAT}")
            names = tuple(str(n) for n in d["features"])
            mean, scale, weights = (np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "weights"))
            if any(a.shape != (len(names),) for a in (mean, scale, weights)) or np.any(scale <= 0):
                raise ValueError("mean, scale and weights must have one value per feature, scale > 0")
            return cls(names, mean, scale, weights, top_k=int(d["top_k"]), blend=float(d.get("blend", 0.0)),
                       meta=dict(d.get("meta", {})))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"the ranking model is malformed ({e}); retrain it with `qa rank train`") from e

    def check_features(self) -> None:
        """ModelError unless the model was trained on this version's features."""
        if self.features != FEATURES:
            raise ModelError(f"the ranking model uses features {list(self.features)}, this version computes "
                             f"{list(FEATURES)}; retrain it with `qa rank train`")


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_ranker(model: RankModel, folder: Path) -> Path:
    """Write `ranker.json` and its `ranker.sha256` into `folder`; returns the JSON's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WEIGHTS
    path.write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (folder / DIGEST).write_text(file_digest(path) + "\n", encoding="utf-8")
    return path


def load_ranker(folder: Path | None = None) -> RankModel:
    """The model in `folder` (default: the shipped one), after checking its sha256; ModelError if it
    is missing, changed or made for other features."""
    folder = folder or SHIPPED
    path = folder / WEIGHTS
    try:
        want = (folder / DIGEST).read_text(encoding="utf-8").strip()
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"no ranking model in {folder} ({e.strerror}); train one with `qa rank train`") from e
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise ModelError(f"{path} does not match its sha256 ({got[:12]}… vs {want[:12]}…): the file was changed "
                         "or damaged; reinstall the package or retrain with `qa rank train`")
    try:
        model = RankModel.from_dict(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelError(f"{path} is not valid JSON ({e}); retrain it with `qa rank train`") from e
    model.check_features()
    return model


def ranker_for(settings: RankingSettings) -> RankModel | None:
    """The model the settings ask for (None for the hand fusion), loaded and hash-checked once.

    >>> ranker_for(RankingSettings("hand")) is None
    True
    """
    return load_ranker(settings.folder) if settings.ranking == "learned" else None
