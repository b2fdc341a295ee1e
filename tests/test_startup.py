"""What answers is said, never switched silently: the reader, or the sentence rules and why (log and /healthz)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import qa.reader.read
import qa.startup
from qa.config import Settings
from qa.errors import ModelError
from qa.model.encoder import DEFAULT_MODEL
from qa.reader.read import SHIPPED
from tests.conftest import FakeEncoder, seed_service

REAL_LOAD = qa.startup.load_reader  # the conftest fixture patches the module attribute, not this name


class LooksLikeTheDefault(FakeEncoder):
    """The fake encoder named as the embedded model, with a `model` that is no transformer."""

    name = DEFAULT_MODEL
    model = object()


def test_a_damaged_shipped_reader_is_said_and_answered_by_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    broken = tmp_path / "weights"
    shutil.copytree(SHIPPED, broken)
    (broken / "decision.json").write_text("{not json", "utf-8")
    monkeypatch.setattr(qa.reader.read, "SHIPPED", broken)
    logs: list[str] = []
    choice = REAL_LOAD(Settings(), LooksLikeTheDefault(), logs.append)
    assert choice.reader is None and choice.answering.startswith("sentence rules: the shipped reader did not load")
    assert "decision.json" in choice.answering and logs == [f"Answering with {choice.answering}"]


def test_a_reader_folder_the_operator_named_must_load(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    shutil.copytree(SHIPPED, folder)
    (folder / "decision.json").write_text(json.dumps({"features": []}), "utf-8")
    with pytest.raises(ModelError, match="decision.json is unreadable.*qa reader calibrate"):
        REAL_LOAD(Settings(reader=str(folder)), LooksLikeTheDefault(), lambda m: None)
    with pytest.raises(ModelError, match="no reader there"):
        REAL_LOAD(Settings(reader=str(tmp_path / "none")), LooksLikeTheDefault(), lambda m: None)


def test_another_model_and_reader_off_answer_by_rules_and_say_so() -> None:
    logs: list[str] = []
    other = REAL_LOAD(Settings(), FakeEncoder(), logs.append)
    assert other.reader is None and "not fake-encoder" in other.answering and len(logs) == 1
    assert REAL_LOAD(Settings(reader="off"), FakeEncoder(), logs.append).answering == "sentence rules: QA_READER=off"


def test_healthz_status_names_what_answers(tmp_path: Path) -> None:
    svc = seed_service(tmp_path)  # the fake encoder answers with the fake reader (tests/conftest.py)
    assert svc.status()["answering"] == "reader (fake)" and svc.reader is not None
