"""Vietnamese text normalization for matching; offsets always stay in the original.

>>> fold("Đồng chí Bí thư")
'dong chi bi thu'
>>> normalize("Thành uỷ HOÀ")
'thành ủy hòa'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Word characters plus combining marks, so NFD input still yields whole syllables.
_WORD = re.compile(r"[\w\u0300-\u036f]+")
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền sắc ngã hỏi nặng
_VOWELS = set("aăâeêioôơuưy")
_PRIORITY = set("ăâêôơư")  # a vowel carrying a hat, horn or breve always takes the tone


def nfc(text: str) -> str:
    """Unicode NFC: `nfc("e\\u0301") == "é"`."""
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=65536)
def _retone_syllable(syl: str) -> str:
    """Put the tone mark of one lowercase NFC syllable in its traditional place ('hoà' -> 'hòa')."""
    decomposed = unicodedata.normalize("NFD", syl)
    tones = [c for c in decomposed if c in _TONES]
    if not tones:
        return syl
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    # vowel cluster positions in the toneless base
    idx = [i for i, c in enumerate(base) if c in _VOWELS]
    if not idx:
        return syl
    # 'qu' and 'gi' + vowel: the u / i belongs to the consonant
    if len(idx) > 1 and idx[0] == 1 and base[0] in "qg" and base[1] in ("u" if base[0] == "q" else "i"):
        idx = idx[1:]
    first = idx[0]
    cluster = [first]
    while cluster[-1] + 1 < len(base) and base[cluster[-1] + 1] in _VOWELS:
        cluster.append(cluster[-1] + 1)
    # the last marked vowel wins: 'ươ' takes the tone on 'ơ' (người)
    target = next((i for i in reversed(cluster) if base[i] in _PRIORITY), None)
    if target is None:
        if len(cluster) == 1:
            target = cluster[0]
        elif len(cluster) == 2:
            ends_open = cluster[-1] == len(base) - 1
            target = cluster[0] if ends_open else cluster[1]
        else:
            target = cluster[1]
    out = base[: target + 1] + tones[0] + base[target + 1 :]
    return unicodedata.normalize("NFC", out)


def normalize(text: str) -> str:
    """Lowercase NFC with one tone placement per syllable: `normalize("Uỷ") == "ủy"`."""
    text = nfc(text).lower()
    return _WORD.sub(lambda m: _retone_syllable(m.group()), text)


_FOLD_TABLE = str.maketrans({"đ": "d", "Đ": "D"})


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    stripped = "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))
    return stripped.translate(_FOLD_TABLE)


def fold(text: str) -> str:
    """Lowercase, without diacritics, đ -> d: `fold("Hải Phòng") == "hai phong"`."""
    return _WORD.sub(lambda m: _fold_word(m.group()), nfc(text).lower())


def has_diacritics(text: str) -> bool:
    """True when any letter carries a Vietnamese mark: `has_diacritics("ha noi") is False`."""
    low = nfc(text).lower()
    return fold(low) != low


@dataclass(frozen=True)
class Token:
    """One syllable: offsets into the original string, normalized and folded forms."""

    start: int
    end: int
    norm: str
    folded: str


@lru_cache(maxsize=262144)
def _norm_fold(word: str) -> tuple[str, str]:
    # a corpus repeats a few thousand syllables millions of times: normalize each one once
    norm = normalize(word)
    return norm, _fold_word(norm)


def tokenize(text: str) -> list[Token]:
    """Split on Unicode word characters: `[t.norm for t in tokenize("Hoà bình!")] == ['hòa', 'bình']`."""
    out = []
    for m in _WORD.finditer(text):
        norm, folded = _norm_fold(m.group())
        if folded:  # a stray combining mark alone is no word
            out.append(Token(m.start(), m.end(), norm, folded))
    return out


def terms(text: str, folded: bool = False) -> list[str]:
    """Normalized (or folded) syllables of a text, in order (the forms `tokenize` gives, without offsets)."""
    k = 1 if folded else 0
    return [nf[k] for w in _WORD.findall(text) if (nf := _norm_fold(w))[1]]


# A folded Vietnamese syllable: an optional onset, one to three vowels (the semivowel endings -i -y -o -u
# among them) and an optional final consonant. English words mostly fail it ("who", "chaired").
_SYLLABLE = re.compile(r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ng|nh|ch|[cmnpt])?")


def vietnamese_share(text: str) -> float:
    """Share of a text's words that look Vietnamese: typed with diacritics or shaped like a syllable.
    Numbers, acronyms (UBND) and capitalized words after the first (names: Roosevelt, Hai Phong) do
    not count; 1.0 when no word counts. Tells an English question from one typed without diacritics.

    >>> vietnamese_share("Ai chu tri hoi nghi?"), vietnamese_share("Who chaired the Party conference?")
    (1.0, 0.25)
    >>> vietnamese_share("Franklin Delano Roosevelt là ai?")
    0.6666666666666666
    """
    words = []
    for i, t in enumerate(tokenize(text)):
        typed = text[t.start:t.end]
        if t.folded.isdigit() or (len(typed) > 1 and typed.isupper()) or (i > 0 and typed[0].isupper()):
            continue
        words.append(t.norm != t.folded or _SYLLABLE.fullmatch(t.folded) is not None)
    return sum(words) / len(words) if words else 1.0


_VOWEL = re.compile("[aeiouy]")
MIN_VIETNAMESE = 0.5  # below this share of Vietnamese-looking words a question is taken as English


def looks_english(text: str) -> bool:
    """True when under half of a text's words look Vietnamese. Judged on the words' folded shapes, so a
    question and its diacritics-restored copy (restoration can put accents on English words) are
    judged alike; names, numbers, acronyms and vowel-less shorthand (nd, tp, bn) do not count.

    >>> looks_english("Who chaired the Party conference?"), looks_english("Whó chảired thé Party conférence?")
    (True, True)
    >>> looks_english("thu nd 2016 bn"), looks_english("James W. Gerard là ai?"), looks_english("ctich ubnd tp la ai")
    (False, False, False)
    """
    words = []
    for i, t in enumerate(tokenize(text)):
        typed = text[t.start:t.end]
        if (t.folded.isdigit() or (len(typed) > 1 and typed.isupper()) or (i > 0 and typed[0].isupper())
                or not _VOWEL.search(t.folded)):
            continue
        words.append(_SYLLABLE.fullmatch(t.folded) is not None)
    return bool(words) and sum(words) / len(words) < MIN_VIETNAMESE


def trim_span(text: str, a: int, b: int) -> tuple[int, int]:
    """Shrink [a, b) past surrounding whitespace: `trim_span("  ab ", 0, 5) == (2, 4)`."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b
