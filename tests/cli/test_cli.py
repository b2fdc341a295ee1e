"""`qa` CLI with the fake encoder: ask --json contract, batch, eval, and errors caught before the model loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import qa.model.encoder
import qa.startup
from qa.cli.main import main


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch, fake_encoder: Any) -> list[str]:
    """How many times a model was loaded (the fake encoder stands in for it)."""
    calls: list[str] = []

    def load(*a: Any, **k: Any) -> Any:
        calls.append("load")
        return fake_encoder

    monkeypatch.setattr(qa.model.encoder, "load_encoder", load)
    monkeypatch.setattr(qa.startup, "load_encoder", load)
    return calls


@pytest.fixture
def cli_env(small_docs: Path, tmp_path: Path, loads: list[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_DOCS_DIR", str(small_docs))
    monkeypatch.setenv("QA_MODEL", "fake-encoder")  # not the embedded default: nothing to convert
    idx = tmp_path / "index"
    monkeypatch.setenv("QA_INDEX_DIR", str(idx))
    return idx


@pytest.fixture
def built(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["index", "build", "--quiet"]) == 0
    capsys.readouterr()
    return cli_env


def test_index_build_info_update(cli_env: Path, small_docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", "build", "--quiet"]) == 0
    assert "3 documents" in capsys.readouterr().out
    assert main(["index", "info"]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "(ok)" in out
    (small_docs / "hue.txt").write_text("Huế có chùa Thiên Mụ.", encoding="utf-8")
    assert main(["index", "info"]) == 0
    assert "changed: hue.txt" in capsys.readouterr().out
    assert main(["index", "update", "--quiet"]) == 0
    assert "changed 1" in capsys.readouterr().out


def test_ask_json_contract(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "--top-k", "2", "Sông Hương chảy qua thành phố nào?"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == {"question", "answer", "passages"} and len(d["passages"]) == 2
    assert d["answer"]["doc"] == "hue.txt" and d["answer"]["text"] == "Sông Hương chảy qua thành phố Huế."


def test_ask_batch_one_line_per_question(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "q.txt"
    f.write_text("Huế là gì?\n\nho hoan kiem o dau\nWhat is Hue?\n", encoding="utf-8")
    assert main(["ask", "--json", "--batch", str(f)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(x)["question"] for x in lines] == ["Huế là gì?", "ho hoan kiem o dau", "What is Hue?"]


def test_ask_human_output_is_english(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Sông Hương chảy qua đâu?"]) == 0
    out = capsys.readouterr().out
    assert "Answer: " in out and "[Sông]" not in out  # "sông" is in most passages: not underlined
    assert "Trả lời" not in out and "độ tin cậy" not in out and "confidence" in out
    assert main(["ask", "zzqx wvyk"]) == 0
    assert "Answer: none found in the documents" in capsys.readouterr().out


def test_eval_reports_metrics_and_rejects_bad_file(built: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "dev.json"
    f.write_text(json.dumps([
        {"question": "Sông Hương chảy qua đâu?", "answers": ["Sông Hương chảy qua thành phố Huế"], "kind": "lexical"},
        {"question": "zzqx wvyk", "answers": [], "kind": "unanswerable"},
    ], ensure_ascii=False), encoding="utf-8")
    assert main(["eval", str(f), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["overall"]["R@1"] == 1.0 and rep["kinds"]["unanswerable"]["abstention_recall"] == 1.0
    bad = tmp_path / "bad.json"
    bad.write_text('[{"question": 3, "answers": []}]', encoding="utf-8")
    assert main(["eval", str(bad)]) == 2
    assert "item 0" in capsys.readouterr().err


def _one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.startswith("error:") or "error: " in x]
    assert len(lines) == 1, err
    return lines[0]


def test_a_mistyped_index_is_an_error_not_a_build(cli_env: Path, tmp_path: Path, loads: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "idnex"
    for argv in (["ask", "--index", str(typo), "Huế là gì?"],
                 ["eval", "--index", str(typo), "tests/data/seed_dev.json"]):
        assert main(argv) == 2
        line = _one_line_error(capsys.readouterr().err)
        assert f"no index at {typo}" in line and f"`qa index build --index {typo}`" in line
    assert not typo.exists() and loads == []  # nothing built, no model loaded


@pytest.mark.parametrize("argv,expected", [
    (["ask", "--top-k", "0", "Huế là gì?"], "argument --top-k: 0 is out of range; use 1 to 50"),
    (["ask", "--top-k", "51", "Huế là gì?"], "argument --top-k: 51 is out of range"),
    (["ask", "--top-k", "five", "Huế là gì?"], "argument --top-k: 'five' is not a whole number"),
    (["ask", "--device", "gpu0", "Huế là gì?"], "argument --device: 'gpu0' is not a torch device"),
    (["ask", "   "], "error: the question is empty"),
    (["ask", "x" * 2000], "error: the question has 2000 characters; the limit is 1000"),
    (["ask", "--batch", "/nonexistent/q.txt"], "error: cannot read --batch file /nonexistent/q.txt"),
    (["ask", "--batch", "-", "also a question"], "error: give a QUESTION or --batch FILE, not both"),
    (["ask"], "error: give a QUESTION or --batch FILE"),
    (["eval", "/nonexistent/dev.json"], "error: cannot read QA file /nonexistent/dev.json"),
    (["index", "build", "--docs", "/nonexistent/docs"], "error: documents folder /nonexistent/docs does not exist"),
])
def test_bad_arguments_fail_before_the_model_loads(built: Path, loads: list[str], argv: list[str], expected: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    loads.clear()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own rejection (usage line + error), also exit 2
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert loads == []


def test_argparse_rejections_exit_2(cli_env: Path) -> None:
    for argv in (["ask", "--top-k", "0", "q"], ["index", "build", "--device", "tpu"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2


def test_build_refuses_a_folder_that_is_not_an_index(cli_env: Path, tmp_path: Path, loads: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "my_documents"
    home.mkdir()
    (home / "thesis.txt").write_text("irreplaceable", encoding="utf-8")
    assert main(["index", "build", "--index", str(home)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "not an index" in line and "choose a new or empty folder" in line
    assert (home / "thesis.txt").read_text(encoding="utf-8") == "irreplaceable" and loads == []
    afile = tmp_path / "a_file"
    afile.write_text("x")
    assert main(["index", "update", "--index", str(afile)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_empty_docs_folder_is_named_before_loading(cli_env: Path, tmp_path: Path, loads: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.xlsx").write_bytes(b"PK")
    assert main(["index", "build", "--docs", str(empty)]) == 2
    assert f"no documents (.txt .md .html .htm .pdf .docx) in {empty}" in capsys.readouterr().err
    assert loads == []


def test_missing_index_without_docs_is_a_clear_error(tmp_path: Path, loads: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--index", str(tmp_path / "none"), "--docs", str(tmp_path / "nodocs"), "hi"]) == 2
    err = capsys.readouterr().err
    assert f"qa index build --index {tmp_path / 'none'}" in err and "Traceback" not in err and loads == []


def test_first_run_conversion_shows_progress(cli_env: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The embedded model's one-time conversion draws a bar (not minutes of a bare 'Loading…')."""
    import qa.model.cache
    from qa.cli.main import load_model
    from qa.config import Settings

    def convert(cache_dir: Any = None, force: bool = False, log: Any = None, progress: Any = None) -> Path:
        log("Converting the weights (once)…")
        for i in range(5):
            progress(i + 1, 5)
        return Path("/nowhere")

    monkeypatch.setattr(qa.model.cache, "is_prepared", lambda *a, **k: False)
    monkeypatch.setattr(qa.model.cache, "prepare_default_model", convert)
    load_model(Settings())
    err = capsys.readouterr().err
    assert "Converting the embedded model (first run only)" in err and "5/5" in err and "steps" in err
    assert "Converting the weights (once)…" in err and "Loading model default…" in err


def test_index_info_lists_unreadable_files_with_the_reason(cli_env: Path, small_docs: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (small_docs / "random.pdf").write_bytes(bytes(range(256)) * 8)  # not a PDF at all
    (small_docs / "empty.docx").write_bytes(b"")
    (small_docs / "latin.txt").write_bytes("Công ty Ánh Dương".encode("cp1258"))
    assert main(["index", "build", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["index", "info"]) == 0
    cap = capsys.readouterr()
    lines = [line for line in cap.out.splitlines() if line.startswith("skipped:")]
    assert [line.split(":")[1].strip() for line in lines] == ["empty.docx", "latin.txt", "random.pdf"]
    assert "cannot read the DOCX" in lines[0] and "not valid UTF-8" in lines[1] and "cannot read the PDF" in lines[2]
    assert "3 unreadable file(s) left out of the index" in cap.out and "up to date" in cap.out
    assert "invalid pdf header" not in cap.err + cap.out  # pypdf's own warnings stay in the log
    (small_docs / "latin.txt").write_text("Công ty Ánh Dương ở Đà Nẵng.", encoding="utf-8")  # fixed
    assert main(["index", "info"]) == 0
    out = capsys.readouterr().out
    assert "added: latin.txt" in out and "2 unreadable file(s)" in out


def test_ask_with_docs_warns_when_the_index_is_out_of_date(built: Path, small_docs: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--docs", str(small_docs), "Thủ đô của Việt Nam là gì?"]) == 0
    assert "out of date" not in capsys.readouterr().err
    (small_docs / "hue.txt").write_text("Huế có chùa Thiên Mụ.", encoding="utf-8")
    assert main(["ask", "--docs", str(small_docs), "Thủ đô của Việt Nam là gì?"]) == 0
    err = capsys.readouterr().err
    assert f"note: the index at {built} is out of date with {small_docs} (changed 1)" in err
    assert main(["ask", "Thủ đô của Việt Nam là gì?"]) == 0  # no --docs: nothing hashed, no note
    assert "out of date" not in capsys.readouterr().err


@pytest.mark.parametrize("value", ["5", "-0.1", "bốn"])
def test_calibrate_refuses_a_budget_that_is_not_a_share(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["reader", "calibrate", "--budget", value, "--data-all", "x.json"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--budget" in err and "share from 0 to 0.5" in err and "Traceback" not in err
