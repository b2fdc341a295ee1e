"""Example questions for the chat, made from the documents themselves (UI content, Vietnamese).

About the people the documents name most ("<name> giữ chức vụ gì?"), one typed without diacritics
to show that it works, then the documents' short heading-like lines.

>>> from qa.schema import Document
>>> text = "Hội nghị tổng kết năm\\n\\nÔng Lê Văn Thành phát biểu. Ông Lê Văn Thành chủ trì."
>>> doc = Document("a.txt", "A", text, "0" * 64, ((0, 21), (23, len(text))))
>>> example_questions([doc], 3)
['Lê Văn Thành giữ chức vụ gì?', 'Hội nghị tổng kết năm như thế nào?', 'le van thanh giu chuc vu gi?']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import islice

from qa.lang.names import person_names
from qa.lang.text import fold
from qa.schema import Document


def example_questions(documents: Iterable[Document], n: int = 4, scan: int = 50) -> list[str]:
    """Up to `n` distinct questions the first `scan` documents can answer."""
    names: Counter[str] = Counter()
    headings: list[str] = []
    # a few examples need a few documents: reading all of a 100 k-document index per page load would not do
    for doc in islice(documents, scan):
        for s, e in doc.spans:
            block = doc.text[s:e]
            names.update(person_names(block))
            line = block.strip()
            if 12 <= len(line) <= 90 and "\n" not in line and line[-1] not in ".!?…:;,":
                headings.append(line[0].upper() + line[1:] + " như thế nào?")
    people = [f"{name} giữ chức vụ gì?" for name, _ in names.most_common(2)]
    out = people[:1] + headings[:1] + people[1:2]
    if people:  # show off typing without diacritics
        out.append(fold(people[0]))
    out += headings[1:]
    return list(dict.fromkeys(out))[:n]
