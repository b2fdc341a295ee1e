"""The confidence a person reads (qa.web.confidence): cut points, the word and bar, tentative answers."""

from __future__ import annotations

import json

import pytest

from qa.schema import Answer, AnswerSpan, Phrase
from qa.web.app import widget_script
from qa.web.confidence import SURE, confidence_level, widget_config
from qa.web.pages import answer_html


@pytest.mark.parametrize(("p", "tentative", "word", "bars"), [
    (0.99, False, "chắc chắn", 3), (SURE, False, "chắc chắn", 3), (0.7999, False, "khá chắc", 2),
    (0.5, False, "khá chắc", 2), (0.95, True, "có thể", 1), (0.12, True, "có thể", 1), (1.7, False, "chắc chắn", 3),
])
def test_cut_points(p: float, tentative: bool, word: str, bars: int) -> None:
    level = confidence_level(p, tentative)
    assert (level.word, level.bars) == (word, bars)
    assert 0.0 <= level.probability <= 1.0


def _answer(score: float, tentative: bool) -> Answer:
    text = "Hội nghị diễn ra ngày 15/1."
    span = AnswerSpan(text, "a.txt", 0, len(text), score, Phrase("ngày 15/1", 17, 26), tentative)
    return Answer("Hội nghị diễn ra khi nào?", span, (), score)


def test_the_chat_shows_a_word_and_the_number_only_in_the_tooltip() -> None:
    out = answer_html(_answer(0.63, tentative=False))
    assert "khá chắc" in out and 'title="Xác suất đúng ước tính: 0.63"' in out
    assert "độ tin cậy" not in out and out.count("0.63") == 1  # the number: in the tooltip only
    assert '<div class="qa-answer-box">' in out and "Trả lời" in out


def test_a_tentative_answer_looks_tentative() -> None:
    out = answer_html(_answer(0.3, tentative=True))
    assert '<div class="qa-answer-box qa-tentative">' in out
    assert '<div class="qa-label">Có thể:' in out and "có thể</span>" in out and "Trả lời" not in out
    assert "●○○" in out


def test_the_widget_gets_the_same_cut_points() -> None:
    js = widget_script().decode("utf-8")
    assert "/*QA_CONFIG*/" not in js
    line = next(x for x in js.splitlines() if x.strip().startswith("var CONFIG = "))
    config = json.loads(line.split("=", 1)[1].split(" || ")[0])
    assert config["confidence"] == widget_config() and config["top_k"] == [1, 50]
