"""Reading: the best span of a window becomes exact document offsets (Vietnamese text, a fake network)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa.reader.model import ReaderConfig
from qa.reader.read import Reader, best_span, trim_to_word
from tests.conftest import FakeTokenizer

TEXT = "Hải Phòng tổ chức hội nghị. Có gần 1000 đại biểu dự. Ông Lê Văn Thành chủ trì hội nghị."
SENTS = [(0, 27), (28, 52), (53, 87)]


class FakeSpanNet:
    """Start logit 10 on tokens whose id is `start_id`, end logit 10 on `end_id`, 1 at <s>, else 0."""

    def __init__(self, start_word: str, end_word: str) -> None:
        tok = FakeTokenizer()
        self.start_id = tok(start_word)["input_ids"][0]
        self.end_id = tok(end_word)["input_ids"][0]

    def __call__(self, ids, mask):
        import torch

        s = torch.where(ids == self.start_id, 10.0, 0.0)
        e = torch.where(ids == self.end_id, 10.0, 0.0)
        s[:, 0] = e[:, 0] = 1.0
        return s, e


def reader(start: str, end: str, **cfg) -> Reader:
    config = ReaderConfig(platt=(0.5, -1.0), max_tokens=40, lowercase=False, **cfg)
    return Reader(FakeSpanNet(start, end), FakeTokenizer(), config)


def test_span_becomes_document_offsets() -> None:
    [r] = reader("gần", "biểu").read("Bao nhiêu đại biểu dự?", TEXT, SENTS, [1])
    assert TEXT[r.start : r.end] == "gần 1000 đại biểu"
    assert r.sentence == (28, 52)
    assert r.margin == pytest.approx(20.0 - 2.0)
    assert r.probability == pytest.approx(1 / (1 + math.exp(-(0.5 * 18 - 1))))


def test_punctuation_at_the_edges_is_trimmed() -> None:
    [r] = reader("Thành", "nghị.").read("Ai chủ trì?", TEXT, SENTS, [2])
    assert TEXT[r.start : r.end] == "Thành chủ trì hội nghị"


def test_a_window_without_the_answer_prefers_no_answer() -> None:
    r0, r2 = reader("gần", "biểu", context_sentences=0).read("Bao nhiêu đại biểu?", TEXT, SENTS, [0, 2])
    assert r0.margin == pytest.approx(0.0 - 2.0) and r2.margin == pytest.approx(-2.0)
    assert r0.probability < 0.5
    assert reader("gần", "biểu").read("q", TEXT, SENTS, []) == []


def test_best_span_respects_order_and_length() -> None:
    s = np.array([0.0, 0.0, 5.0, 0.0, 9.0])
    e = np.array([0.0, 7.0, 0.0, 6.0, 0.0])
    assert best_span(s, e, 1, 4, max_len=10) == (2, 3, 11.0)  # the end may not come before the start
    assert best_span(s, e, 1, 4, max_len=1)[:2] == (4, 4)


def test_trim_to_word() -> None:
    assert trim_to_word("«Hà Nội», ", 0, 10) == (1, 7)
    assert trim_to_word("...", 0, 3) == (3, 3)


def test_read_many_is_one_forward_with_each_passage_own_offsets() -> None:
    other = "Sáng nay trời mưa. Hội nghị có gần 500 đại biểu dự."
    other_sents = [(0, 18), (19, 51)]
    calls: list[int] = []
    r = reader("gần", "biểu")
    net = r.net

    def counting(ids, mask):  # type: ignore[no-untyped-def]
        calls.append(int(ids.shape[0]))
        return net(ids, mask)

    r.net = counting
    many = r.read_many("Bao nhiêu đại biểu dự?", [(TEXT, SENTS, [1, 2]), (other, other_sents, []),
                                                  (other, other_sents, [1])])
    assert calls == [3]  # three windows of two passages, one batch
    assert [len(x) for x in many] == [2, 0, 1]
    assert TEXT[many[0][0].start : many[0][0].end] == "gần 1000 đại biểu"
    assert other[many[2][0].start : many[2][0].end] == "gần 500 đại biểu"
    r.net = net
    assert many[0] == r.read("Bao nhiêu đại biểu dự?", TEXT, SENTS, [1, 2])
    assert many[2] == r.read("Bao nhiêu đại biểu dự?", other, other_sents, [1])
    assert r.read_many("q", [(TEXT, SENTS, [])]) == [[]]
