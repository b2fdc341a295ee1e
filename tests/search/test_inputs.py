"""Input rules (qa.search.inputs) and their use by QAService.ask and the CLI."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from qa.cli import main as cli
from qa.config import Settings
from qa.errors import InputError, QAError
from qa.search.inputs import DEFAULT_MAX_CHARS, clean_question
from qa.service import QAService
from qa.startup import open_service
from tests.conftest import SMALL_CORPUS, FakeEncoder

EMPTY_VI = "Vui lòng nhập câu hỏi."


@pytest.fixture(autouse=True)
def _default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_MAX_QUESTION_CHARS", raising=False)  # the CLI tests read the environment


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("inputs")
    docs = root / "docs"
    docs.mkdir()
    for name, text in SMALL_CORPUS.items():
        (docs / name).write_text(text, encoding="utf-8")
    return docs, root / "idx"


@pytest.fixture(scope="module")
def svc(corpus: tuple[Path, Path]) -> QAService:
    docs, idx = corpus
    return open_service(Settings(docs_dir=docs, index_dir=idx, auto_build="missing"), encoder=FakeEncoder(),
                        progress=False, log=lambda m: None)


@pytest.mark.parametrize(
    "q", ["", " ", "   \n\t  ", "\u3000\u00a0\u2003", "\x00\x01\x1f", "\x7f\x85\x9f", "\r\n"]
)
def test_empty_or_blank(q: str) -> None:
    with pytest.raises(InputError, match="the question is empty") as ei:
        clean_question(q)
    assert ei.value.message_vi == EMPTY_VI


@pytest.mark.parametrize("q", [None, 42, 3.5, b"Ai ch\xe1\xbb\xa7 tr\xc3\xac?", ["Ai chủ trì?"], {"q": "x"}])
def test_not_a_string(q: object) -> None:
    with pytest.raises(InputError, match=f"question must be a string, got {type(q).__name__}") as ei:
        clean_question(q)
    assert ei.value.message_vi == "Câu hỏi phải là một chuỗi văn bản."


def test_default_limit_is_1000() -> None:
    assert DEFAULT_MAX_CHARS == Settings().max_question_chars == 1000
    assert clean_question("a" * 1000) == "a" * 1000
    with pytest.raises(InputError) as ei:
        clean_question("a" * 1001)
    assert str(ei.value) == "the question has 1001 characters; the limit is 1000 (QA_MAX_QUESTION_CHARS)"
    assert ei.value.message_vi == "Câu hỏi quá dài (1001 ký tự). Vui lòng rút gọn dưới 1000 ký tự."


def test_pasted_novel_rejected() -> None:
    novel = "Hải Phòng là thành phố cảng lớn ở miền Bắc Việt Nam. " * 20_000
    with pytest.raises(InputError, match=r"the question has \d+ characters; the limit is 1000"):
        clean_question(novel)


def test_limit_from_settings_and_argument() -> None:
    limit = Settings.from_env({"QA_MAX_QUESTION_CHARS": "10"}).max_question_chars
    assert limit == 10
    assert clean_question("Hà Nội ở?", limit) == "Hà Nội ở?"
    with pytest.raises(InputError, match="the limit is 10 ") as ei:
        clean_question("Hà Nội ở đâu?", limit)
    assert ei.value.message_vi == "Câu hỏi quá dài (13 ký tự). Vui lòng rút gọn dưới 10 ký tự."
    assert clean_question("Hà Nội ở đâu?", limit=20) == "Hà Nội ở đâu?"
    with pytest.raises(QAError, match="QA_MAX_QUESTION_CHARS='not a number' is not a whole number"):
        Settings.from_env({"QA_MAX_QUESTION_CHARS": "not a number"})


def test_length_counted_after_cleaning() -> None:
    # NFD "Huế" is 5 code points, NFC 3; runs of spaces count as one
    assert clean_question(unicodedata.normalize("NFD", "Huế"), 5) == "Huế"
    assert clean_question("a" + " " * 500 + "b", 5) == "a b"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Ai chủ trì\x00 hội nghị? ", "Ai chủ trì hội nghị?"),
        ("Hà\x00Nội", "Hà Nội"),  # a control character between words separates them
        ("Ai\x1b[31m chủ trì?", "Ai [31m chủ trì?"),  # terminal escape: ESC removed, the rest is text
        ("Huế\x7f\x85\x9f là gì", "Huế là gì"),
        ("  Ai   chủ\n\ntrì\t ", "Ai chủ trì"),
        ("\ud800Huế", "?Huế"),  # a lone surrogate cannot be encoded downstream
    ],
)
def test_control_characters_and_spaces(raw: str, clean: str) -> None:
    assert clean_question(raw) == clean


@pytest.mark.parametrize(
    "q",
    [
        "👍🏽 Hà Nội là thủ đô của nước nào? 👨\u200d👩\u200d👧",  # emoji, skin tone, ZWJ family
        "ما هي عاصمة فيتنام؟",  # Arabic (RTL)
        "מה בירת וייטנאם?",  # Hebrew (RTL)
        "越南的首都是哪里？",  # CJK
        "ハノイはどこですか",
        "<script>alert('x')</script> Ai chủ trì?",  # HTML is text to the QA layer
        "x\u200by \u202eabc",  # zero-width space and a bidi override are not control characters
    ],
)
def test_other_unicode_kept(q: str) -> None:
    assert clean_question(q) == q


def test_nfd_becomes_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Ai chủ trì hội nghị ở Hải Phòng?")
    assert nfd != "Ai chủ trì hội nghị ở Hải Phòng?"
    assert clean_question(nfd) == "Ai chủ trì hội nghị ở Hải Phòng?"


# --- the same rules behind QAService.ask ---------------------------------------------------------


@pytest.mark.parametrize("top_k", [0, -1, 51, True, 2.5, "5", None])
def test_ask_bad_top_k(svc: QAService, top_k: object) -> None:
    with pytest.raises(InputError, match=r"top_k must be an integer from 1 to 50, got ") as ei:
        svc.ask("Thủ đô của Việt Nam?", top_k=top_k)  # type: ignore[arg-type]
    assert ei.value.message_vi == "Số đoạn trả về (top_k) phải là số nguyên từ 1 đến 50."


@pytest.mark.parametrize("top_k", [1, 2, 50])
def test_ask_top_k_bounds(svc: QAService, top_k: int) -> None:
    ans = svc.ask("Thủ đô của Việt Nam?", top_k=top_k)
    assert len(ans.passages) == min(top_k, 3)  # the corpus has 3 chunks


@pytest.mark.parametrize("q", ["", "   ", "\x00\x00", None, 7])
def test_ask_rejects_bad_question(svc: QAService, q: object) -> None:
    with pytest.raises(InputError):
        svc.ask(q)


def test_ask_too_long(svc: QAService) -> None:
    short = QAService(svc.data, svc.encoder, replace(svc.settings, max_question_chars=20))
    with pytest.raises(InputError, match="the limit is 20"):
        short.ask("Hồ Hoàn Kiếm nằm ở đâu trong thành phố?")


def test_ask_normalizes_before_answering(svc: QAService) -> None:
    q = "Hồ Hoàn Kiếm nằm ở đâu?"
    plain = svc.ask(q).to_dict()
    messy = svc.ask("  " + unicodedata.normalize("NFD", "Hồ Hoàn\x00 Kiếm") + "  nằm ở đâu?\n").to_dict()
    assert messy == plain
    assert plain["question"] == q
    assert plain["passages"][0]["doc"] == "hanoi.md"


@pytest.mark.parametrize("q", ["👍🏽👍🏽", "ما هي عاصمة فيتنام؟", "越南的首都是哪里？", "<b>Huế</b> 🙂"])
def test_ask_any_unicode(svc: QAService, q: str) -> None:
    ans = svc.ask(q)
    assert ans.question == q
    json.dumps(ans.to_dict(), ensure_ascii=False).encode("utf-8")


# --- and behind the CLI ------------------------------------------------------------------------------


@pytest.fixture
def cli_args(corpus: tuple[Path, Path], svc: QAService, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`qa ask` on the index `svc` built (asking never builds one)."""
    monkeypatch.setattr("qa.startup.load_encoder", lambda *a, **k: FakeEncoder())
    monkeypatch.setattr("qa.model.encoder.load_encoder", lambda *a, **k: FakeEncoder())  # the CLI's own path
    docs, idx = corpus
    return ["ask", "--index", str(idx), "--docs", str(docs)]


def test_cli_empty_question(cli_args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*cli_args, "  \t "]) == cli.EXIT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().endswith("error: the question is empty")


def test_cli_json_errors_and_answers(cli_args: list[str], capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_QUESTION_CHARS", "30")
    assert cli.main([*cli_args, "--json", "x" * 31]) == cli.EXIT_ERROR
    row = json.loads(capsys.readouterr().out)
    assert row == {"question": "x" * 31, "answer": None, "passages": [],
                   "error": "the question has 31 characters; the limit is 30 (QA_MAX_QUESTION_CHARS)"}
    with pytest.raises(SystemExit) as exit_:  # refused by argparse, before the model loads
        cli.main([*cli_args, "--json", "--top-k", "0", "Huế"])
    assert exit_.value.code == cli.EXIT_ERROR
    assert "argument --top-k: 0 is out of range; use 1 to 50" in capsys.readouterr().err
    assert cli.main([*cli_args, "--json", unicodedata.normalize("NFD", "Sông Hương chảy qua đâu?")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["question"] == "Sông Hương chảy qua đâu?"
    assert row["passages"][0]["doc"] == "hue.txt"
