"""Reading: the best span of a passage becomes exact document offsets (Vietnamese text, a fake network)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa.reader.model import ReaderConfig
from qa.reader.read import Reader, best_span
from qa.reader.windows import Passage
from tests.conftest import FakeTokenizer

TEXT = "Hải Phòng tổ chức hội nghị. Có gần 1000 đại biểu dự. Ông Lê Văn Thành chủ trì hội nghị."
SENTS = ((0, 27), (28, 52), (53, 87))


class FakeSpanNet:
    """Start logit 10 on tokens whose id is `start_id`, end logit 10 on `end_id`, 1 at <s>, else 0."""

    def __init__(self, start_word: str, end_word: str) -> None:
        tok = FakeTokenizer()
        self.start_id = tok(start_word)["input_ids"][0]
        self.end_id = tok(end_word)["input_ids"][0]
        self.calls: list[int] = []

    def __call__(self, ids, mask):  # type: ignore[no-untyped-def]
        import torch

        self.calls.append(int(ids.shape[0]))
        s = torch.where(ids == self.start_id, 10.0, 0.0)
        e = torch.where(ids == self.end_id, 10.0, 0.0)
        s[:, 0] = e[:, 0] = 1.0
        return s, e


def reader(start: str, end: str, max_tokens: int = 64) -> Reader:
    config = ReaderConfig(platt=(0.5, -1.0), max_tokens=max_tokens, lowercase=False)
    return Reader(FakeSpanNet(start, end), FakeTokenizer(), config)


def test_span_becomes_document_offsets() -> None:
    [r] = reader("gần", "biểu").read("Bao nhiêu đại biểu dự?", [Passage(TEXT, SENTS)])
    assert TEXT[r.start : r.end] == "gần 1000 đại biểu"
    assert r.margin == pytest.approx(20.0 - 2.0) and r.null == pytest.approx(2.0)
    assert r.probability == pytest.approx(1 / (1 + math.exp(-(0.5 * 18 - 1))))
    assert r.window == (0, 87)


def test_punctuation_at_the_edges_is_trimmed_and_words_kept_whole() -> None:
    [r] = reader("Thành", "nghị.").read("Ai chủ trì?", [Passage(TEXT, SENTS)])
    assert TEXT[r.start : r.end] == "Thành chủ trì hội nghị"


def test_a_passage_without_the_answer_prefers_no_answer() -> None:
    other = "Sáng nay trời mưa. Đường phố vắng người."
    [r] = reader("gần", "biểu").read("Bao nhiêu đại biểu?", [Passage(other, ((0, 18), (19, 40)))])
    assert r.margin < 0 and r.probability < 0.5


def test_every_window_of_every_passage_in_one_forward() -> None:
    other = "Sáng nay trời mưa. Hội nghị có gần 500 đại biểu dự."
    r = reader("gần", "biểu", max_tokens=20)
    many = r.read("Bao nhiêu đại biểu dự?", [Passage(TEXT, SENTS), Passage(other, ((0, 18), (19, 51))),
                                             Passage(other, ())])
    assert len(r.net.calls) == 1 and r.net.calls[0] >= 3  # the long passage took several windows
    assert TEXT[many[0].start : many[0].end] == "gần 1000 đại biểu"
    assert other[many[1].start : many[1].end] == "gần 500 đại biểu"
    assert many[2].start == many[2].end and many[2].margin == -math.inf  # nothing to read
    assert r.read("q", []) == []


def test_best_span_respects_order_length_and_segments() -> None:
    s = np.array([0.0, 0.0, 5.0, 0.0, 9.0])
    e = np.array([0.0, 7.0, 0.0, 6.0, 0.0])
    seg = np.ones(5, dtype=int)
    assert best_span(s, e, seg, max_len=10) == (2, 3, 11.0)  # the end may not come before the start
    assert best_span(s, e, seg, max_len=1)[:2] == (4, 4)
    assert best_span(s, e, np.array([1, 1, 1, 0, 0]), max_len=10)[:2] == (4, 4)  # no span across segments
