"""Reader windows: whole passages when they fit, sentence-aligned cuts when not, the heading first, and
token offsets that point back into the document."""

from __future__ import annotations

from qa.reader.windows import Passage, WindowMaker, lower_same_length, pack
from tests.conftest import FakeTokenizer

TEXT = "Hải Phòng tổ chức hội nghị. Có gần 1000 đại biểu dự. Ông Lê Văn Thành chủ trì hội nghị."
SENTS = ((0, 27), (28, 52), (53, 87))


def test_pack_overlaps_by_one_sentence_and_covers_all() -> None:
    assert pack([5, 6, 7], room=100) == [(0, 2)]
    assert pack([5, 6, 7], room=13) == [(0, 1), (1, 2)]
    assert pack([5, 6, 7], room=7) == [(0, 0), (1, 1), (2, 2)]
    assert pack([20, 3], room=10) == [(0, 0), (1, 1)]  # a sentence longer than the room is cut, not lost
    assert pack([], room=10) == []


def test_a_passage_that_fits_is_one_window_with_document_offsets() -> None:
    maker = WindowMaker(FakeTokenizer(), max_tokens=64, max_question_tokens=8)
    [w] = maker.make("Bao nhiêu đại biểu dự?", Passage(TEXT, SENTS))
    q = len(maker.question_ids("Bao nhiêu đại biểu dự?"))
    assert w.ids[0] == 0 and w.ids[q + 1 : q + 3] == (2, 2) and w.ids[-1] == 2
    assert w.context_start == q + 3 and len(w.ids) == w.context_start + len(w.offsets) + 1
    assert [TEXT[a:b] for a, b in w.offsets][:3] == ["Hải", "Phòng", "tổ"]
    assert w.sentences == (0, 2) and set(w.segments) == {1}


def test_a_long_passage_is_cut_at_sentences() -> None:
    maker = WindowMaker(FakeTokenizer(), max_tokens=18, max_question_tokens=4)
    ws = maker.make("Ai chủ trì?", Passage(TEXT, SENTS))
    assert [w.sentences for w in ws] == [(0, 1), (1, 2)] or [w.sentences for w in ws] == [(0, 0), (1, 1), (2, 2)]
    covered = {o for w in ws for o in w.offsets}
    assert {TEXT[a:b] for a, b in covered} >= {"Hải", "gần", "Thành"}  # every sentence is read
    assert all(len(w.ids) <= 18 for w in ws)


def test_the_heading_comes_first_in_every_window() -> None:
    doc = "# Thư viện quận Lê Chân\n\nMở cửa từ 7 giờ 30. Thủ thư trưởng là bà Phạm Thu Hằng."
    heading = (2, 23)
    sents = ((25, 44), (45, len(doc)))
    maker = WindowMaker(FakeTokenizer(), max_tokens=64)
    [w] = maker.make("Thủ thư trưởng thư viện quận Lê Chân là ai?", Passage(doc, sents, heading))
    words = [doc[a:b] for a, b in w.offsets]
    assert words[:5] == ["Thư", "viện", "quận", "Lê", "Chân"] and words[5] == "Mở"
    assert w.segments[:5] == (0,) * 5 and set(w.segments[5:]) == {1}


def test_lowercasing_keeps_every_offset() -> None:
    s = "ÔNG Lê VĂN THÀNH İ"
    assert len(lower_same_length(s)) == len(s) and lower_same_length(s).startswith("ông lê văn thành")
