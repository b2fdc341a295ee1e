"""Reader windows: which neighbours fit, and token offsets that point back into the document."""

from __future__ import annotations

from qa.reader.windows import WindowMaker, lower_same_length, window_span
from tests.conftest import FakeTokenizer

TEXT = "Hải Phòng tổ chức hội nghị. Có gần 1000 đại biểu dự. Ông Lê Văn Thành chủ trì hội nghị."
SENTS = [(0, 27), (28, 52), (53, 87)]


def test_neighbours_join_while_they_fit() -> None:
    lengths = [5, 6, 7]
    assert window_span(SENTS, 1, lengths, room=100, context=1) == (0, 87)
    assert window_span(SENTS, 1, lengths, room=12, context=1) == (0, 52)  # the previous sentence comes first
    assert window_span(SENTS, 1, lengths, room=6, context=1) == (28, 52)
    assert window_span(SENTS, 0, lengths, room=100, context=0) == (0, 27)


def test_window_tokens_map_to_document_offsets() -> None:
    maker = WindowMaker(FakeTokenizer(), max_tokens=40, max_question_tokens=8, lowercase=True, context=1)
    qids = maker.question_ids("Bao nhiêu đại biểu dự?")
    w = maker.make(qids, TEXT, SENTS, 1)
    assert w.ids[0] == 0 and w.ids[len(qids) + 1 : len(qids) + 3] == (2, 2) and w.ids[-1] == 2
    assert w.context_start == len(qids) + 3
    assert len(w.ids) == w.context_start + len(w.offsets) + 1
    assert [TEXT[a:b] for a, b in w.offsets][:3] == ["Hải", "Phòng", "tổ"]  # the previous sentence fits
    assert w.sentence == (28, 52) and w.span == (0, 87)


def test_long_windows_are_cut_to_the_token_budget() -> None:
    maker = WindowMaker(FakeTokenizer(), max_tokens=12, max_question_tokens=4, lowercase=False, context=1)
    qids = maker.question_ids("một hai ba bốn năm sáu bảy")
    assert len(qids) == 4
    w = maker.make(qids, TEXT, SENTS, 2)
    assert len(w.ids) == 12 and w.span[0] == 53  # no room for a neighbour; the sentence itself is cut


def test_lowercasing_keeps_every_offset() -> None:
    s = "ÔNG Lê VĂN THÀNH İ"
    assert len(lower_same_length(s)) == len(s) and lower_same_length(s).startswith("ông lê văn thành")
