"""The answer-evidence checks behind abstention (qa.answer.evidence): each fires on its near miss only."""

from __future__ import annotations

import pytest

from qa.answer.answertype import expected_type
from qa.answer.evidence import Lack, missing_evidence, question_numbers, unknown_names

DOC = (
    "Năm 2017, thu ngân sách ước đạt trên 70 nghìn tỷ đồng. Dự hội nghị có hơn 700 đại biểu. "
    "Đồng chí Lê Văn Thành, Bí thư Thành ủy Hải Phòng chủ trì hội nghị. Thành phố có 6 hạn chế. "
    "Khu nông nghiệp công nghệ cao được xây dựng ở huyện An Lão. Tỷ lệ hộ nghèo giảm 5%. "
    "Sắp xếp, sáp nhập các thôn, tổ dân phố chưa đủ tiêu chuẩn."
)


def known(phrase: str) -> bool:
    """Whether the phrase occurs in DOC (case-insensitive), like LexicalIndex.has_phrase."""
    return phrase.lower() in DOC.lower()


def check(question: str, answer: str, vietnamese: bool = True) -> str | None:
    lack = missing_evidence(question, answer, passage=answer, known_phrase=known, vietnamese=vietnamese)
    return None if lack is None else str(lack)


@pytest.mark.parametrize(("question", "answer"), [
    ("Thu ngân sách năm 2017 ước đạt bao nhiêu?", "Năm 2017, thu ngân sách ước đạt trên 70 nghìn tỷ đồng."),
    ("thu ngan sach nam 2017 uoc dat bao nhieu", "Năm 2017, thu ngân sách ước đạt trên 70 nghìn tỷ đồng."),
    ("Có bao nhiêu đại biểu dự hội nghị?", "Dự hội nghị có hơn 700 đại biểu."),
    ("Ai chủ trì hội nghị?", "Đồng chí Lê Văn Thành, Bí thư Thành ủy Hải Phòng chủ trì hội nghị."),
    ("Bí thư Thành ủy Hải Phòng là ai?", "Đồng chí Lê Văn Thành, Bí thư Thành ủy Hải Phòng chủ trì hội nghị."),
    ("Thành phố có mấy hạn chế?", "Thành phố có 6 hạn chế."),
    ("Khu nông nghiệp công nghệ cao ở huyện nào?", "Khu nông nghiệp công nghệ cao được xây dựng ở huyện An Lão."),
    ("Tỷ lệ hộ nghèo giảm bao nhiêu %?", "Tỷ lệ hộ nghèo giảm 5%."),
    ("Tỷ lệ hộ nghèo giảm bao nhiêu phần trăm?", "Tỷ lệ hộ nghèo giảm 5%."),
    ("Hội nghị diễn ra ở đâu?", "Hội nghị diễn ra ở trung tâm thành phố."),  # places need no name
    ("Những ai dự hội nghị?", "Dự hội nghị có hơn 700 đại biểu."),  # a group, not a name
    ("Thôn, tổ dân phố nào sẽ bị sáp nhập?", "Sắp xếp, sáp nhập các thôn, tổ dân phố chưa đủ tiêu chuẩn."),
    ("Who chaired the Hanoi Conference?", "Đồng chí Lê Văn Thành, Bí thư Thành ủy Hải Phòng chủ trì hội nghị."),
])
def test_real_answers_pass(question: str, answer: str) -> None:
    vietnamese = not question.startswith("Who") and question != question.encode("ascii", "ignore").decode()
    assert check(question, answer, vietnamese=vietnamese) is None


@pytest.mark.parametrize(("question", "answer", "reason"), [
    # the year asked about is nowhere in the passage
    ("Thu ngân sách năm 2019 đạt bao nhiêu?", "Năm 2017, thu ngân sách ước đạt trên 70 nghìn tỷ đồng.", "number 2019"),
    # a name the documents never use
    ("Ai là Chủ tịch UBND thành phố Hà Nội?", "Đồng chí Lê Văn Thành, Bí thư Thành ủy Hải Phòng chủ trì hội nghị.",
     "name Hà Nội"),
    # the counted thing is mentioned but not counted
    ("Có bao nhiêu thôn, tổ dân phố bị sáp nhập?", "Sắp xếp, sáp nhập các thôn, tổ dân phố chưa đủ tiêu chuẩn.",
     "count thôn"),
    ("Hội nghị kéo dài bao nhiêu giờ?", "Dự hội nghị có hơn 700 đại biểu.", "count giờ"),
    # a named district is wanted; the sentence only says "district"
    ("Hội nghị tổ chức ở huyện nào?", "Hội nghị được tổ chức ở một huyện ngoại thành.", "named huyện"),
    # the only number in the sentence is the one the question gave
    ("Năm 2017 thu ngân sách bao nhiêu?", "Thu ngân sách năm 2017 tăng mạnh.", "number"),
    # a date is asked; the sentence has none
    ("Tổng Bí thư đến thăm Hải Phòng vào ngày nào?", "Tổng Bí thư đánh giá cao Hải Phòng.", "date"),
    ("Ai chủ trì hội nghị?", "Hội nghị bàn về sắp xếp bộ máy.", "person"),
])
def test_near_misses_name_what_is_missing(question: str, answer: str, reason: str) -> None:
    assert check(question, answer) == reason


def test_unknown_names_skip_the_first_word_and_known_names() -> None:
    assert unknown_names("Hà Nội có bao nhiêu quận?", known) == []  # first word: capitalized anyway
    assert unknown_names("Ai là Bí thư Thành ủy Hải Phòng?", known) == []
    assert unknown_names("Ai là Giám đốc Sở Y tế Hải Phòng?", known) == ["Sở Y"]
    assert unknown_names("Nghị quyết 18 Trung Ương Khóa 12", known) == ["Trung Ương Khóa"]


def test_names_are_not_judged_for_other_languages() -> None:
    q = "Who is the chairman of the Hai Phong People's Committee?"
    assert check(q, "Đồng chí Lê Văn Thành, Bí thư Thành ủy Hải Phòng chủ trì hội nghị.", vietnamese=False) is None


def test_question_numbers() -> None:
    assert question_numbers("Nghị quyết số 18 năm 2017, 19-NQ/TW") == ["18", "2017", "19"]
    assert question_numbers("không có số") == []


def test_english_cue_words_only_open_a_question() -> None:
    assert expected_type("When was the conference held?") == "date"
    assert expected_type("What is the spirit of the committee when carrying out the resolutions?") is None
    assert expected_type("Who chaired the conference?") == "person"
    assert expected_type("Ai chủ trì hội nghị?") == "person"


def test_may_asks_a_number_only_with_its_marks() -> None:
    assert expected_type("Thành phố có mấy hạn chế?") == "number"
    assert expected_type("Ban nào sẽ sắp xếp lại tổ chức bộ máy?") is None  # "máy", a machine


def test_when_needs_no_calendar_date_but_which_day_does() -> None:
    answer = "Các chương trình cần triển khai ngay từ đầu năm."
    assert check("Các chương trình cần triển khai khi nào?", answer) is None
    assert check("Các chương trình triển khai vào ngày nào?", answer) == "date"


@pytest.mark.parametrize(("lack", "message"), [
    (Lack("number", "2019"), "các đoạn liên quan không nhắc đến “2019”"),
    (Lack("name", "Hà Nội"), "tài liệu không nhắc đến “Hà Nội”"),
    (Lack("count", "giờ"), "các đoạn liên quan không nêu số giờ"),
    (Lack("named", "huyện"), "các đoạn liên quan không nêu tên huyện cụ thể"),
    (Lack("person"), "các đoạn liên quan không nêu tên người"),
    (Lack("date"), "các đoạn liên quan không nêu ngày tháng"),
    (Lack("number"), "các đoạn liên quan không nêu con số nào khác với câu hỏi"),
])
def test_lack_explains_itself_in_vietnamese(lack: Lack, message: str) -> None:
    assert lack.message_vi() == message
