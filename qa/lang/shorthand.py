"""Expand casual Vietnamese typing (phone abbreviations) before retrieval.

>>> expand("ctich ubnd tp la ai", vocab={"ubnd"})
'chủ tịch ubnd thành phố la ai'
>>> expand("ctich ubnd tp la ai", vocab=set())
'chủ tịch ủy ban nhân dân thành phố la ai'

A token is expanded only when it is not a word of the indexed documents as typed (so an
abbreviation the documents themselves use, like "UBND" or "TW", is matched verbatim).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# Common shorthand in Vietnamese chat and search; values are plain Vietnamese with diacritics.
ABBREVIATIONS: dict[str, str] = {
    "tp": "thành phố", "tphcm": "thành phố hồ chí minh", "hcm": "hồ chí minh", "hn": "hội nghị",
    "ct": "chủ tịch", "ctich": "chủ tịch", "cthich": "chủ tịch", "pct": "phó chủ tịch",
    "bt": "bí thư", "pbt": "phó bí thư", "tbt": "tổng bí thư", "ttg": "thủ tướng",
    "ns": "ngân sách", "nq": "nghị quyết", "ctr": "chương trình", "kh": "kế hoạch",
    "tw": "trung ương", "qh": "quốc hội", "đb": "đại biểu", "db": "đại biểu",
    "đc": "đồng chí", "dc": "được", "đk": "điều kiện", "dk": "điều kiện", "ng": "người",
    "bn": "bao nhiêu", "bnhieu": "bao nhiêu", "bao nhiu": "bao nhiêu", "nhiu": "nhiêu",
    "j": "gì", "z": "vậy", "ntn": "như thế nào",
    "ko": "không", "kg": "không", "vs": "với", "trc": "trước",
    "hp": "hải phòng", "nd": "nội địa", "đvsn": "đơn vị sự nghiệp", "dvsn": "đơn vị sự nghiệp",
    "cb": "cán bộ", "kt": "kinh tế", "xh": "xã hội", "ktxh": "kinh tế xã hội", "cn": "công nghiệp",
    "hđnd": "hội đồng nhân dân", "ubnd": "ủy ban nhân dân", "mttq": "mặt trận tổ quốc",
}
_TOKEN = re.compile(r"[\w\u0300-\u036f]+")


def expand(question: str, vocab: set[str] | frozenset[str]) -> str:
    """Replace shorthand tokens absent from `vocab` (lowercased document words) by their expansion."""

    def sub(m: re.Match[str]) -> str:
        tok = m.group()
        low = tok.lower()
        if low in vocab or low not in ABBREVIATIONS:
            return tok
        return ABBREVIATIONS[low]

    return _TOKEN.sub(sub, question)


def contract(question: str, vocab: set[str] | frozenset[str], has_phrase: Callable[[str], bool]) -> str:
    """Write a spelled-out phrase as the documents' abbreviation when they only use the short form.

    >>> contract("Ai lãnh đạo ủy ban nhân dân?", {"ubnd"}, lambda p: False)
    'Ai lãnh đạo UBND?'
    """
    for short, long in _CONTRACTIONS:
        if short in vocab and not has_phrase(long):
            question = _phrase_pattern(long).sub(short.upper(), question)
    return question


@lru_cache(maxsize=256)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Regex matching the phrase with any tone placement or diacritics (compared after folding)."""
    from qa.lang.text import fold

    body = r"\s+".join(_folded_class(w) for w in fold(phrase).split())
    return re.compile(r"\b" + body + r"\b", re.IGNORECASE)


def _folded_class(word: str) -> str:
    # each plain letter matches itself with any Vietnamese marks; good enough for phrase lookup
    import unicodedata

    out = []
    for ch in word:
        variants = {ch, ch.upper()}
        for code in range(0xC0, 0x1EFA):
            c = chr(code)
            base = unicodedata.normalize("NFD", c)[0].lower()
            if base == ch or (ch == "d" and c in "đĐ"):
                variants.add(c)
        out.append("[" + "".join(sorted(re.escape(v) for v in variants)) + "]")
    return "".join(out)


_CONTRACTIONS: tuple[tuple[str, str], ...] = tuple(
    (k, v) for k, v in ABBREVIATIONS.items() if len(v.split()) >= 2 and len(k) >= 3
)
