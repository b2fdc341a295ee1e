"""Vietnamese personal names: a common family name followed by capitalised given/middle names.

>>> person_names("Đồng chí Lê Văn Thành, Chủ tịch UBND và ông Nguyễn Văn Tùng dự.")
['Lê Văn Thành', 'Nguyễn Văn Tùng']
>>> person_names("Lê Thành phát biểu")  # two syllables are too few to be sure it is a name
[]
"""

from __future__ import annotations

import re

# The most common family names (about 90 % of Vietnamese people carry one of them).
FAMILY_NAMES = (
    "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Trương Mai Trịnh Đoàn Lưu Cao"
).split()
_CANDIDATE = re.compile(rf"\b(?:{'|'.join(FAMILY_NAMES)})(?: [^\W\d_]+){{1,3}}")


def person_names(text: str, min_words: int = 3) -> list[str]:
    """Full names in `text`: a family name and the capitalised syllables after it, `min_words` or more."""
    out = []
    for m in _CANDIDATE.finditer(text):
        words = m.group().split()
        k = next((i for i, w in enumerate(words) if not w[0].isupper()), len(words))
        if k >= min_words:
            out.append(" ".join(words[:k]))
    return out
