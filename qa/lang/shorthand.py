"""Expand casual Vietnamese typing (chat and phone abbreviations) before retrieval.

Two tables. `COMMON` holds abbreviations with one everyday meaning ("ko" → "không", "cty" → "công
ty", "sđt" → "số điện thoại"), always spelled out. `AMBIGUOUS` holds those with several ("hn" is
"Hà Nội", "hội nghị" or "hôm nay"): the indexed documents decide, through `count` (how many chunks
hold a phrase). A candidate the documents do not contain is never chosen; among those they contain,
one that also joins the neighbouring word as the documents write it wins ("ct ubnd" → "chủ tịch"
before "công ty"), then the more frequent one; when none occurs the token stays as typed.

>>> expand("giam doc cty la ai", vocab=set())
'giam doc công ty la ai'
>>> hanoi = {"hà nội": 12, "hội nghị": 2}.get
>>> expand("dân số hn bn", vocab=set(), count=lambda p: hanoi(p, 0))
'dân số hà nội bao nhiêu'
>>> seed = {"hội nghị": 22}.get
>>> expand("hn tổ chức ở đâu z", vocab=set(), count=lambda p: seed(p, 0))
'hội nghị tổ chức ở đâu vậy'
>>> expand("hn tổ chức ở đâu", vocab=set())   # no documents to ask: an ambiguous token stays
'hn tổ chức ở đâu'

A token is expanded only when it is not a word of the indexed documents as typed (so an
abbreviation the documents themselves use, like "UBND" or "TW", is matched verbatim).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

from qa.lang.text import fold, normalize

PhraseCount = Callable[[str], int]  # chunks of the indexed documents holding a phrase (0 = absent)

# One everyday meaning in Vietnamese chat, search and administrative writing (values with diacritics).
COMMON: dict[str, str] = {
    # question words and function words
    "ko": "không", "k": "không", "hok": "không", "khg": "không", "đc": "được", "dc": "được",
    "bn": "bao nhiêu", "bnhieu": "bao nhiêu", "nhiu": "nhiêu", "ntn": "như thế nào", "j": "gì", "z": "vậy",
    "vs": "với", "trc": "trước", "r": "rồi", "ms": "mới", "lm": "làm", "ng": "người", "ngta": "người ta",
    "mn": "mọi người", "hnay": "hôm nay", "hqua": "hôm qua",
    # places
    "tp": "thành phố", "tphcm": "thành phố hồ chí minh", "hcm": "hồ chí minh", "vn": "việt nam",
    "sg": "sài gòn",
    # people, organisations, papers
    "cty": "công ty", "tnhh": "trách nhiệm hữu hạn", "pgđ": "phó giám đốc", "tgđ": "tổng giám đốc",
    "sv": "sinh viên", "gv": "giáo viên", "hs": "học sinh", "bv": "bệnh viện", "bs": "bác sĩ",
    "sđt": "số điện thoại", "sdt": "số điện thoại", "tk": "tài khoản", "kq": "kết quả",
    "sp": "sản phẩm", "dv": "dịch vụ", "sx": "sản xuất", "xd": "xây dựng", "cnc": "công nghệ cao",
    "bhyt": "bảo hiểm y tế", "bhxh": "bảo hiểm xã hội", "cccd": "căn cước công dân",
    "cmnd": "chứng minh nhân dân", "thpt": "trung học phổ thông", "thcs": "trung học cơ sở",
    # state and party (standard abbreviations of Vietnamese official writing)
    "ubnd": "ủy ban nhân dân", "hđnd": "hội đồng nhân dân", "mttq": "mặt trận tổ quốc",
    "tw": "trung ương", "qh": "quốc hội", "nq": "nghị quyết", "nđ": "nghị định", "ttg": "thủ tướng",
    "tbt": "tổng bí thư", "ctich": "chủ tịch", "cthich": "chủ tịch", "pct": "phó chủ tịch",
    "pbt": "phó bí thư", "ctr": "chương trình", "xh": "xã hội", "ktxh": "kinh tế xã hội",
}

# Several everyday meanings: the documents choose (candidates in order of general use, for ties).
AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "hn": ("hà nội", "hội nghị", "hôm nay"),
    "hp": ("hải phòng", "học phần", "học phí", "hạnh phúc"),
    "ct": ("công ty", "chủ tịch", "chương trình"),
    "bt": ("bình thường", "bí thư", "bài tập"),
    "ns": ("nhân sự", "ngân sách", "năng suất"),
    "nd": ("nội dung", "người dùng", "nhân dân"),
    "cn": ("chủ nhật", "chi nhánh", "công nghiệp", "công nghệ", "cá nhân"),
    "kt": ("kinh tế", "kiểm tra", "kỹ thuật", "kế toán"),
    "kh": ("khách hàng", "kế hoạch", "khoa học"),
    "cb": ("cán bộ", "chuẩn bị"),
    "đb": ("đại biểu", "đặc biệt"), "db": ("đại biểu", "đặc biệt"),
    "đk": ("đăng ký", "điều kiện"), "dk": ("đăng ký", "điều kiện"),
    "gđ": ("giám đốc", "gia đình", "giáo dục"), "gd": ("giám đốc", "giáo dục", "gia đình"),
    "đh": ("đại học", "đại hội"), "dh": ("đại học", "đại hội"),
    "dn": ("doanh nghiệp", "đà nẵng"), "đn": ("đà nẵng", "doanh nghiệp"),
    "nv": ("nhân viên", "nhiệm vụ"), "tg": ("thời gian", "tác giả"),
    "dt": ("diện tích", "điện thoại"), "đt": ("điện thoại", "đào tạo"),
    "qđ": ("quyết định", "quy định"), "qd": ("quyết định", "quy định"),
    "tt": ("thông tin", "thủ tướng", "thông tư", "thị trường"),
    "nn": ("nông nghiệp", "nhà nước", "nước ngoài"),
    # administrative: spelled out only where the documents use the phrase
    "đvsn": ("đơn vị sự nghiệp",), "dvsn": ("đơn vị sự nghiệp",),
}
_TOKEN = re.compile(r"[\w\u0300-\u036f]+")


def _no_count(phrase: str) -> int:
    return 0


def expand(question: str, vocab: set[str] | frozenset[str], count: PhraseCount = _no_count) -> str:
    """Replace shorthand tokens absent from `vocab` (normalized document syllables) by their expansion;
    an ambiguous one by the candidate the documents hold (`count`), or not at all.

    >>> expand("NQ 18 TW nói về cái j", vocab={"tw"})
    'nghị quyết 18 TW nói về cái gì'
    >>> expand("ct ubnd la ai", vocab=set(), count=lambda p: {"công ty": 5, "chủ tịch": 1,
    ...                                                          "chủ tịch ủy": 1}.get(p, 0))
    'chủ tịch ủy ban nhân dân la ai'
    """

    def common(m: re.Match[str]) -> str:
        low = normalize(m.group())
        return m.group() if low in vocab else COMMON.get(low, m.group())

    text = _TOKEN.sub(common, question)
    words = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    out, last = [], 0
    for i, (a, b, tok) in enumerate(words):
        low = normalize(tok)
        if low in vocab or low not in AMBIGUOUS:
            continue
        prev = words[i - 1][2] if i > 0 else ""
        nxt = words[i + 1][2] if i + 1 < len(words) else ""
        pick = choose(AMBIGUOUS[low], prev, nxt, count)
        if pick is not None:
            out += [text[last:a], pick]
            last = b
    return "".join(out) + text[last:]


def choose(candidates: tuple[str, ...], prev: str, nxt: str, count: PhraseCount) -> str | None:
    """The candidate the documents hold that best fits its neighbours, else the most frequent; None
    when the documents hold none. Ties keep the table's order.

    >>> choose(("hà nội", "hội nghị"), "", "", {"hội nghị": 3}.get)
    'hội nghị'
    >>> choose(("hà nội", "hội nghị"), "", "", lambda p: 0) is None
    True
    """
    best: tuple[int, int, int] | None = None
    pick = None
    for rank, cand in enumerate(candidates):
        n = count(cand) or 0
        if n <= 0:
            continue
        fits = sum(1 for phrase in (f"{prev} {cand}" if prev else "", f"{cand} {nxt}" if nxt else "")
                   if phrase and (count(phrase) or 0) > 0)
        key = (fits, n, -rank)
        if best is None or key > best:
            best, pick = key, cand
    return pick


def contract(question: str, vocab: set[str] | frozenset[str], has_phrase: Callable[[str], bool]) -> str:
    """Write a spelled-out phrase as the documents' abbreviation when they only use the short form.

    >>> contract("Ai lãnh đạo ủy ban nhân dân?", {"ubnd"}, lambda p: False)
    'Ai lãnh đạo UBND?'
    """
    for short, long in _CONTRACTIONS:
        if short in vocab and not has_phrase(long):
            question = _phrase_pattern(long).sub(short.upper(), question)
    return question


@lru_cache(maxsize=1)
def abbreviations() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(spelled-out phrase, the shorthand a user may type for it), longest phrase first: the tables
    inverted, built once.

    >>> dict(abbreviations())["như thế nào"]
    ('ntn',)
    """
    out: dict[str, list[str]] = {}
    for short, long in COMMON.items():
        out.setdefault(long, []).append(short)
    for short, longs in AMBIGUOUS.items():
        for long in longs:
            out.setdefault(long, []).append(short)
    return tuple(sorted(((k, tuple(v)) for k, v in out.items()), key=lambda kv: -len(kv[0])))


def abbreviate(question: str, pick: Callable[[Sequence[str]], str]) -> str:
    """The question as a chat user may type it: lower-cased, phrases shortened ("như thế nào" → "ntn",
    "hội nghị" → "hn"), no question mark; `pick` chooses among a phrase's abbreviations (a seeded
    `random.Random().choice` when making training variants). Unchanged when no phrase is found.

    >>> abbreviate("Hội nghị có bao nhiêu đại biểu?", lambda options: options[0])
    'hn có bn đb'
    """
    low = normalize(question)
    found = False
    for long, shorts in abbreviations():
        pattern = re.compile(r"(?<!\w)" + re.escape(long) + r"(?!\w)")
        if pattern.search(low):

            def short(_m: re.Match[str], options: tuple[str, ...] = shorts) -> str:
                return pick(options)

            low, found = pattern.sub(short, low), True
    return low.rstrip(" ?") if found else question


@lru_cache(maxsize=256)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Regex matching the phrase with any tone placement or diacritics (compared after folding)."""
    body = r"\s+".join(_folded_class(w) for w in fold(phrase).split())
    return re.compile(r"\b" + body + r"\b", re.IGNORECASE)


def _folded_class(word: str) -> str:
    # each plain letter matches itself with any Vietnamese marks; good enough for phrase lookup
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


# abbreviations of one meaning, three letters or more, for a phrase of two words or more
_CONTRACTIONS: tuple[tuple[str, str], ...] = tuple(
    (k, v) for k, v in [*COMMON.items(), *((k, c[0]) for k, c in AMBIGUOUS.items() if len(c) == 1)]
    if len(v.split()) >= 2 and len(k) >= 3
)
