"""Answer-phrase and calibration metrics: SQuAD-style exact match / token F1, and reliability bins.

Tokens are the syllables of the lower-cased, NFC text with punctuation removed, so the Vietnamese
F1 is per syllable (as UIT-ViQuAD reports it); a prediction is scored against its best gold answer.

>>> round(token_f1("gần 1000 đại biểu", ["gần 1.000 đại biểu dự hội nghị"]), 3)
0.727
>>> exact_match("Lê Văn Thành.", ["lê văn thành"])
1.0
>>> ece([(0.9, True), (0.9, False), (0.2, False)], bins=10)
0.333333
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

_PUNCT = re.compile(r"[^\w\s]")


def normalize_answer(text: str) -> list[str]:
    """Lower-cased NFC syllables without punctuation ("1.000" → "1000", as SQuAD's script does)."""
    return _PUNCT.sub("", unicodedata.normalize("NFC", text).lower()).split()


def token_f1(pred: str, golds: Sequence[str]) -> float:
    """Best syllable-overlap F1 of `pred` against any gold answer (0.0 when there is none)."""
    p = normalize_answer(pred)
    best = 0.0
    for g in golds:
        t = normalize_answer(g)
        common = sum((Counter(p) & Counter(t)).values())
        if common:
            prec, rec = common / len(p), common / len(t)
            best = max(best, 2 * prec * rec / (prec + rec))
    return best


def exact_match(pred: str, golds: Sequence[str]) -> float:
    """1.0 when `pred` equals a gold answer after normalization."""
    p = normalize_answer(pred)
    return float(any(p == normalize_answer(g) for g in golds))


def reliability(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> list[tuple[float, float, int, float, float]]:
    """Per confidence bin [lo, hi): (lo, hi, n, mean confidence, share correct); empty bins left out."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, ok) for p, ok in pairs if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if inside:
            out.append((lo, hi, len(inside), sum(p for p, _ in inside) / len(inside),
                        sum(ok for _, ok in inside) / len(inside)))
    return out


def ece(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """Expected calibration error: the bin-size-weighted gap between confidence and accuracy."""
    n = len(pairs)
    if not n:
        return 0.0
    return round(sum(k * abs(conf - acc) for _, _, k, conf, acc in reliability(pairs, bins)) / n, 6)
