"""Can the chosen sentence answer the question at all? Cheap checks that catch near-miss answers.

A similarity score cannot tell "the budget in 2017" from "the budget in 2019", or a sentence that
mentions villages from one that counts them. Each check names what the answer lacks:

>>> missing_evidence("Thu ngân sách năm 2019 đạt bao nhiêu?", "Năm 2017, thu ngân sách đạt 70 nghìn tỷ.",
...                  passage="Năm 2017, thu ngân sách đạt 70 nghìn tỷ.", known_phrase=lambda p: True)
Lack(kind='number', what='2019')
>>> missing_evidence("Hội nghị kéo dài bao nhiêu giờ?", "Hội nghị có 700 đại biểu.",
...                  passage="Hội nghị có 700 đại biểu.", known_phrase=lambda p: True).message_vi()
'các đoạn liên quan không nêu số giờ'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Literal

from qa.answer.answertype import expected_type, has_type
from qa.lang.text import Token, fold, tokenize

_NUM = re.compile(r"(?<![\d.,/])\d+(?:[.,]\d+)*(?![\d])")
# number words, so "sáu hạn chế" counts like "6 hạn chế"
_NUMBER_WORDS = frozenset(
    "mot hai ba bon tu nam sau bay tam chin muoi tram nghin ngan trieu ty hon gan khoang".split()
)
# "bao nhiêu X" where X is one of these is not a counted noun: any number answers it
_NOT_UNITS = frozenset("va hay hoac la thi nam so ti ty chi".split())
_CALENDAR = re.compile(r"\b(ngay nao|ngay may|nam nao|thang nao|what date|which year)\b")
# "huyện nào", "ở tỉnh nào": a named administrative unit is wanted
_PLACE_NOUNS = frozenset("huyen quan tinh xa phuong thi tran".split())


def question_numbers(question: str) -> list[str]:
    """Digit groups the question names: `question_numbers("Nghị quyết số 18 năm 2017") == ['18', '2017']`."""
    return _NUM.findall(question)


_THOUSANDS = re.compile(r"(?<=\d)[.,](?=\d{3}(?!\d))")


def _whole(n: str) -> re.Pattern[str]:
    """`n` as a whole number: "18" matches in "18-NQ/TW", not in "2018"."""
    return re.compile(rf"(?<!\d){re.escape(n)}(?!\d)")


def _has_number(text: str, n: str) -> bool:
    """`n` occurs as a whole number in `text`; thousands separators don't matter ("1.000" is "1000")."""
    return _whole(_THOUSANDS.sub("", n)).search(_THOUSANDS.sub("", text)) is not None


def unknown_names(question: str, known_phrase: Callable[[str], bool]) -> list[str]:
    """Capitalized names of two or more syllables (not the question's first word) the documents never use.

    "Ai là Chủ tịch UBND thành phố Hà Nội?" over a Hải Phòng article -> ['Hà Nội'].
    """
    toks = tokenize(question)
    runs: list[list[Token]] = []
    cur: list[Token] = []
    for i, t in enumerate(toks):
        cap = i > 0 and question[t.start].isupper() and not t.norm.isdigit()
        if cap and cur and not question[cur[-1].end : t.start].strip():
            cur.append(t)
            continue
        if len(cur) >= 2:
            runs.append(cur)
        cur = [t] if cap else []
    if len(cur) >= 2:
        runs.append(cur)
    names = [question[r[0].start : r[-1].end] for r in runs]
    return [n for n in names if not known_phrase(n)]


def _count_unit(question: str) -> tuple[str, str] | None:
    """(folded, as written) noun counted in "bao nhiêu <noun>", ('%', '%') for percentages, else None."""
    toks = tokenize(question)
    for i in range(len(toks) - 1):
        if toks[i].folded == "bao" and toks[i + 1].folded == "nhieu":
            rest = toks[i + 2 :]
            gap = question[toks[i + 1].end : rest[0].start if rest else len(question)]
            if "%" in gap or [t.folded for t in rest[:2]] == ["phan", "tram"]:
                return "%", "%"
            if not rest or gap.strip() or rest[0].folded in _NOT_UNITS or rest[0].norm.isdigit():
                return None
            return rest[0].folded, question[rest[0].start : rest[0].end]
    return None


def _counts(answer: str, unit: str) -> bool:
    """True when the answer has a number (digits or words) right before `unit`."""
    if unit == "%":
        return "%" in answer or "phan tram" in fold(answer)
    toks = [t.folded for t in tokenize(answer)]
    for i, t in enumerate(toks):
        if t == unit and any(w.isdigit() or w in _NUMBER_WORDS for w in toks[max(0, i - 3) : i]):
            return True
    return False


def _place_unit(question: str) -> tuple[str, str] | None:
    """(folded, as written) administrative noun in "<huyện|tỉnh|...> nào", else None."""
    toks = tokenize(question)
    for a, b in zip(toks, toks[1:], strict=False):
        if b.folded == "nao" and a.folded in _PLACE_NOUNS:
            return a.folded, question[a.start : a.end]
    return None


def _names_place(answer: str, unit: str) -> bool:
    toks = tokenize(answer)
    return any(t.folded == unit and i + 1 < len(toks) and answer[toks[i + 1].start].isupper()
               for i, t in enumerate(toks))


# number: named by the question (asked for when `what` is ""); name: unknown to the documents;
# count: "bao nhiêu <noun>" not counted; named: "<huyện> nào" not named; person/date: none in the answer
LackKind = Literal["number", "name", "count", "named", "person", "date"]


@dataclass(frozen=True)
class Lack:
    """What the best sentence lacks: `str(Lack("number", "2019")) == 'number 2019'`."""

    kind: LackKind
    what: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.what}".strip()

    def message_vi(self) -> str:
        """The reason shown to the user next to "Không tìm thấy thông tin này trong tài liệu."."""
        if self.kind == "number" and not self.what:  # the asked-for number, not one the question named
            return "các đoạn liên quan không nêu con số nào khác với câu hỏi"
        return {
            "number": f"các đoạn liên quan không nhắc đến “{self.what}”",
            "name": f"tài liệu không nhắc đến “{self.what}”",
            "count": f"các đoạn liên quan không nêu số {self.what}",
            "named": f"các đoạn liên quan không nêu tên {self.what} cụ thể",
            "person": "các đoạn liên quan không nêu tên người",
            "date": "các đoạn liên quan không nêu ngày tháng",
        }.get(self.kind, "các đoạn liên quan không có câu trả lời cho câu hỏi")


ALL_CHECKS: frozenset[LackKind] = frozenset(("number", "name", "count", "named", "person", "date"))


def missing_evidence(question: str, answer: str, passage: str, known_phrase: Callable[[str], bool],
                     vietnamese: bool = True, checks: Container[str] = ALL_CHECKS) -> Lack | None:
    """What `answer` (from `passage`) lacks to answer `question`, or None when nothing is missing.

    `known_phrase(p)` says whether the documents use the phrase; `vietnamese` is False for
    questions in another language (their names are translations, so unknown names prove nothing).
    `checks` names the kinds of lack to look for (all by default).
    """
    nums = question_numbers(question)
    if "number" in checks and nums and not any(_has_number(passage, n) for n in nums):
        return Lack("number", nums[0])
    if vietnamese and "name" in checks:
        names = unknown_names(question, known_phrase)
        if names:
            return Lack("name", names[0])
    unit = _count_unit(question) if "count" in checks else None
    if unit and not _counts(answer, unit[0]):
        return Lack("count", unit[1])
    place = _place_unit(question) if "named" in checks else None
    if place and not _names_place(answer, place[0]):
        return Lack("named", place[1])
    kind = expected_type(question)
    if kind == "person" and re.search(r"\b(nhung|cac) ai\b", fold(question)):
        kind = None  # "những ai" asks who in general (groups, roles), not for a name
    # a place can be common words ("ở trung tâm thành phố") and "when" can be "early in the year":
    # only "which day / which year" demands a date; the other cues are a ranking bonus only
    if kind == "date" and not _CALENDAR.search(fold(question)):
        kind = None
    if kind in checks and (kind == "person" or kind == "number" or kind == "date"):
        # a number or name the question itself gives is no answer ("năm 2017 ... bao nhiêu?")
        stripped = answer
        for n in nums:
            stripped = _whole(n).sub(" ", stripped)
        if not has_type(stripped, kind):
            return Lack(kind)
    return None
