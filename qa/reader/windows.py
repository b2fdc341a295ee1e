"""Reader inputs: a question and a window of sentences, tokenized with offsets back into the document.

A window is one candidate sentence, with its neighbours added (previous first, then next) while the
question and the window fit in `max_tokens`. Every token keeps its character span in the document,
so a predicted token span becomes document offsets exactly (qa.reader.read).

>>> lower_same_length("Ông AN İ")  # 'İ'.lower() is two characters: kept as it is
'ông an İ'
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
class Window:
    """A reader input: token ids and, per window token, its document offsets."""

    ids: tuple[int, ...]  # <s> question </s></s> window </s>
    context_start: int  # index of the first window token in `ids`
    offsets: tuple[Span, ...]  # document (start, end) of each window token
    span: Span  # the window's document range
    sentence: Span  # the candidate sentence the window was built around


def window_span(sentences: Sequence[Span], i: int, lengths: Sequence[int], room: int, context: int) -> Span:
    """Sentence i plus up to `context` neighbours on each side (previous first) that fit in `room` tokens."""
    lo = hi = i
    room -= lengths[i]
    for step in range(1, context + 1):
        for j in (i - step, i + step):
            if 0 <= j < len(sentences) and lengths[j] + 1 <= room and (j == lo - 1 or j == hi + 1):
                room -= lengths[j] + 1
                lo, hi = min(lo, j), max(hi, j)
    return sentences[lo][0], sentences[hi][1]


class WindowMaker:
    """Builds windows with one tokenizer and one set of limits (shared by training and reading)."""

    def __init__(self, tokenizer: Any, max_tokens: int = 160, max_question_tokens: int = 40,
                 lowercase: bool = True, context: int = 1) -> None:
        self.tok = tokenizer
        self.max_tokens, self.max_question_tokens = max_tokens, max_question_tokens
        self.lowercase, self.context = lowercase, context

    def _text(self, s: str) -> str:
        return lower_same_length(s) if self.lowercase else s

    def question_ids(self, question: str) -> list[int]:
        return list(self.tok(self._text(question), add_special_tokens=False)["input_ids"][: self.max_question_tokens])

    def sentence_lengths(self, text: str, sentences: Sequence[Span]) -> list[int]:
        """Token count of each sentence (to decide which neighbours fit)."""
        enc = self.tok([self._text(text[a:b]) for a, b in sentences], add_special_tokens=False)
        return [len(ids) for ids in enc["input_ids"]]

    def make(self, qids: list[int], text: str, sentences: Sequence[Span], i: int,
             lengths: Sequence[int] | None = None) -> Window:
        """The window around sentence i of `text` (a document), for a question's token ids."""
        room = self.max_tokens - len(qids) - 4  # <s> q </s> </s> w </s>
        lengths = lengths if lengths is not None else self.sentence_lengths(text, sentences)
        a, b = window_span(sentences, i, lengths, room, self.context)
        enc = self.tok(self._text(text[a:b]), add_special_tokens=False, return_offsets_mapping=True)
        wids, offs = enc["input_ids"][:room], enc["offset_mapping"][:room]
        cls, sep = self.tok.cls_token_id, self.tok.sep_token_id
        ids = (cls, *qids, sep, sep, *wids, sep)
        offsets = tuple((a + s, a + e) for s, e in offs)
        covered = (offsets[0][0], offsets[-1][1]) if offsets else (a, a)
        return Window(ids, len(qids) + 3, offsets, covered, sentences[i])
