"""qa.web.importgate: the entering thread's imports wait while a question is in flight; nobody else's.

(`__import__`, as an import statement does: `importlib.import_module` raises no "import" audit event.)"""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path

import pytest

from qa.web.importgate import ImportGate


def _modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    for name in names:
        (tmp_path / f"{name}.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_imports_wait_while_a_question_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _modules(tmp_path, monkeypatch, "qa_gate_first", "qa_gate_other")
    idle = threading.Event()  # a question is in flight
    done: list[float] = []

    def start_up() -> None:
        with ImportGate(idle, max_pause_s=10) as gate:
            __import__("qa_gate_first")
        done.append(gate.paused_s)

    t = threading.Thread(target=start_up)
    t.start()
    time.sleep(0.3)
    assert t.is_alive() and not done  # the import waits for the question
    __import__("qa_gate_other")  # the question's own imports do not wait (or this would hang)
    idle.set()  # the question is answered
    t.join(5)
    assert len(done) == 1 and done[0] >= 0.25


def test_a_pause_is_bounded_and_then_the_gate_stays_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _modules(tmp_path, monkeypatch, "qa_gate_a", "qa_gate_b")
    idle = threading.Event()  # never set: as if the question waited for a module the import holds
    t0 = time.perf_counter()
    with ImportGate(idle, max_pause_s=0.2) as gate:
        __import__("qa_gate_a")
        __import__("qa_gate_b")
    assert gate.gave_up and 0.15 < gate.paused_s < 1.0 and time.perf_counter() - t0 < 1.5


def test_outside_the_gate_nothing_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _modules(tmp_path, monkeypatch, "qa_gate_after")
    idle = threading.Event()
    with ImportGate(idle, max_pause_s=5) as gate:
        pass
    t0 = time.perf_counter()
    __import__("qa_gate_after")
    assert time.perf_counter() - t0 < 1.0 and gate.paused_s == 0.0
