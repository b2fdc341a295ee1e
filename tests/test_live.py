"""The running app follows its index (qa.live): swaps under load, reload refusals, background jobs."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import qa.model.encoder
import qa.startup
from qa.cli.main import main as qa_main
from qa.config import Settings
from qa.index.build import build_index
from qa.index.store import load_index
from qa.live import IndexJobs, IndexWatcher
from qa.service import QAService, manifest_signature
from qa.startup import open_service
from qa.web.app import create_app
from qa.web.ratelimit import RateLimiter
from tests.conftest import FakeEncoder
from tests.servers import BackgroundServer

# two versions of a small library: a.txt changes, c.txt exists only in B, b.txt is the same in both
VERSION_A = {
    "a.txt": "Cầu Long Biên bắc qua sông Hồng. Cầu được khánh thành năm 1902.\n\nCầu dài 2290 mét.",
    "b.txt": "Chùa Một Cột nằm ở quận Ba Đình. Chùa được xây năm 1049.",
}
VERSION_B = {
    "a.txt": "Cầu Long Biên do Pháp xây. Cầu được khánh thành năm 1903 sau ba năm thi công.",
    "b.txt": VERSION_A["b.txt"],
    "c.txt": "Hồ Tây là hồ lớn nhất Hà Nội. Chu vi hồ khoảng 17 km.",
}
QUESTIONS = ["Cầu Long Biên khánh thành năm nào?", "Chùa Một Cột được xây năm nào?", "Hồ Tây có chu vi bao nhiêu?",
             "Cầu Long Biên dài bao nhiêu mét?", "cau long bien bac qua song nao"]


def write_docs(folder: Path, version: dict[str, str]) -> None:
    for p in folder.glob("*.txt"):
        if p.name not in version:
            p.unlink()
    for name, text in version.items():
        (folder / name).write_text(text, encoding="utf-8")


def versions_consistent_with(body: dict[str, Any]) -> set[str]:
    """Which library versions every passage and the answer of a /api/ask body agree with."""
    ok = {"A", "B"}
    spans = [(p["doc"], p["start"], p["end"], p["text"]) for p in body["passages"]]
    if body["answer"] is not None:
        a = body["answer"]
        spans.append((a["doc"], a["start"], a["end"], a["text"]))
    for doc, s, e, text in spans:
        agree = {name for name, v in (("A", VERSION_A), ("B", VERSION_B)) if doc in v and v[doc][s:e] == text}
        ok &= agree
    return ok


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, Path]:
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    write_docs(docs, VERSION_A)
    return docs, index


def serve(docs: Path, index: Path, encoder: Any) -> QAService:
    build_index(docs, index, encoder)
    return open_service(Settings(docs_dir=docs, index_dir=index, auto_build="never"), encoder=encoder,
                        log=lambda m: None, progress=False)


def test_swaps_under_load_never_fail_or_mix(library: tuple[Path, Path]) -> None:
    """Four clients keep asking over HTTP while the index is rebuilt and swapped six times: every
    request succeeds and every answer comes whole from version A or whole from version B."""
    docs, index = library
    enc = FakeEncoder()
    expected: dict[str, list[dict[str, Any]]] = {}  # question -> the whole answer of each version
    for name, version in (("A", VERSION_A), ("B", VERSION_B)):
        other = docs.parent / f"docs_{name}"
        other.mkdir()
        write_docs(other, version)
        ref = serve(other, docs.parent / f"index_{name}", enc)
        for q in QUESTIONS:
            expected.setdefault(q, []).append(ref.ask(q, top_k=4).to_dict())
    svc = serve(docs, index, enc)
    app = create_app(svc, rate_limiter=RateLimiter(0), reload_interval=0.05)
    results: list[tuple[int, set[str]]] = []
    errors: list[str] = []
    stop = threading.Event()

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            i = k
            while not stop.is_set():
                try:
                    q = QUESTIONS[i % len(QUESTIONS)]
                    r = c.post("/api/ask", json={"question": q, "top_k": 4})
                    whole = r.status_code == 200 and r.json() in expected[q]  # exactly A's or B's answer
                    results.append((r.status_code, versions_consistent_with(r.json()) if whole else set()))
                except Exception as e:  # a dropped connection counts as an error too
                    errors.append(repr(e))
                i += 1

    with BackgroundServer(app) as url:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        seen_docs = []
        for version in (VERSION_B, VERSION_A) * 3:
            time.sleep(0.3)
            write_docs(docs, version)
            build_index(docs, index, enc)
            deadline = time.monotonic() + 20
            while svc.status()["documents"] != len(version) and time.monotonic() < deadline:
                time.sleep(0.02)
            seen_docs.append(svc.status()["documents"])
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert seen_docs == [3, 2] * 3 and svc.reloads == 6
    assert len(results) > 50
    assert [r for r in results if r[0] != 200] == []
    mixed = [r for r in results if not r[1]]
    assert mixed == []  # every answer agrees with one whole version
    only_a = sum(1 for _, v in results if v == {"A"})
    only_b = sum(1 for _, v in results if v == {"B"})
    assert only_a > 0 and only_b > 0  # both versions were really served during the run


def test_healthz_reports_build_time_and_documents_of_the_served_index(library: tuple[Path, Path]) -> None:
    docs, index = library
    enc = FakeEncoder()
    svc = serve(docs, index, enc)
    app = create_app(svc, rate_limiter=RateLimiter(0), reload_interval=0)
    with BackgroundServer(app) as url:
        before = httpx.get(url + "/healthz").json()
        assert before["documents"] == 2 and before["built_at"] == svc.data.manifest.built_at
        assert before["reloads"] == 0 and "loaded_at" in before and "reload_error" not in before
        time.sleep(1.1)  # built_at has one-second resolution
        write_docs(docs, VERSION_B)
        build_index(docs, index, enc)
        assert svc.reload() is True and svc.reload() is False  # unchanged manifest: no second load
        after = httpx.get(url + "/healthz").json()
        assert after["documents"] == 3 and after["built_at"] > before["built_at"] and after["reloads"] == 1


def test_a_damaged_or_foreign_index_on_disk_is_not_served(library: tuple[Path, Path]) -> None:
    docs, index = library
    enc = FakeEncoder()
    svc = serve(docs, index, enc)
    question = QUESTIONS[0]
    before = svc.ask(question).to_dict()
    write_docs(docs, VERSION_B)
    build_index(docs, index, enc)
    (index / "chunk_vectors.npy").write_bytes(b"garbage")  # damaged after the build
    assert svc.reload() is False
    assert "chunk_vectors.npy" in svc.reload_error and "qa index build" in svc.reload_error
    assert svc.ask(question).to_dict() == before and svc.status()["reload_error"] == svc.reload_error

    class OtherModel(FakeEncoder):
        name = "another-model"

    build_index(docs, index, OtherModel())
    assert svc.reload() is False and "restart the app" in svc.reload_error
    assert svc.ask(question).to_dict() == before
    build_index(docs, index, enc)  # fixed: served, the error cleared
    assert svc.reload() is True and svc.reload_error == "" and svc.status()["documents"] == 3


def test_watcher_picks_up_a_new_index_and_survives_errors(library: tuple[Path, Path]) -> None:
    docs, index = library
    enc = FakeEncoder()
    svc = serve(docs, index, enc)
    w = IndexWatcher(svc, interval=0.05).start()
    try:
        shutil.rmtree(index)  # gone: nothing to load, keep serving
        time.sleep(0.2)
        assert svc.status()["documents"] == 2
        write_docs(docs, VERSION_B)
        build_index(docs, index, enc)
        deadline = time.monotonic() + 10
        while svc.status()["documents"] != 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert svc.status()["documents"] == 3
        assert svc.snapshot.signature == manifest_signature(index)
    finally:
        w.stop()


def test_a_failed_job_leaves_the_served_index_and_the_disk_untouched(library: tuple[Path, Path]) -> None:
    docs, index = library
    enc = FakeEncoder()
    svc = serve(docs, index, enc)
    before, sig = svc.ask(QUESTIONS[0]).to_dict(), manifest_signature(index)
    jobs = IndexJobs(svc)
    for p in docs.glob("*.txt"):
        p.unlink()  # nothing left to index
    jobs.submit("update")
    assert jobs.wait(30)
    last = jobs.state()["last"]
    assert last["phase"] == "failed" and "no supported documents" in last["error"]
    assert svc.ask(QUESTIONS[0]).to_dict() == before and manifest_signature(index) == sig

    class Exploding(FakeEncoder):
        def encode_documents(self, texts: list[str], progress: bool = False) -> Any:
            raise RuntimeError("out of memory")

    write_docs(docs, VERSION_B)
    svc.encoder = Exploding()  # the model fails halfway through a build
    jobs.submit("build")
    assert jobs.wait(30)
    assert jobs.state()["last"]["phase"] == "failed" and "out of memory" in jobs.state()["last"]["error"]
    assert svc.ask(QUESTIONS[0]).to_dict() == before and manifest_signature(index) == sig and svc.reloads == 0


def test_jobs_report_progress_and_fold_requests_together(library: tuple[Path, Path]) -> None:
    docs, index = library
    enc = FakeEncoder()
    svc = serve(docs, index, enc)
    jobs = IndexJobs(svc)
    seen: list[tuple[str, int, int]] = []
    gate = threading.Event()

    class Slow(FakeEncoder):
        def encode_documents(self, texts: list[str], progress: bool = False) -> Any:
            gate.wait(10)
            return super().encode_documents(texts)

    svc.encoder = Slow()
    write_docs(docs, VERSION_B)
    first = jobs.submit("update")
    time.sleep(0.1)
    second, third = jobs.submit("update"), jobs.submit("build")
    assert second is third and third.kind == "build" and first is not second  # queued once, as a build
    running = jobs.state()["running"]
    seen.append((running["phase"], running["done"], running["total"]))
    gate.set()
    assert jobs.wait(30)
    state = jobs.state()
    assert [j["phase"] for j in state["jobs"]] == ["done", "done"]
    assert state["last"]["summary"]["documents"] == 3 and state["last"]["done"] == state["last"]["total"] > 0
    assert seen[0][0] in ("reading", "encoding") and svc.status()["documents"] == 3


def test_cli_update_is_seen_by_the_running_app(library: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """`qa index update` in a terminal, then the chat's API answers from the new document, no restart."""
    docs, index = library
    enc = FakeEncoder()
    svc = serve(docs, index, enc)
    monkeypatch.setattr(qa.model.encoder, "load_encoder", lambda *a, **k: enc)
    monkeypatch.setattr(qa.startup, "load_encoder", lambda *a, **k: enc)
    app = create_app(svc, rate_limiter=RateLimiter(0), reload_interval=0.1)
    with BackgroundServer(app) as url:
        q = {"question": "Hồ Tây có chu vi bao nhiêu?"}
        assert "c.txt" not in {p["doc"] for p in httpx.post(url + "/api/ask", json=q).json()["passages"]}
        write_docs(docs, VERSION_B)
        assert qa_main(["index", "update", "--quiet", "--docs", str(docs), "--index", str(index),
                        "--model", "fake-encoder"]) == 0
        deadline = time.monotonic() + 10
        while httpx.get(url + "/healthz").json()["documents"] != 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        body = httpx.post(url + "/api/ask", json=q).json()
        assert body["passages"][0]["doc"] == "c.txt" and "17 km" in body["passages"][0]["text"]
    assert load_index(index).manifest.counts.documents == 3
