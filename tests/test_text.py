"""Vietnamese normalization, folding, tokenization and casual expansion."""

import unicodedata

import pytest

from qa.casual import expand
from qa.text import fold, has_diacritics, normalize, terms, tokenize


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
