"""Sentence splitting: abbreviations, numbers, ellipses, quotes, line breaks and over-long sentences."""

from __future__ import annotations

import unicodedata

import pytest

from qa.ingest.cleaning import clean_spans
from qa.lang.sentences import split_sentences
from tests.conftest import SEED


def sents(text: str, **kw: int) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text, **kw)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "TP. Hải Phòng là thành phố cảng. Dân số hơn 2 triệu người.",
            ["TP. Hải Phòng là thành phố cảng.", "Dân số hơn 2 triệu người."],
        ),
        (
            "Tp. Hồ Chí Minh rất rộng. Hà Nội là thủ đô.",
            ["Tp. Hồ Chí Minh rất rộng.", "Hà Nội là thủ đô."],
        ),
        (
            "PGS.TS. Nguyễn Văn An giảng bài. Th.S Trần Bình dự họp.",
            ["PGS.TS. Nguyễn Văn An giảng bài.", "Th.S Trần Bình dự họp."],
        ),
        (
            "GS. Lê Cường, TS. Phạm Dũng và ThS. Vũ Hà đã đến. Hội thảo bắt đầu.",
            ["GS. Lê Cường, TS. Phạm Dũng và ThS. Vũ Hà đã đến.", "Hội thảo bắt đầu."],
        ),
        ("Ông Nguyễn V. An đã đến. Xong.", ["Ông Nguyễn V. An đã đến.", "Xong."]),
        ("Sách, báo, v.v. đều có. Hết.", ["Sách, báo, v.v. đều có.", "Hết."]),
        ("Có sách, báo v.v. Sau đó là vở.", ["Có sách, báo v.v.", "Sau đó là vở."]),
        (
            "Có 1.000 đại biểu và tỷ lệ 3.5 phần trăm. Năm 2018 tăng.",
            ["Có 1.000 đại biểu và tỷ lệ 3.5 phần trăm.", "Năm 2018 tăng."],
        ),
        (
            "Ngày 15/1/2018 ban hành Nghị quyết 19-NQ/TƯ. Nghị quyết 20-NQ/TW cũng vậy.",
            ["Ngày 15/1/2018 ban hành Nghị quyết 19-NQ/TƯ.", "Nghị quyết 20-NQ/TW cũng vậy."],
        ),
        ("Thu ngân sách năm 2017. 70 nghìn tỷ đồng.", ["Thu ngân sách năm 2017.", "70 nghìn tỷ đồng."]),
        ("1. Mục tiêu chung. 2. Nhiệm vụ cụ thể.", ["1. Mục tiêu chung.", "2. Nhiệm vụ cụ thể."]),
        ("II. Kết quả đạt được. Rất tốt.", ["II. Kết quả đạt được.", "Rất tốt."]),
    ],
)
def test_abbreviations_and_numbers(text: str, expected: list[str]) -> None:
    assert sents(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đô thị thông minh… Trong đó có nhiều việc.", ["Đô thị thông minh…", "Trong đó có nhiều việc."]),
        ("Việc khác... Sau đó về.", ["Việc khác...", "Sau đó về."]),
        ("Như dịch vụ…đều tăng. Tốt.", ["Như dịch vụ…đều tăng.", "Tốt."]),
        ("Chờ đợi... rồi đi. Xong.", ["Chờ đợi... rồi đi.", "Xong."]),
        ("Đổi mới tài chính y tế….\n\nTại chương trình", ["Đổi mới tài chính y tế….", "Tại chương trình"]),
        ("Đô thị thông minh…", ["Đô thị thông minh…"]),
    ],
)
def test_ellipses(text: str, expected: list[str]) -> None:
    assert sents(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ông nói: “Làm ngay.” Sau đó về.", ["Ông nói: “Làm ngay.”", "Sau đó về."]),
        ('Anh hỏi "Vậy sao?" Không ai đáp.', ['Anh hỏi "Vậy sao?"', "Không ai đáp."]),
        (
            'Chủ đề "Tăng cường kỷ cương." Hội nghị bế mạc.',
            ['Chủ đề "Tăng cường kỷ cương."', "Hội nghị bế mạc."],
        ),
        ("(Xem phụ lục.) Tiếp theo là mục hai.", ["(Xem phụ lục.)", "Tiếp theo là mục hai."]),
        ("Nghị quyết “về dân số”. Tại chương trình.", ["Nghị quyết “về dân số”.", "Tại chương trình."]),
        ("Tuyệt vời! Thật sao? Đúng vậy.", ["Tuyệt vời!", "Thật sao?", "Đúng vậy."]),
        ("“Đi thôi!” anh nói.", ["“Đi thôi!” anh nói."]),
        ("Nói xong. “Chúng ta đi” là câu cuối.", ["Nói xong.", "“Chúng ta đi” là câu cuối."]),
    ],
)
def test_quotes_brackets_and_marks(text: str, expected: list[str]) -> None:
    assert sents(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tiêu đề không dấu chấm\n\nNội dung bài.", ["Tiêu đề không dấu chấm", "Nội dung bài."]),
        ("dòng một không chấm\n  \ndòng hai", ["dòng một không chấm", "dòng hai"]),
        ("Quang cảnh hội nghị\nĐồng chí phát biểu.", ["Quang cảnh hội nghị", "Đồng chí phát biểu."]),
        ("Một câu bị\nngắt dòng giữa chừng.", ["Một câu bị\nngắt dòng giữa chừng."]),
        ("Mở đầu:\n- Mục một\n- Mục hai", ["Mở đầu:", "- Mục một", "- Mục hai"]),
        ("Câu một.\r\n\r\nCâu hai.\r\n", ["Câu một.", "Câu hai."]),
        ("  \n\n  ", []),
        ("", []),
    ],
)
def test_line_breaks(text: str, expected: list[str]) -> None:
    assert sents(text) == expected


def test_offsets_are_document_offsets_within_range() -> None:
    text = "Bỏ qua. Câu một ở đây. Câu hai. Bỏ qua nữa."
    start = text.index("Câu một")
    end = text.index("Bỏ qua nữa")
    spans = split_sentences(text, start, end)
    assert [text[a:b] for a, b in spans] == ["Câu một ở đây.", "Câu hai."]
    assert spans[0][0] == start


def test_long_seed_list_sentence_is_split_at_semicolons() -> None:
    text = SEED.read_text(encoding="utf-8")
    start = text.index("Theo đó, Thành ủy xác định có 3 nhóm")
    end = text.index("\n", start)
    spans = split_sentences(text, start, end)
    assert [b - a for a, b in spans] == [210, 366, 392, 323, 209]
    assert [text[b - 1] for a, b in spans] == [".", ";", ";", ";", "…"]
    assert all(text[prev[1] : nxt[0]] == " " for prev, nxt in zip(spans, spans[1:], strict=False))


def test_no_seed_sentence_exceeds_max_chars() -> None:
    text = SEED.read_text(encoding="utf-8")
    for max_chars in (400, 150):
        lengths = [b - a for s, e in clean_spans(text) for a, b in split_sentences(text, s, e, max_chars)]
        assert max(lengths) <= max_chars
    assert max(b - a for a, b in split_sentences(text)) == 394


def test_long_sentence_falls_back_to_commas_then_spaces_then_hard_cut() -> None:
    text = ", ".join(f"cụm từ thứ {i}" for i in range(1, 13)) + "."
    spans = split_sentences(text, max_chars=50)
    assert [text[a:b] for a, b in spans] == [
        "cụm từ thứ 1, cụm từ thứ 2, cụm từ thứ 3,",
        "cụm từ thứ 4, cụm từ thứ 5, cụm từ thứ 6,",
        "cụm từ thứ 7, cụm từ thứ 8, cụm từ thứ 9,",
        "cụm từ thứ 10, cụm từ thứ 11, cụm từ thứ 12.",
    ]
    words = " ".join(["chữ"] * 30)
    assert [b - a for a, b in split_sentences(words, max_chars=20)] == [19] * 6
    blob = "x" * 1000
    assert split_sentences(blob, max_chars=400) == [(0, 400), (400, 800), (800, 1000)]


def test_hard_cut_keeps_combining_marks_with_their_letter() -> None:
    blob = unicodedata.normalize("NFD", "ế" * 10)  # 'e' + two marks each: 30 code points
    spans = split_sentences(blob, max_chars=8)
    assert [b - a for a, b in spans] == [6, 6, 6, 6, 6]
    assert "".join(blob[a:b] for a, b in spans) == blob


def test_nfd_text_gives_the_same_sentences() -> None:
    nfc_text = "TP. Hải Phòng đạt 1.000 tỷ. PGS.TS. Lê Văn Thành nói… Đúng vậy!\n\nĐồng chí Bí thư phát biểu."
    nfd_text = unicodedata.normalize("NFD", nfc_text)
    got = [unicodedata.normalize("NFC", nfd_text[a:b]) for a, b in split_sentences(nfd_text)]
    assert got == [
        "TP. Hải Phòng đạt 1.000 tỷ.",
        "PGS.TS. Lê Văn Thành nói…",
        "Đúng vậy!",
        "Đồng chí Bí thư phát biểu.",
    ]


def test_bad_max_chars() -> None:
    with pytest.raises(ValueError, match="max_chars must be >= 1, got 0"):
        split_sentences("Câu.", max_chars=0)


def test_text_without_capitals_is_split_at_full_stops() -> None:
    # lower-cased corpora (UIT-ViQuAD) and chat logs: a full stop before any word ends a sentence
    t = "paris nằm ở điểm gặp nhau. vào thế kỷ 10, paris đã là thành phố chính! từ thế kỷ 12 thì sao? hết"
    assert [t[a:b] for a, b in split_sentences(t)] == [
        "paris nằm ở điểm gặp nhau.", "vào thế kỷ 10, paris đã là thành phố chính!", "từ thế kỷ 12 thì sao?", "hết"]
    # numbers, abbreviations and decimals still do not split
    t = "tp. hcm có 1.000 người và 3.5 triệu xe. pgs.ts. an nói vậy."
    assert [t[a:b] for a, b in split_sentences(t)] == ["tp. hcm có 1.000 người và 3.5 triệu xe.", "pgs.ts. an nói vậy."]
    # in cased text a lowercase word after a full stop still continues the sentence
    t = "Ông An đến lúc 9 giờ s. ngày 12 đi tiếp."
    assert len(split_sentences(t)) == 1
