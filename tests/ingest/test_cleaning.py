"""Cleaning: print headers, trailing site furniture and repeated captions, as offsets."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.cleaning import clean_spans, removed_spans
from tests.conftest import SEED

PARA = (
    "Hội nghị cán bộ chủ chốt thành phố diễn ra tại Cung Văn hóa Lao động hữu nghị Việt Tiệp với gần "
    "1000 đại biểu tham dự, bàn về kế hoạch thực hiện các nghị quyết của Trung ương trong năm 2018 và "
    "những năm tiếp theo của nhiệm kỳ."
)


def kept(text: str) -> list[str]:
    return [text[a:b] for a, b in clean_spans(text)]


def removed(text: str) -> list[str]:
    return [text[a:b] for a, b in removed_spans(text)]


def test_seed_removed_lines() -> None:
    text = SEED.read_text(encoding="utf-8")
    lines = text.split("\n")
    expected = [
        lines[0],  # print header
        lines[10],  # caption copy with tabs
        lines[16],  # caption copy with a lowercase first letter
        lines[23],  # caption repeated
        lines[38],  # "Quang cảnh hội nghị" repeated
        lines[52],  # "Hải Phòng đang rộng, dài, rực sáng" repeated
        *lines[62:70],  # site furniture after the article
    ]
    assert removed(text) == expected
    assert lines[0] == "Print Thứ Bảy, 26/01/2019 16:27"
    assert lines[62:64] == ["Tiện ích thông tin", "Nguồn tin"]
    assert lines[69] == "Tin khác"


def test_seed_kept_blocks() -> None:
    text = SEED.read_text(encoding="utf-8")
    blocks = kept(text)
    assert len(blocks) == 26
    assert blocks[0].startswith("Ngày 15/1, tại Cung Văn hóa")
    assert blocks[-1] == "Báo Hải Phòng 15/1/2018"  # the source line closes the article and is kept
    assert (
        "Đồng chí Lê Văn Thành, Ủy viên Trung ương Đảng, Bí thư Thành ủy, Chủ tịch HĐND thành phố phát "
        "biểu chỉ đạo hội nghị. Ảnh: Duy Lê" in blocks
    )
    assert "Đồng chí Nguyễn Thị Nghĩa, Phó Bí thư Thường trực Thành ủy phát biểu tại hội nghị" in blocks
    assert blocks.count("Quang cảnh hội nghị") == 1
    assert blocks.count("Hải Phòng đang rộng, dài, rực sáng") == 1
    assert not any("\t" in b for b in blocks)


def test_spans_are_trimmed_ordered_and_disjoint() -> None:
    text = SEED.read_text(encoding="utf-8")
    spans = clean_spans(text)
    assert all(a < b for a, b in spans)
    assert all(p[1] < n[0] for p, n in zip(spans, spans[1:], strict=False))
    assert all(not text[a].isspace() and not text[b - 1].isspace() for a, b in spans)
    assert clean_spans(" a ") == ((1, 2),)
    assert clean_spans("") == ()
    assert clean_spans("\n \n\t\n") == ()


@pytest.mark.parametrize(
    "header",
    [
        "Print Thứ Hai, 03/02/2020 08:15",
        "In bài",
        "Bản in",
        "In bài - Thứ năm, 3/2/2020 | 08:15 GMT+7",
        "Print",
        "PRINT Saturday, 26/01/2019 16:27",
    ],
)
def test_print_header_at_top_is_removed(header: str) -> None:
    text = f"{header}\n\n{PARA}"
    assert kept(text) == [PARA]
    assert removed(text) == [header]


@pytest.mark.parametrize(
    "text",
    [
        "In ấn là ngành công nghiệp lớn.\n\nNội dung.",  # starts with "In" but is a sentence
        "Thứ Bảy, 26/01/2019 16:27\n\nNội dung.",  # a date line without a print word
        "Nội dung.\n\nPrint Thứ Bảy, 26/01/2019 16:27\n\nNội dung tiếp.",  # not at the top
    ],
)
def test_print_header_rule_keeps_real_text(text: str) -> None:
    assert removed_spans(text) == ()


def test_header_lines_only_at_the_very_top() -> None:
    text = f"In bài\nBản in\n{PARA}\n\nIn bài\n\n{PARA}"
    assert removed(text)[:2] == ["In bài", "Bản in"]
    assert kept(text) == [PARA, "In bài", PARA]


def test_trailing_furniture_block_is_removed() -> None:
    text = f"{PARA}\n\nBáo Nhân Dân\n\nChia sẻ\nBình luận\nTin liên quan\nMột tin ngắn khác\nXem thêm"
    assert kept(text) == [PARA, "Báo Nhân Dân"]
    assert removed(text) == ["Chia sẻ", "Bình luận", "Tin liên quan", "Một tin ngắn khác", "Xem thêm"]


def test_single_furniture_line_closing_the_page_is_removed() -> None:
    assert kept(f"{PARA}\n\nChia sẻ") == [PARA]
    assert kept(f"{PARA}\n\nTừ khoá:") == [PARA]


def test_social_and_qr_lines_count_as_furniture() -> None:
    text = f"{PARA}\n\nTheo dõi trên Facebook\nMã QR truy cập trang"
    assert kept(text) == [PARA]


def test_mid_article_mentions_of_furniture_words_are_kept() -> None:
    mention = (
        "Chúng tôi không có tin khác để báo cáo, ngoài những gì đã được trình bày và chia sẻ tại hội nghị."
    )
    text = f"{PARA}\n\nTin khác\n\n{mention}\n\n{PARA}\n\nBình luận"
    # the lone "Tin khác" heading mid-article and the sentence mentioning it stay; "Bình luận" ends the page
    assert kept(text) == [PARA, "Tin khác", mention, PARA]


def test_short_closing_lines_without_enough_furniture_stay() -> None:
    text = f"{PARA}\n\nNguồn tin\nBáo Hải Phòng\nTheo Ban Tuyên giáo\nNgày 15/1/2018"
    assert removed_spans(text) == ()  # one furniture line among four short lines: not a footer


def test_caption_with_tabs_and_credit_keeps_clean_copy() -> None:
    dirty = "Đồng chí Bí thư phát biểu chỉ đạo hội nghị.\t\t\t\tẢnh: Duy Lê"
    clean = "Đồng chí Bí thư phát biểu chỉ đạo hội nghị. Ảnh: Duy Lê"
    assert kept(f"{PARA}\n\n{dirty}\n\n{clean}\n\n{PARA}") == [PARA, clean, PARA]
    assert kept(f"{PARA}\n\n{clean}\n\n{dirty}\n\n{PARA}") == [PARA, clean, PARA]


def test_caption_with_and_without_credit_are_duplicates() -> None:
    text = f"Quang cảnh hội nghị tại Hải Phòng\nQuang cảnh hội nghị tại Hải Phòng. Ảnh: Minh Anh\n\n{PARA}"
    assert kept(text) == ["Quang cảnh hội nghị tại Hải Phòng", PARA]


def test_caption_case_of_first_letter() -> None:
    text = f"{PARA}\n\nđồng chí Nghĩa phát biểu tại hội nghị\nĐồng chí Nghĩa phát biểu tại hội nghị\n\n{PARA}"
    assert kept(text) == [PARA, "Đồng chí Nghĩa phát biểu tại hội nghị", PARA]


def test_different_credits_alone_are_not_duplicates() -> None:
    text = f"{PARA}\n\nẢnh: Duy Lê\nẢnh: Minh Anh\n\n{PARA}"
    assert removed_spans(text) == ()


def test_exact_duplicate_long_paragraph_keeps_one_but_distant_repeats_stay() -> None:
    long_para = PARA + " " + PARA  # over the caption length limit
    assert len(long_para) > 250
    assert kept(f"{long_para}\n\n{long_para}") == [long_para]
    assert kept(f"{long_para}\n\nXen giữa.\n\n{long_para}") == [long_para, "Xen giữa.", long_para]


def test_near_duplicate_long_paragraphs_are_both_kept() -> None:
    long_para = PARA + " " + PARA
    variant = long_para.replace("1000", "1200")
    assert kept(f"{long_para}\n\n{variant}") == [long_para, variant]


def test_crlf_and_nfd_offsets() -> None:
    assert kept("Dòng một.\r\n\r\nDòng hai.\r\n") == ["Dòng một.", "Dòng hai."]
    text = SEED.read_text(encoding="utf-8")
    nfd = unicodedata.normalize("NFD", text)
    assert [unicodedata.normalize("NFC", b) for b in kept(nfd)] == kept(text)
    assert len(removed_spans(nfd)) == len(removed_spans(text)) == 14


def test_a_short_page_is_never_removed_whole() -> None:
    text = "In bài\n\nHải Phòng.\n\nTin khác\nChia sẻ"
    assert kept(text) == ["Hải Phòng."]
    assert kept("Tin khác\nChia sẻ\nBình luận") == ["Tin khác"]


LINES = st.sampled_from(
    ["", "  ", "Tin khác", "Chia sẻ", "QR Code", "In bài", "Print Thứ Bảy, 26/01/2019 16:27", "Ảnh: Duy Lê",
     "Quang cảnh hội nghị", "quang cảnh hội nghị\t", PARA, "Câu ngắn.", "\tCâu ngắn. Ảnh: A"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=14))
def test_spans_invariants_on_arbitrary_pages(lines: list[str]) -> None:
    text = "\n".join(lines)
    spans = clean_spans(text)
    assert all(a < b and text[a:b] == text[a:b].strip() for a, b in spans)
    assert all(p[1] < n[0] for p, n in zip(spans, spans[1:], strict=False))
    for a, _ in removed_spans(text):
        assert not any(s <= a < e for s, e in spans)  # removed text is never inside a kept block
    if PARA in lines:
        assert any(PARA in text[a:b] for a, b in spans)  # an article paragraph is never removed
