"""Follow-up questions resolved against the previous turn, by rules (no language model).

A chat question often leans on the one before it. Three shapes are recognised; anything else is
a stand-alone question and passes through unchanged:

- **ellipsis**: "còn X thì sao?", "thế còn X?", "X thì sao?", "what about X?" — X takes the place
  of the matching part of the previous question (the words they share, widened over a number or
  an abbreviation in the same position), else of a name, a number or a proper noun of the same
  kind, else of the previous question's subject;
- **a person**: "ông ấy", "bà ấy", "người đó", "he", "she" … — the person the previous question
  names, or else the person its answer names;
- **a year, a place or a numbered thing**: "năm đó", "ở đó", "nghị quyết này", "that year" … —
  taken from the previous question, or else from its answer.

>>> resolve("còn phó bí thư thì sao?", ["Bí thư Thành ủy là ai?"]).question
'Phó bí thư Thành ủy là ai?'
>>> resolve("Còn năm 2017 thì sao?", ["Thu ngân sách năm 2016 đạt bao nhiêu?"]).question
'Thu ngân sách năm 2017 đạt bao nhiêu?'
>>> resolve("ông ấy giữ chức vụ gì?", ["Ai chủ trì hội nghị?"],
...         answer_of=lambda q: "Đồng chí Lê Văn Thành chủ trì hội nghị.").question
'Lê Văn Thành giữ chức vụ gì?'
>>> resolve("Hà Nội là thủ đô phải không?", ["Huế ở đâu?"]).followup    # stands alone
False
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.lang.names import person_names
from qa.lang.text import Token, fold, tokenize

MAX_HISTORY = 8  # previous questions taken into account (the API refuses more than 20)

# words that make a question a question: an "X" holding one is a new question, not an ellipsis
_QUESTION_WORDS = frozenset(
    "ai gì nào đâu bao nhiêu mấy sao tại vì what who whom which when where why how".split()
)
_FOLDED_QUESTION_WORDS = frozenset({"ai", "gi", "nao", "dau", "bao", "nhieu", "may"})
# particles and function words: a shared one is no anchor for an ellipsis
_WEAK = frozenset(
    """là của có không được những các và với cho trong ở tại về từ đến theo này đó thì mà hay hoặc
    bị đã sẽ đang rất cũng vì nên để một ra vào ạ à ư nhỉ nhé vậy thế the a an of in on at to is are
    was were and or be""".split()
)
_SUFFIXES: tuple[tuple[str, ...], ...] = (
    ("thì", "sao"), ("thì", "thế", "nào"), ("thì", "ra", "sao"), ("thì", "như", "thế", "nào"),
    ("thế", "nào"), ("ra", "sao"), ("nữa",), ("thì", "sao", "nữa"))
_HONORIFICS = frozenset("ông bà anh chị đồng chí cô chú bác vị".split())
_PERSON_REFS = (("ông", "ấy"), ("bà", "ấy"), ("anh", "ấy"), ("chị", "ấy"), ("cô", "ấy"), ("ông", "ta"),
                ("bà", "ta"), ("người", "đó"), ("người", "ấy"), ("người", "này"), ("đồng", "chí", "ấy"),
                ("đồng", "chí", "đó"), ("vị", "này"), ("vị", "đó"), ("he",), ("she",), ("him",), ("her",))
_YEAR_REFS = (("năm", "đó"), ("năm", "ấy"), ("that", "year"))
_PLACE_REFS = (("ở", "đó"), ("tại", "đó"), ("nơi", "đó"), ("ở", "đấy"), ("there",))
_DEMONSTRATIVES = frozenset({"đó", "ấy", "này", "đấy"})
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class Resolution:
    """The stand-alone question to answer; `previous` is the (resolved) turn it leaned on."""

    question: str
    previous: str | None = None
    kind: str = "standalone"  # standalone | ellipsis | person | year | place | thing

    @property
    def followup(self) -> bool:
        return self.previous is not None


def _is(tok: Token, word: str) -> bool:
    """`tok` is `word`, typed with its diacritics or without any."""
    return tok.norm == word or (tok.norm == tok.folded and tok.folded == fold(word))


def _seq_at(toks: list[Token], i: int, words: Sequence[str]) -> bool:
    return i + len(words) <= len(toks) and all(_is(toks[i + k], w) for k, w in enumerate(words))


def _span(text: str, toks: list[Token], i: int, j: int) -> str:
    """Original text of tokens [i, j)."""
    return text[toks[i].start : toks[j - 1].end] if i < j else ""


def _has_question_word(toks: list[Token]) -> bool:
    return any(t.norm in _QUESTION_WORDS or (t.norm == t.folded and t.folded in _FOLDED_QUESTION_WORDS)
               for t in toks)


def _shape(text: str, t: Token) -> str:
    raw = text[t.start : t.end]
    if raw.isdigit():
        return "number"
    if len(raw) >= 2 and raw.isupper():
        return "abbreviation"
    return "word"


def ellipsis_focus(question: str) -> str | None:
    """X of "còn X thì sao?" / "X thì sao?" / "what about X?", or None when the question is not one.

    >>> ellipsis_focus("con pho bi thu thi sao")
    'pho bi thu'
    >>> ellipsis_focus("Còn bao nhiêu tiền?") is None       # 'còn' as a verb: a question of its own
    True
    """
    toks = tokenize(question)
    i, j = 0, len(toks)
    prefixed = english = False
    if _seq_at(toks, 0, ("thế", "còn")) or _seq_at(toks, 0, ("vậy", "còn")):
        i, prefixed = 2, True
    elif toks and _is(toks[0], "còn"):
        i, prefixed = 1, True
    else:
        english_prefixes: tuple[tuple[str, ...], ...] = (
            ("and", "what", "about"), ("what", "about"), ("how", "about"), ("and", "how", "about"))
        for words in english_prefixes:
            if _seq_at(toks, 0, words):
                i, prefixed, english = len(words), True, True
                break
    suffixed = False
    if not english:
        for words in sorted(_SUFFIXES, key=len, reverse=True):
            if j - len(words) > i and _seq_at(toks, j - len(words), words):
                j, suffixed = j - len(words), True
                break
    if not (prefixed or (suffixed and (i, j) != (0, len(toks)))):
        return None
    if not prefixed and len(toks[i:j]) > 6:
        return None  # "<a long clause> thì sao" is a question of its own
    if english:
        while i < j and toks[i].norm in ("the", "a", "an"):
            i += 1  # "what about the vice secretary" -> "vice secretary"
    focus = toks[i:j]
    if not focus or len(focus) > 8 or _has_question_word(focus):
        return None
    if prefixed and not suffixed and not english and not question.rstrip().endswith("?") and len(focus) > 5:
        return None
    return _span(question, toks, i, j)


def _common_run(a: list[Token], b: list[Token]) -> tuple[int, int, int] | None:
    """(start in a, start in b, length) of the longest run of equal folded tokens that is not all weak words."""
    best: tuple[int, int, int] | None = None
    for i in range(len(a)):
        for j in range(len(b)):
            n = 0
            while i + n < len(a) and j + n < len(b) and a[i + n].folded == b[j + n].folded:
                n += 1
            if n and not all(t.norm in _WEAK for t in a[i : i + n]) and (best is None or n > best[2]):
                best = (i, j, n)
    return best


def _replace(prev: str, start: int, end: int, new: str, decapitalize: bool = False) -> str:
    if decapitalize and start > 0 and new[:1].isupper() and new[1:2].islower() and prev[start : start + 1].islower():
        new = new[0].lower() + new[1:]  # "Năm 2017" began the user's sentence, not a name: "... năm 2017 ..."
    out = prev[:start] + new + prev[end:]
    out = re.sub(r"\s{2,}", " ", out).strip()
    return out[:1].upper() + out[1:]


def _content_runs(toks: list[Token]) -> list[tuple[int, int]]:
    """Maximal runs of tokens that are neither weak words nor question words."""
    runs, i = [], 0
    while i < len(toks):
        if toks[i].norm in _WEAK or _has_question_word([toks[i]]):
            i += 1
            continue
        j = i
        while j < len(toks) and toks[j].norm not in _WEAK and not _has_question_word([toks[j]]):
            j += 1
        runs.append((i, j))
        i = j
    return runs


def _align(focus: str, f: list[Token], prev: str, p: list[Token]) -> str | None:
    """`prev` with only its numbers/abbreviations replaced, when every word of `focus` is found in `prev` in
    order (a few words may lie between) and the rest are numbers in the places of its numbers:
    "chương trình số 51" in "Chương trình hành động số 50 …" -> "Chương trình hành động số 51 …"."""
    at, subs, matched = -1, [], 0
    for t in f:
        nxt = next((j for j in range(at + 1, min(len(p), at + 5)) if p[j].folded == t.folded), None)
        if nxt is not None:
            at, matched = nxt, matched + (t.norm not in _WEAK)
            continue
        shape = _shape(focus, t)
        if shape != "word" and at + 1 < len(p) and _shape(prev, p[at + 1]) == shape and at >= 0:
            at += 1
            subs.append((p[at], focus[t.start : t.end]))
            continue
        return None
    if not subs or not matched:
        return None
    out = prev
    for tok, new in sorted(subs, key=lambda x: -x[0].start):
        out = out[: tok.start] + new + out[tok.end :]
    return out


def substitute(focus: str, prev: str) -> str:
    """`prev` with `focus` in place of the part it stands for (see the module docstring).

    >>> substitute("Nghị quyết số 20", "Nghị quyết số 21-NQ/TƯ về vấn đề gì?")
    'Nghị quyết số 20-NQ/TƯ về vấn đề gì?'
    >>> substitute("Nguyễn Văn Tùng", "Lê Văn Thành giữ chức vụ gì?")
    'Nguyễn Văn Tùng giữ chức vụ gì?'
    >>> substitute("Huế", "Thủ đô của Việt Nam là gì?")
    'Thủ đô của Huế là gì?'
    """
    f, p = tokenize(focus), tokenize(prev)
    if not f or not p:
        return prev
    names_f, names_p = person_names(focus), person_names(prev)
    if names_f and names_p:  # one person for another (shared middle names are no anchor)
        at = prev.index(names_p[0])
        return _replace(prev, at, at + len(names_p[0]), names_f[0])
    aligned = _align(focus, f, prev, p)
    if aligned is not None:
        return aligned
    run = _common_run(f, p)
    if run is not None:
        fi, pi, n = run
        ps, pe = pi, pi + n
        # widen over tokens of the same shape around the anchor: "năm 2017" for "năm 2016"
        k = 1
        while fi - k >= 0 and ps - 1 >= 0 and _shape(focus, f[fi - k]) != "word" and \
                _shape(focus, f[fi - k]) == _shape(prev, p[ps - 1]):
            ps, k = ps - 1, k + 1
        k = 0
        while fi + n + k < len(f) and pe < len(p) and _shape(focus, f[fi + n + k]) != "word" and \
                _shape(focus, f[fi + n + k]) == _shape(prev, p[pe]):
            pe, k = pe + 1, k + 1
        return _replace(prev, p[ps].start, p[pe - 1].end, focus, decapitalize=True)
    nums_f = [t for t in f if _shape(focus, t) == "number"]
    nums_p = [t for t in p if _shape(prev, t) == "number"]
    if nums_f and nums_p:
        return _replace(prev, nums_p[0].start, nums_p[0].end, focus)
    if focus[:1].isupper():
        # a proper noun stands for the previous question's last proper noun
        caps = _last_caps_run(prev, p)
        if caps is not None:
            return _replace(prev, p[caps[0]].start, p[caps[1] - 1].end, focus)
    runs = _content_runs(p)
    if not runs:
        return f"{focus} {prev}"
    # the subject: the first content run, unless the question opens with its question word
    a, b = runs[-1] if _has_question_word(p[:1]) else runs[0]
    return _replace(prev, p[a].start, p[b - 1].end, focus, decapitalize=True)


def _find(toks: list[Token], refs: Sequence[Sequence[str]]) -> tuple[int, int] | None:
    for i in range(len(toks)):
        for words in refs:
            if _seq_at(toks, i, words):
                return i, i + len(words)
    return None


def _person(text: str) -> str | None:
    names = person_names(text)
    return names[0] if names else None


def _year(text: str) -> str | None:
    m = _YEAR.search(text)
    return m.group() if m else None


def _last_caps_run(text: str, toks: list[Token]) -> tuple[int, int] | None:
    """Token range of the last run of capitalised words; a capital on the first word alone is just the
    start of the sentence, but it belongs to a run that goes on ("Hà Nội có …")."""
    caps = [k for k in range(1, len(toks)) if text[toks[k].start].isupper()]
    if not caps:
        return None
    a = b = caps[-1]
    while a - 1 >= 0 and text[toks[a - 1].start].isupper():
        a -= 1
    return a, b + 1


def _place(text: str) -> str | None:
    """The last proper noun of a question (a place: 'Hải Phòng')."""
    toks = tokenize(text)
    run = _last_caps_run(text, toks)
    return None if run is None else _span(text, toks, *run)


def _numbered(prev: str, noun: list[Token], text: str) -> str | None:
    """'Nghị quyết số 20' in `prev` for the noun of 'nghị quyết này' (the noun, then 'số' and a number)."""
    p = tokenize(prev)
    n = len(noun)
    for i in range(len(p) - n + 1):
        if [t.folded for t in p[i : i + n]] == [t.folded for t in noun]:
            j = i + n
            if j < len(p) and p[j].folded == "so":
                j += 1
            if j < len(p) and prev[p[j].start : p[j].end].isdigit():
                return _span(prev, p, i, j + 1)
    return None


def _resolve_reference(question: str, prev: str, answer_of: Callable[[str], str | None] | None) -> Resolution | None:
    toks = tokenize(question)
    cached: list[str | None] = []

    def answer() -> str:
        if answer_of is None:
            return ""
        if not cached:
            cached.append(answer_of(prev))
        return cached[0] or ""

    for kind, refs, find in (("person", _PERSON_REFS, _person), ("year", _YEAR_REFS, _year),
                             ("place", _PLACE_REFS, _place)):
        at = _find(toks, refs)
        if at is None:
            continue
        value = find(prev) or (find(answer()) if kind != "place" else None)
        if kind == "place" and value is None and 0 < len(answer().split()) <= 8:
            value = answer().strip(" .")  # the short answer to "… ở đâu?" is the place
        if not value:
            return None
        i, j = at
        start, end = toks[i].start, toks[j - 1].end
        if kind == "year" and toks[i].folded == "nam":
            value = f"năm {value}"
        elif kind == "place" and toks[i].folded in ("o", "tai") and j - i == 2:
            value = f"{question[start:toks[i].end]} {value}"  # "ở đó" -> "ở Hải Phòng"
        return Resolution(_replace(question, start, end, value), prev, kind)
    # "nghị quyết này", "chương trình đó": a numbered thing of the previous question
    for k in range(1, len(toks)):
        if toks[k].norm in _DEMONSTRATIVES:
            for n in (3, 2, 1):
                if k - n < 0:
                    continue
                noun = toks[k - n : k]
                if any(t.norm in _WEAK or t.norm in _HONORIFICS for t in noun):
                    continue
                value = _numbered(prev, noun, question)
                if value:
                    return Resolution(_replace(question, noun[0].start, toks[k].end, value), prev, "thing")
    return None


def resolve_one(question: str, prev: str, answer_of: Callable[[str], str | None] | None = None) -> Resolution:
    """`question` made stand-alone against the previous (already stand-alone) question `prev`."""
    focus = ellipsis_focus(question)
    if focus is not None:
        return Resolution(substitute(focus, prev), prev, "ellipsis")
    ref = _resolve_reference(question, prev, answer_of)
    return ref if ref is not None else Resolution(question)


def resolve(question: str, history: Sequence[str],
            answer_of: Callable[[str], str | None] | None = None) -> Resolution:
    """Resolve `question` against the conversation so far (previous questions, oldest first).

    Each earlier question is first made stand-alone against its own predecessor, so a chain of
    follow-ups ("Ai chủ trì?" → "ông ấy giữ chức vụ gì?" → "còn Nguyễn Văn Tùng thì sao?") works.
    `answer_of(question)` returns the text that answers a stand-alone question (for "ông ấy" when
    only the answer names the person), or None.
    """
    turns = [h for h in history[-MAX_HISTORY:] if h.strip()]
    if not turns:
        return Resolution(question)
    prev = turns[0]
    for h in turns[1:]:
        prev = resolve_one(h, prev, answer_of).question
    return resolve_one(question, prev, answer_of)
