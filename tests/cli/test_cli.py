"""`qa` CLI with the fake encoder: ask --json contract, batch, eval, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qa.model.encoder
import qa.service
from qa.cli.main import main


@pytest.fixture
def cli_env(small_docs: Path, tmp_path: Path, fake_encoder, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(qa.model.encoder, "load_encoder", lambda *a, **k: fake_encoder)
    monkeypatch.setattr(qa.service, "load_encoder", lambda *a, **k: fake_encoder)
    monkeypatch.setenv("QA_DOCS_DIR", str(small_docs))
    idx = tmp_path / "index"
    monkeypatch.setenv("QA_INDEX_DIR", str(idx))
    return idx


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


def test_ask_json_contract(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "--top-k", "2", "Sông Hương chảy qua thành phố nào?"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == {"question", "answer", "passages"} and len(d["passages"]) == 2
    assert d["answer"]["doc"] == "hue.txt" and d["answer"]["text"] == "Sông Hương chảy qua thành phố Huế."


def test_ask_batch_one_line_per_question(cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "q.txt"
    f.write_text("Huế là gì?\n\nho hoan kiem o dau\nWhat is Hue?\n", encoding="utf-8")
    assert main(["ask", "--json", "--batch", str(f)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(x)["question"] for x in lines] == ["Huế là gì?", "ho hoan kiem o dau", "What is Hue?"]


def test_ask_human_output_and_empty_question(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Sông Hương chảy qua đâu?"]) == 0
    out = capsys.readouterr().out
    assert "Trả lời:" in out and "[Sông]" in out
    assert main(["ask", "   "]) == 2
    assert "empty" in capsys.readouterr().err


def test_eval_reports_metrics_and_rejects_bad_file(cli_env: Path, tmp_path: Path,
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


def test_missing_index_without_docs_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_encoder,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(qa.service, "load_encoder", lambda *a, **k: fake_encoder)
    assert main(["ask", "--index", str(tmp_path / "none"), "--docs", str(tmp_path / "nodocs"), "hi"]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "QA_DOCS_DIR" in err and "Traceback" not in err
