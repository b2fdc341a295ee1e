"""How sure an answer is, in words a reader understands: the one place that holds the cut points.

The answerer gives each answer a calibrated probability (`AnswerSpan.score`; qa.answer.decide: among
answers shown at 0.8, about 8 in 10 are right) and says whether it is only a best guess
(`AnswerSpan.tentative`, P below the decision's `sure_at`). People do not read "0.63"; the chat
and the widget show a word and a three-step bar instead, and the number only in a tooltip (and in
the JSON):

    =================  =================================  ====  ======================
    word               when                               bar   look
    =================  =================================  ====  ======================
    "chắc chắn"        not tentative and P ≥ 0.8 (SURE)   ●●●   answer box, as before
    "khá chắc"         not tentative and P < 0.8          ●●○   answer box, as before
    "có thể"           tentative (the decision's call)    ●○○   dashed box, "Có thể: …"
    =================  =================================  ====  ======================

SURE = 0.8 because the probability is calibrated: at 0.8 and above, at most about one answer in
five is wrong, which is what "chắc chắn" promises; below it an answer the decision still shows
as sure (P ≥ `sure_at`, 0.5 by default) is "khá chắc". Whether an answer is tentative is the
decision's own cut point (`sure_at`), not repeated here, so the word and the outcome never
disagree. The widget gets these same values from `widget_config()` (the app writes them into
widget.js), so there is no second copy to drift.

>>> confidence_level(0.93, tentative=False).word
'chắc chắn'
>>> confidence_level(0.62, tentative=False).word
'khá chắc'
>>> level = confidence_level(0.3, tentative=True)
>>> level.word, level.bars, level.tooltip
('có thể', 1, 'Xác suất đúng ước tính: 0.30')
"""

from __future__ import annotations

from dataclasses import dataclass

SURE = 0.8  # calibrated probability at or above which an answer (not tentative) is "chắc chắn"
BARS = 3  # steps of the bar
TENTATIVE_PREFIX = "Có thể: "  # how a tentative answer's label starts
WORDS = {"sure": ("chắc chắn", 3), "likely": ("khá chắc", 2), "maybe": ("có thể", 1)}  # key -> (word, bars)


@dataclass(frozen=True)
class ConfidenceLevel:
    """A word, a bar of `bars` out of BARS, a CSS class suffix, and the number for the tooltip."""

    word: str
    bars: int
    key: str  # "sure" | "likely" | "maybe": CSS classes qa-conf-<key> (chat) and conf-<key> (widget)
    probability: float

    @property
    def tooltip(self) -> str:
        return f"Xác suất đúng ước tính: {self.probability:.2f}"


def confidence_level(probability: float, tentative: bool) -> ConfidenceLevel:
    """The level shown for an answer with this calibrated `probability` and tentative flag."""
    p = min(max(float(probability), 0.0), 1.0)
    key = "maybe" if tentative else "sure" if p >= SURE else "likely"
    word, bars = WORDS[key]
    return ConfidenceLevel(word, bars, key, p)


def widget_config() -> dict[str, object]:
    """The cut points and words for widget.js (same rule as `confidence_level`).

    >>> widget_config()["sure"]
    0.8
    """
    return {"sure": SURE, "bars": BARS, "prefix": TENTATIVE_PREFIX,
            "words": {key: word for key, (word, _) in WORDS.items()}}
