"""Example questions for the chat, made from the documents themselves (UI content, Vietnamese).

About the people the documents name most ("<name> giữ chức vụ gì?"), one typed without diacritics
to show that it works, then what the documents define ("<X> là gì?" from a sentence that starts
"<X> là …"). Headings (Markdown `#` lines or short title-like lines) never become questions: a
heading is a topic, and "<heading> như thế nào?" reads as nonsense more often than not.

>>> from qa.schema import Document
>>> text = ("# Hội nghị tổng kết năm\\n\\nÔng Lê Văn Thành phát biểu. Ông Lê Văn Thành chủ trì.\\n\\n"
...         "Hải Phòng là thành phố cảng lớn ở miền Bắc.")
>>> spans = ((0, 23), (25, 78), (80, len(text)))
>>> example_questions([Document("a.md", "A", text, "0" * 64, spans)], 4)
['Lê Văn Thành giữ chức vụ gì?', 'Hải Phòng là gì?', 'le van thanh giu chuc vu gi?']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from itertools import islice

from qa.lang.names import person_names
from qa.lang.sentences import split_sentences
from qa.lang.text import fold
from qa.schema import Document

MARKDOWN_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+\S", re.MULTILINE)
# "<subject> là <…>": the subject 1–5 words, capitalised, no digits or punctuation
_DEFINES = re.compile(r"^([^\W\d_]+(?: [^\W\d_]+){0,4}) là (.+)$")
_NOT_SUBJECT = {"đây", "đó", "điều", "đồng", "ông", "bà", "anh", "chị", "việc", "nay", "hiện", "mục"}
_PERSON_PREDICATE = re.compile(r"^(một )?(nhà|người|ông|bà|nhạc sĩ|nhà văn|danh nhân|vị)\b")


def _definition(sentence: str) -> str | None:
    """'<X> là gì?' (or 'là ai?' when the predicate names a person) for a defining sentence, else None.

    >>> _definition("Nikola Tesla là một nhà phát minh người Serbia.")
    'Nikola Tesla là ai?'
    >>> _definition("Đây là kết quả quan trọng.") is None
    True
    """
    m = _DEFINES.match(sentence.strip())
    if m is None or not m.group(1)[0].isupper() or m.group(1).split()[0].lower() in _NOT_SUBJECT:
        return None
    who = _PERSON_PREDICATE.match(m.group(2).lower())
    return f"{m.group(1)} là {'ai' if who else 'gì'}?"


def example_questions(documents: Iterable[Document], n: int = 4, scan: int = 50) -> list[str]:
    """Up to `n` distinct questions the first `scan` documents can answer."""
    names: Counter[str] = Counter()
    defined: list[str] = []
    # a few examples need a few documents: reading all of a 100 k-document index per page load would not do
    for doc in islice(documents, scan):
        for s, e in doc.spans:
            block = doc.text[s:e]
            if MARKDOWN_HEADING.match(block):
                block = block.split("\n", 1)[1] if "\n" in block else ""  # the heading line is no text
            names.update(person_names(block))
            if "\n" not in block.strip():  # a paragraph, not a heading-like line or a list
                sentences = split_sentences(block)
                first = block[sentences[0][0]:sentences[0][1]] if sentences else ""
                if first.endswith((".", "!", "…")) and (q := _definition(first)):
                    defined.append(q)
    people = [f"{name} giữ chức vụ gì?" for name, _ in names.most_common(2)]
    out = people[:1] + defined[:1] + people[1:2]
    if people:  # show off typing without diacritics
        out.append(fold(people[0]))
    out += defined[1:]
    return list(dict.fromkeys(out))[:n]
