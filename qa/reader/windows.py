"""Reader inputs: a question and a passage (its heading first), tokenized with offsets back into the document.

A passage is read whole when it fits in `max_tokens` (question and special tokens included): the
reader then sees every sentence around the answer, so a question may lean on the previous sentence
or on the heading. A longer passage is cut into windows of whole sentences that overlap by one
sentence. The passage's heading (when it is not inside the passage already) comes first in every
window: "Thủ thư trưởng thư viện quận Lê Chân là ai?" needs the heading "Thư viện quận Lê Chân" as
much as the sentence "Thủ thư trưởng là bà Phạm Thu Hằng." Every token keeps its character span in
the document, so a predicted token span becomes document offsets exactly (qa.reader.read).

>>> lower_same_length("Ông AN İ")  # 'İ'.lower() is two characters: kept as it is
'ông an İ'
>>> pack([5, 6, 7, 3], room=13)   # sentences (first, last) per window, neighbours overlapping by one
[(0, 1), (1, 2), (2, 3)]
>>> pack([5, 6], room=20), pack([5, 6, 20], room=13)
([(0, 1)], [(0, 1), (2, 2)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Span = tuple[int, int]


def lower_same_length(text: str) -> str:
    """Lower-case character by character, leaving any character whose lower case is longer."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


@dataclass(frozen=True)
class Passage:
    """What the reader reads: sentences of a document's text, and an optional heading span before them."""

    text: str  # the whole document text (offsets index it)
    sentences: tuple[Span, ...]
    heading: Span | None = None  # a heading elsewhere in `text` that the passage sits under


@dataclass(frozen=True)
class Window:
    """A reader input: token ids and, per context token, its document offsets."""

    ids: tuple[int, ...]  # <s> question </s></s> [heading] sentences </s>
    context_start: int  # index of the first context token in `ids`
    offsets: tuple[Span, ...]  # document (start, end) of each context token
    segments: tuple[int, ...]  # per context token: 0 heading, 1 passage (a span never crosses them)
    sentences: Span  # indices of the first and last passage sentence inside (last possibly cut)


@dataclass(frozen=True)
class Tokenized:
    """A passage's sentences (and heading), each tokenized once: ids and document offsets."""

    ids: tuple[tuple[int, ...], ...]
    offsets: tuple[tuple[Span, ...], ...]
    heading_ids: tuple[int, ...] = ()
    heading_offsets: tuple[Span, ...] = ()


def pack(lengths: Sequence[int], room: int) -> list[Span]:
    """Greedy windows of consecutive sentences within `room` tokens, each starting at the previous
    window's last sentence (one sentence of overlap) when it and the next one fit together."""
    out: list[Span] = []
    i, n = 0, len(lengths)
    while i < n:
        used, j = lengths[i], i
        while j + 1 < n and used + lengths[j + 1] <= room:
            j += 1
            used += lengths[j]
        out.append((i, j))
        if j == n - 1:
            break
        # overlap by one sentence, unless that sentence would make a window of its own
        i = j if j > i and lengths[j] + lengths[j + 1] <= room else j + 1
    return out


class WindowMaker:
    """Builds windows with one tokenizer and one set of limits (shared by training and reading)."""

    def __init__(self, tokenizer: Any, max_tokens: int = 320, max_question_tokens: int = 40,
                 lowercase: bool = False, max_heading_tokens: int = 24) -> None:
        self.tok = tokenizer
        self.max_tokens, self.max_question_tokens = max_tokens, max_question_tokens
        self.lowercase, self.max_heading_tokens = lowercase, max_heading_tokens

    def _text(self, s: str) -> str:
        return lower_same_length(s) if self.lowercase else s

    def question_ids(self, question: str) -> list[int]:
        return list(self.tok(self._text(question), add_special_tokens=False)["input_ids"][: self.max_question_tokens])

    def tokenize(self, passage: Passage) -> Tokenized:
        """Token ids and document offsets of every sentence (one tokenizer call for all of them)."""
        spans = list(passage.sentences) + ([passage.heading] if passage.heading else [])
        if not spans:
            return Tokenized((), ())
        enc = self.tok([self._text(passage.text[a:b]) for a, b in spans], add_special_tokens=False,
                       return_offsets_mapping=True)
        ids = [tuple(x) for x in enc["input_ids"]]
        offs = [tuple((a + s, a + e) for s, e in o) for (a, _), o in zip(spans, enc["offset_mapping"], strict=True)]
        if passage.heading:
            h = self.max_heading_tokens
            return Tokenized(tuple(ids[:-1]), tuple(offs[:-1]), ids[-1][:h], offs[-1][:h])
        return Tokenized(tuple(ids), tuple(offs))

    def windows(self, qids: Sequence[int], tokens: Tokenized) -> list[Window]:
        """The windows covering every sentence of a tokenized passage, for a question's token ids."""
        room = self.max_tokens - len(qids) - 4 - len(tokens.heading_ids)  # <s> q </s></s> ... </s>
        if not tokens.ids or room < 1:
            return []
        cls, sep = self.tok.cls_token_id, self.tok.sep_token_id
        head = (cls, *qids, sep, sep)
        out = []
        for i, j in pack([len(x) for x in tokens.ids], room):
            ids = [t for k in range(i, j + 1) for t in tokens.ids[k]][:room]
            offs = [o for k in range(i, j + 1) for o in tokens.offsets[k]][:room]
            segments = (0,) * len(tokens.heading_ids) + (1,) * len(ids)
            out.append(Window((*head, *tokens.heading_ids, *ids, sep), len(head),
                              (*tokens.heading_offsets, *offs), segments, (i, j)))
        return out

    def make(self, question: str, passage: Passage) -> list[Window]:
        """`windows` from raw text: tokenizes the question and the passage."""
        return self.windows(self.question_ids(question), self.tokenize(passage))
