"""Vietnamese normalization, folding, tokenization and casual expansion."""

import unicodedata

import pytest

from qa.lang.shorthand import expand
from qa.lang.text import fold, has_diacritics, normalize, terms, tokenize, vietnamese_share


@pytest.mark.parametrize(
    ("word", "want"),
    [("hoà", "hòa"), ("uỷ", "ủy"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("hoàn", "hoàn"), ("người", "người"),
     ("quả", "quả"), ("giữa", "giữa"), ("thuyền", "thuyền"), ("HOÀ", "hòa"), ("Thành Uỷ", "thành ủy")],
)
def test_normalize_tone_placement(word: str, want: str) -> None:
    assert normalize(word) == want


def test_normalize_nfd_equals_nfc() -> None:
    s = "Bí thư Thành uỷ Hải Phòng"
    assert normalize(unicodedata.normalize("NFD", s)) == normalize(s) == "bí thư thành ủy hải phòng"


def test_fold_maps_d_bar() -> None:
    assert fold("Đồng chí ĐẢNG đã") == "dong chi dang da"
    assert not has_diacritics("bi thu thanh uy")
    assert has_diacritics("bí thư")


def test_tokenize_keeps_original_offsets_for_nfd() -> None:
    text = unicodedata.normalize("NFD", "Hoà bình, Hải Phòng!")
    toks = tokenize(text)
    assert [t.norm for t in toks] == ["hòa", "bình", "hải", "phòng"]
    assert [unicodedata.normalize("NFC", text[t.start:t.end]) for t in toks] == ["Hoà", "bình", "Hải", "Phòng"]
    assert terms("Thành phố 2018", folded=True) == ["thanh", "pho", "2018"]


def test_casual_expansion_respects_document_vocabulary() -> None:
    assert expand("ctich ubnd tp la ai", vocab={"ubnd"}) == "chủ tịch ubnd thành phố la ai"
    # a shorthand the documents themselves use stays verbatim
    assert expand("NQ 18 TW nói về cái j", vocab={"tw"}) == "nghị quyết 18 TW nói về cái gì"


def test_contract_uses_the_documents_abbreviation_only_when_they_lack_the_phrase() -> None:
    from qa.lang.shorthand import contract

    q = "Ai lãnh đạo ủy ban nhân dân thành phố?"
    assert contract(q, {"ubnd"}, lambda phrase: False) == "Ai lãnh đạo UBND thành phố?"
    assert contract(q, {"ubnd"}, lambda phrase: True) == q  # the documents spell it out: keep it
    assert contract("uy ban nhan dan", {"ubnd"}, lambda phrase: False) == "UBND"


@pytest.mark.parametrize(
    ("question", "kind"),
    [("Ai chủ trì hội nghị?", "person"), ("bao nhieu dai bieu", "number"), ("Hội nghị diễn ra khi nào?", "date"),
     ("Hội nghị tổ chức ở đâu?", "place"), ("How many delegates?", "number"), ("Tinh thần chỉ đạo là gì?", None)],
)
def test_expected_answer_type(question: str, kind: str | None) -> None:
    from qa.answer.answertype import expected_type

    assert expected_type(question) == kind


def test_sentence_has_answer_type() -> None:
    from qa.answer.answertype import has_type

    assert has_type("Đồng chí Lê Văn Thành phát biểu.", "person")
    assert not has_type("Đồng chí bí thư phát biểu.", "person")
    assert has_type("Ngày 15/1, tại Cung Văn hóa", "date") and has_type("Ngày 15/1, tại Cung Văn hóa", "place")
    assert has_type("gần 1000 đại biểu", "number") and not has_type("nhiều đại biểu", "number")


@pytest.mark.parametrize(("text", "vietnamese"), [
    ("Ai chủ trì hội nghị?", True),
    ("ai chu tri hoi nghi", True),  # without diacritics: still Vietnamese syllables
    ("Franklin Delano Roosevelt là ai?", True),  # foreign names do not count
    ("UBND TP làm gì năm 2018", True),  # acronyms and numbers do not count
    ("Who chaired the conference?", False),
    ("How many delegates attended?", False),
])
def test_vietnamese_share_tells_english_from_vietnamese(text: str, vietnamese: bool) -> None:
    assert (vietnamese_share(text) >= 0.5) is vietnamese
