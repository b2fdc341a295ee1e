"""What kind of answer a question wants, and whether a sentence has one (a cheap, classic QA cue).

>>> expected_type("Ai chủ trì hội nghị?"), expected_type("bao nhieu dai bieu du hoi nghi")
('person', 'number')
>>> has_type("Đồng chí Lê Văn Thành chủ trì hội nghị.", "person")
True
"""

from __future__ import annotations

import re
from typing import Literal

from qa.lang.names import person_names
from qa.lang.text import fold

AnswerType = Literal["person", "number", "date", "place"]

# Folded question cues (checked on the folded question, so unaccented typing works too), in priority order.
_CUES: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    # English cue words only open a question: "the spirit ... when carrying out" asks no date
    ("date", re.compile(r"\b(khi nao|bao gio|ngay nao|ngay may|nam nao|thang nao|what date|which year)\b|^when\b")),
    ("number", re.compile(r"\b(bao nhieu|how many|how much|what percentage|ty le)\b")),
    ("place", re.compile(r"\b(o dau|tai dau|noi nao)\b|^where\b")),
    ("person", re.compile(r"(^|\s)(ai|nguoi nao)\b|\bla ai\b|^(who|whom)\b")),
)
# "mấy" only with its marks: folded "may" is also "máy" (bộ máy, máy móc)
_MAY = re.compile(r"(?<!\w)mấy(?!\w)")
_DATE = re.compile(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b(?:ngày|tháng|năm) \d{1,4}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
_PLACE = re.compile(r"\b(?:tại|ở) [A-ZĐÀ-Ỵ]")


def expected_type(question: str) -> AnswerType | None:
    """The kind of answer a question cue asks for, or None."""
    q = fold(question)
    for name, pat in _CUES:
        if pat.search(q):
            return name
        if name == "number" and _MAY.search(question.lower()):
            return name
    return None


def has_type(sentence: str, kind: AnswerType | None) -> bool:
    """True when the sentence contains something of the wanted kind."""
    if kind == "person":
        return bool(person_names(sentence))
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind == "place":
        return bool(_PLACE.search(sentence))
    return False
