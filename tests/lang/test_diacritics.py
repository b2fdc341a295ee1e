"""Diacritic restoration fitted on the seed article: exact outputs, case, mixed input, serialization."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from qa.errors import IndexCorruptError
from qa.lang.diacritics import DiacriticRestorer
from qa.lang.text import tokenize
from tests.conftest import SEED


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def restorer(seed_text: str) -> DiacriticRestorer:
    return DiacriticRestorer.fit([seed_text])


def _strip_marks(text: str) -> str:
    """Remove diacritics, keep case: 'Đảng' -> 'Dang'."""
    out = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return out.replace("đ", "d").replace("Đ", "D")


def _seed_sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?;:…\n])", text) if tokenize(s)]


@pytest.mark.parametrize(
    ("typed", "want"),
    [
        ("bi thu thanh uy la ai", "bí thư thành ủy là ai"),
        ("chu tich ubnd thanh pho", "chủ tịch ubnd thành phố"),
        ("nam 2017 thu ngan sach dat bao nhieu", "năm 2017 thu ngân sách đạt bao nhiêu"),
        ("pho bi thu thuong truc thanh uy la ai", "phó bí thư thường trực thành ủy là ai"),
        ("truong doan dai bieu quoc hoi hai phong la ai", "trưởng đoàn đại biểu quốc hội hải phòng là ai"),
        ("tong so dai bieu du hoi nghi la bao nhieu", "tổng số đại biểu dự hội nghị là bao nhiêu"),
        ("nam 2016 tong thu ngan sach dat bao nhieu", "năm 2016 tổng thu ngân sách đạt bao nhiêu"),
        ("ty le dan so do thi dat bao nhieu", "tỷ lệ dân số đô thị đạt bao nhiêu"),
        ("hoi nghi duoc to chuc o dau", "hội nghị được tổ chức ở đâu"),
        ("ai trinh bay ke hoach so 91", "ai trình bày kế hoạch số 91"),
        ("nghi quyet so 18 de cap van de gi", "nghị quyết số 18 đề cập vấn đề gì"),
        ("giai phap dot pha la gi", "giải pháp đột phá là gì"),
        ("khi nao hai phong tro thanh trung tam du lich", "khi nào hải phòng trở thành trung tâm du lịch"),
        ("tong bi thu danh gia hai phong nhu the nao", "tổng bí thư đánh giá hải phòng như thế nào"),
        ("GRDP tang truong 10% nam 2018", "GRDP tăng trưởng 10% năm 2018"),
    ],
)
def test_restores_folded_questions(restorer: DiacriticRestorer, typed: str, want: str) -> None:
    assert restorer.restore(typed) == want


def test_case_is_carried_over(restorer: DiacriticRestorer) -> None:
    assert restorer.restore("Bi thu Thanh uy HAI PHONG la ai?") == "Bí thư Thành ủy HẢI PHÒNG là ai?"
    assert restorer.restore("CHU TICH HDND thanh pho") == "CHỦ TỊCH HĐND thành phố"


def test_punctuation_and_spacing_kept(restorer: DiacriticRestorer) -> None:
    assert restorer.restore("Bi thu,  thanh uy\t la ai?!") == "Bí thư,  thành ủy\t là ai?!"


def test_fully_accented_question_unchanged(restorer: DiacriticRestorer) -> None:
    # "thu" and "bao" are plain on purpose here; the accented context keeps them.
    q = "Năm 2017 thu ngân sách đạt bao nhiêu?"
    assert restorer.restore(q) == q


def test_mixed_question_keeps_typed_accents(restorer: DiacriticRestorer) -> None:
    assert restorer.restore("bí thư thanh uy la ai") == "bí thư thành ủy là ai"
    # accented tokens stay exactly as typed, old tone placement "uỷ" included
    assert restorer.restore("bí thư thành uỷ la ai") == "bí thư thành uỷ là ai"


def test_unknown_tokens_stay_and_give_context(restorer: DiacriticRestorer) -> None:
    assert restorer.restore("bi thu xyzzy la ai") == "bí thư xyzzy là ai"
    assert restorer.restore("dong chi giu chuc vu gi") == "đồng chí giu chức vụ gì"  # "giữ" not in the seed


def test_english_question_does_not_crash(restorer: DiacriticRestorer) -> None:
    out = restorer.restore("who is the party secretary")
    words = out.split()
    # Words the seed has no syllable for stay; "the" folds like "thể"/"thế" and gets mangled.
    assert [words[i] for i in (0, 1, 3, 4)] == ["who", "is", "party", "secretary"]
    assert len(words) == 5


def test_empty_and_non_letter_input(restorer: DiacriticRestorer) -> None:
    assert restorer.restore("") == ""
    assert restorer.restore(" 2017 ... 10% ") == " 2017 ... 10% "


def test_builtin_question_words_without_corpus() -> None:
    empty = DiacriticRestorer.fit([])
    assert empty.restore("bao nhieu") == "bao nhiêu"
    assert empty.restore("la ai") == "là ai"
    assert empty.restore("nhu the nao") == "như thế nào"
    assert empty.restore("tai sao o dau") == "tại sao ở đâu"


def test_corpus_outweighs_builtin_table() -> None:
    # The table says "năm"; a corpus that only talks about the south wins.
    r = DiacriticRestorer.fit(["Miền Nam nắng. Miền Nam mưa. Miền Nam đẹp."])
    assert r.restore("mien nam") == "miền nam"


def test_folded_seed_restores_leave_in(restorer: DiacriticRestorer, seed_text: str) -> None:
    right = total = 0
    for sent in _seed_sentences(seed_text):
        want = [t.norm for t in tokenize(sent)]
        got = [t.norm for t in tokenize(restorer.restore(_strip_marks(sent)))]
        right += sum(a == b for a, b in zip(want, got, strict=True))
        total += len(want)
    assert total > 3000
    assert right / total >= 0.98  # measured 1.000 (benchmarks/bench_diacritics.py)


def test_accented_seed_sentences_unchanged(restorer: DiacriticRestorer, seed_text: str) -> None:
    changed = [s for s in _seed_sentences(seed_text) if restorer.restore(s) != s]
    assert changed == []


def test_dict_round_trip_through_json(restorer: DiacriticRestorer, seed_text: str) -> None:
    data = json.loads(json.dumps(restorer.to_dict()))
    loaded = DiacriticRestorer.from_dict(data)
    assert loaded.to_dict() == restorer.to_dict()
    for sent in _seed_sentences(seed_text)[:40]:
        folded = _strip_marks(sent)
        assert loaded.restore(folded) == restorer.restore(folded)


def test_fit_is_deterministic(seed_text: str) -> None:
    a, b = DiacriticRestorer.fit([seed_text]), DiacriticRestorer.fit([seed_text])
    assert a.to_dict() == b.to_dict()
    q = "dong chi bi thu thanh uy nhan manh dieu gi"
    assert a.restore(q) == b.restore(q) == "đồng chí bí thư thành ủy nhấn mạnh điều gì"


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"format": 99, "vocab": [], "trigrams": []},
        {"format": 1, "vocab": ["a"], "trigrams": [0, 0, 0]},
        {"format": 1, "vocab": ["a"], "trigrams": [0, 0, 5, 1]},
        {"format": 1, "vocab": [3], "trigrams": []},
        {"format": 1, "vocab": ["a"], "trigrams": [0, 0, 0, "x"]},
    ],
)
def test_from_dict_rejects_malformed(bad: dict[str, object]) -> None:
    with pytest.raises(IndexCorruptError, match="qa index build"):
        DiacriticRestorer.from_dict(bad)
