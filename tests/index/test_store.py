"""The index folder: validation of every file, atomic swap, recovery, disk full, incremental update."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qa.atomic
from qa.config import Settings
from qa.errors import IndexCorruptError, IndexMissingError, QAError
from qa.index.build import build_index, update_index
from qa.index.catalogue.manifest import Manifest, read_manifest
from qa.index.store import load_index
from qa.startup import open_service
from tests.conftest import SEED, SMALL_CORPUS, FakeEncoder


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """An index of the seed built once; tests work on copies."""
    root = tmp_path_factory.mktemp("store")
    (root / "docs").mkdir()
    shutil.copy(SEED, root / "docs" / SEED.name)
    build_index(root / "docs", root / "idx", FakeEncoder())
    return root / "idx", read_manifest(root / "idx")


@pytest.fixture
def idx(template: tuple[Path, Manifest], tmp_path: Path) -> Path:
    shutil.copytree(template[0], tmp_path / "idx")
    return tmp_path / "idx"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    return d


DATA_FILES = ["documents.jsonl", "chunks.jsonl", "chunk_vectors.npy", "sentence_vectors.npy", "dense.faiss",
              "terms.json", "diacritics.json",
              "bm25_norm/vocab.index.json", "bm25_norm/data.csc.index.npy",
              "bm25_folded/indptr.csc.index.npy", "bm25_folded/params.index.json"]


def test_manifest_lists_every_file(template: tuple[Path, Manifest]) -> None:
    live, manifest = template
    on_disk = sorted(p.relative_to(live).as_posix() for p in live.rglob("*") if p.is_file())
    assert sorted([*manifest.files, "manifest.json"]) == on_disk
    assert set(DATA_FILES) <= set(manifest.files)
    assert all(m.sha256 is not None and len(m.sha256) == 64 for m in manifest.files.values())


def truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def flip(p: Path) -> None:
    """Same size, different bytes (XOR 0xFF also makes JSON/UTF-8 undecodable)."""
    data = bytearray(p.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 8):
        data[i] ^= 0xFF
    p.write_bytes(bytes(data))


def delete(p: Path) -> None:
    p.unlink()


def to_directory(p: Path) -> None:
    p.unlink()
    p.mkdir()
    (p / "x").write_text("x")


FAULTS: dict[str, Callable[[Path], None]] = {"truncated": truncate, "corrupted": flip, "missing": delete,
                                              "directory": to_directory}
EXPECTED = {"truncated": "(truncated?)", "corrupted": "checksum mismatch (corrupted)",
            "missing": "is missing or unreadable", "directory": "(truncated?)"}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("rel", DATA_FILES)
def test_damaged_data_file(idx: Path, rel: str, fault: str) -> None:
    FAULTS[fault](idx / rel)
    with pytest.raises(IndexCorruptError) as ei:
        load_index(idx)
    msg = str(ei.value)
    assert msg.startswith(str(idx.resolve() / rel))
    assert EXPECTED[fault] in msg
    assert msg.endswith("run `qa index build`")


@pytest.mark.parametrize("fault", ["truncated", "corrupted"])
def test_damaged_manifest(idx: Path, fault: str) -> None:
    FAULTS[fault](idx / "manifest.json")
    with pytest.raises(IndexCorruptError, match=r"manifest\.json is unreadable \(.*\); run `qa index build`"):
        load_index(idx)


@pytest.mark.parametrize("fault", ["missing", "directory"])
def test_missing_manifest(idx: Path, fault: str) -> None:
    FAULTS[fault](idx / "manifest.json")
    with pytest.raises(IndexMissingError) as ei:
        load_index(idx)
    assert str(ei.value) == (f"no index at {idx.resolve()} (no manifest.json); "
                             f"run `qa index build --index {idx.resolve()}`")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="no index at .*; run `qa index build --index "):
        load_index(tmp_path / "nowhere")


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda m: m.update(format_version=99), "index format 99 but this version reads 2; run `qa index build`"),
    (lambda m: m.update(format="other"), "is not a qa-vi index manifest; run `qa index build`"),
    (lambda m: m.update(files={}), "manifest.json lists no files; run `qa index build`"),
])
def test_incompatible_manifest(idx: Path, edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    m = json.loads((idx / "manifest.json").read_text("utf-8"))
    edit(m)
    (idx / "manifest.json").write_text(json.dumps(m), "utf-8")
    with pytest.raises(IndexCorruptError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_index(idx)


@pytest.fixture
def deny(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make one path raise PermissionError on open (tests run as root, so chmod 000 would not stop reads)."""

    def install(target: Path) -> None:
        real_open = builtins.open

        def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, (str, os.PathLike)) and Path(file).resolve() == target.resolve():
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)

    return install


@pytest.mark.parametrize("rel", ["documents.jsonl", "chunk_vectors.npy", "bm25_folded/vocab.index.json"])
def test_unreadable_data_file(idx: Path, rel: str, deny: Callable[[Path], None]) -> None:
    deny(idx / rel)
    with pytest.raises(IndexCorruptError) as ei:
        load_index(idx)
    assert str(ei.value).startswith(f"{idx.resolve() / rel} is unreadable ([Errno 13] Permission denied")
    assert str(ei.value).endswith("fix its permissions or run `qa index build`")


def test_unreadable_manifest(idx: Path, deny: Callable[[Path], None]) -> None:
    deny(idx / "manifest.json")
    expected = r"manifest\.json is unreadable \(\[Errno 13\] Permission denied"
    with pytest.raises(IndexCorruptError, match=expected):
        load_index(idx)


# --- atomic swap and recovery ----------------------------------------------------------------------


def test_recovers_old_folder_left_between_renames(idx: Path, template: tuple[Path, Manifest]) -> None:
    old = idx.with_name(".idx.old-4242")
    os.replace(idx, old)  # the state after a kill between swap_in's two renames
    assert load_index(idx).manifest == template[1]
    assert idx.is_dir() and not old.exists()


def test_old_folder_without_manifest_is_not_recovered(idx: Path) -> None:
    old = idx.with_name(".idx.old-4242")
    os.replace(idx, old)
    (old / "manifest.json").unlink()
    with pytest.raises(IndexMissingError):
        load_index(idx)


def test_leftover_temp_folders_are_harmless(idx: Path, docs: Path,
                                            template: tuple[Path, Manifest]) -> None:
    half = idx.with_name(".idx.new-half")  # a build killed while writing
    half.mkdir()
    (half / "chunks.jsonl").write_text('{"doc_id": "x"', "utf-8")
    full = idx.with_name(".idx.new-full")  # a build killed just before its swap
    shutil.copytree(idx, full)
    assert load_index(idx).manifest == template[1]
    (docs / "hue.txt").write_text(SMALL_CORPUS["hue.txt"], "utf-8")
    build_index(docs, idx, FakeEncoder())
    assert load_index(idx).manifest.counts.documents == 2


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_swap_replaces_live_index(idx: Path, docs: Path, exchange: bool,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if not exchange:
        monkeypatch.setattr(qa.atomic, "_exchange", lambda a, b: False)
        # a leftover from an earlier process with the same pid (containers reuse pids) must not block
        stale = idx.with_name(f".idx.old-{os.getpid()}")
        stale.mkdir()
        (stale / "junk").write_text("junk")
    (docs / "hue.txt").write_text(SMALL_CORPUS["hue.txt"], "utf-8")
    build_index(docs, idx, FakeEncoder())
    data = load_index(idx)
    assert sorted(data.documents) == [SEED.name, "hue.txt"]
    leftovers = sorted(p.name for p in idx.parent.iterdir() if p.name.startswith(".idx."))
    assert leftovers == ([] if exchange else [f".idx.old-{os.getpid()}"])


def test_vectors_are_mapped_and_outlive_the_swap(idx: Path, docs: Path) -> None:
    # loaded vectors are read-only maps of the files: a rebuild swapped in (and the old folder deleted)
    # must not pull them from under the index that is still serving
    from qa.search.hybrid import Retriever

    old = load_index(idx)
    assert isinstance(old.sentence_vectors, np.memmap)
    assert not old.sentence_vectors.flags.writeable and not old.chunk_vectors.flags.writeable
    before = np.array(old.sentence_vectors)
    (docs / "hue.txt").write_text(SMALL_CORPUS["hue.txt"], "utf-8")
    build_index(docs, idx, FakeEncoder())
    for p in idx.parent.glob(".idx.old-*"):
        shutil.rmtree(p)
    np.testing.assert_array_equal(np.asarray(old.sentence_vectors), before)
    hits = Retriever(old, FakeEncoder()).search("Hội nghị tổ chức ở đâu?", k=3).hits
    assert hits and all(old.chunks[h.chunk_id].doc_id == SEED.name for h in hits)
    assert sorted(load_index(idx).documents) == [SEED.name, "hue.txt"]


# --- disk full while writing: the previous index keeps serving -------------------------------------


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _faiss_full(*args: Any, **kwargs: Any) -> None:
    # what faiss raises when fwrite fails (checked with RLIMIT_FSIZE)
    raise RuntimeError("Error in void faiss::write_index(const Index*, IOWriter*, int) at "
                       "index_write.cpp:499: Error: 'ret == (size * 4)' failed: write error in dense.faiss: "
                       "4051 != 25600 (No space left on device)")


@pytest.mark.parametrize(("target", "fake"), [
    ("numpy.save", _enospc),
    ("qa.index.catalogue.folder.write_jsonl", _enospc),
    ("qa.index.engines.lexical.LexicalIndex.save", _enospc),
    ("faiss.write_index", _faiss_full),
    ("qa.index.catalogue.folder.fsync_tree", _enospc),
])
def test_disk_full_keeps_previous_index(idx: Path, docs: Path, template: tuple[Path, Manifest],
                                        monkeypatch: pytest.MonkeyPatch, target: str, fake: Any) -> None:
    (docs / "hue.txt").write_text(SMALL_CORPUS["hue.txt"], "utf-8")
    monkeypatch.setattr(target, fake)
    with pytest.raises(QAError) as ei:
        build_index(docs, idx, FakeEncoder())
    msg = str(ei.value)
    assert msg.startswith(f"could not write the index beside {idx.resolve()}: ")
    assert "No space left on device" in msg
    assert msg.endswith("the previous index is unchanged "
                        "(free some disk space or choose another --index folder)")
    assert [p.name for p in idx.parent.iterdir() if p.name.startswith(".idx.")] == []
    monkeypatch.undo()
    assert load_index(idx).manifest == template[1]
    svc = open_service(Settings(docs_dir=docs, index_dir=idx, auto_build="never"), encoder=FakeEncoder(),
                       progress=False, log=lambda m: None)
    assert svc.status()["documents"] == 1


# --- incremental update == full rebuild -------------------------------------------------------------


def _snapshot(live: Path) -> dict[str, Any]:
    d = load_index(live)
    m = replace(d.manifest, built_at="", build_seconds=0.0, files={})
    return {"manifest": m, "documents": d.documents, "chunks": d.chunks, "cvec": d.chunk_vectors,
            "svec": d.sentence_vectors}


QUESTIONS = ["Ai chủ trì hội nghị cán bộ chủ chốt thành phố?", "Sông Hương chảy qua đâu?",
             "ho hoan kiem o dau", "Thu ngân sách năm 2017 của Hải Phòng?", "Phố cổ có bao nhiêu phố phường?"]


def test_update_equals_full_rebuild(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEED, docs / SEED.name)
    for name, text in SMALL_CORPUS.items():
        (docs / name).write_text(text, "utf-8")
    inc, full = tmp_path / "inc", tmp_path / "full"
    enc = FakeEncoder()
    build_index(docs, inc, enc)
    # add one, change one, delete one
    (docs / "sub").mkdir()
    (docs / "sub" / "danang.txt").write_text("Đà Nẵng có cầu Rồng bắc qua sông Hàn. Biển Mỹ Khê rất đẹp.",
                                             "utf-8")
    (docs / "hue.txt").write_text(SMALL_CORPUS["hue.txt"] + " Lăng Tự Đức nằm ở Huế.", "utf-8")
    (docs / "hanoi.md").unlink()
    enc.encoded = 0
    rep = update_index(docs, inc, enc)
    assert (rep.full, rep.added, rep.changed, rep.removed, rep.reused_documents) == (
        False, ["sub/danang.txt"], ["hue.txt"], ["hanoi.md"], 2)
    seed_texts = sum(1 + len(c.sentences) for c in load_index(inc).chunks if c.doc_id == SEED.name)
    assert 0 < enc.encoded == rep.encoded_texts < seed_texts  # the seed was not re-encoded
    build_index(docs, full, FakeEncoder())
    a, b = _snapshot(inc), _snapshot(full)
    assert a["manifest"] == b["manifest"]
    assert a["documents"] == b["documents"]
    assert a["chunks"] == b["chunks"]
    np.testing.assert_array_equal(a["cvec"], b["cvec"])
    np.testing.assert_array_equal(a["svec"], b["svec"])
    keys = [(c.doc_id, c.start, c.end) for c in a["chunks"]]
    assert len(keys) == len(set(keys))
    assert {c.doc_id for c in a["chunks"]} == {SEED.name, "haiphong.txt", "hue.txt", "sub/danang.txt"}
    svc_a, svc_b = (open_service(Settings(docs_dir=docs, index_dir=p, auto_build="never"),
                                 encoder=FakeEncoder(), progress=False, log=lambda m: None)
                    for p in (inc, full))
    for q in QUESTIONS:
        assert svc_a.ask(q, top_k=10).to_dict() == svc_b.ask(q, top_k=10).to_dict()


def test_update_with_nothing_changed_reuses_everything(idx: Path, docs: Path,
                                                       template: tuple[Path, Manifest]) -> None:
    enc = FakeEncoder()
    rep = update_index(docs, idx, enc)
    assert (rep.full, rep.added, rep.changed, rep.removed, rep.reused_documents, enc.encoded) == (
        False, [], [], [], 1, 0)
    assert load_index(idx).chunks == load_index(template[0]).chunks


def test_chunk_vectors_are_held_once_and_outlive_their_index(idx: Path) -> None:
    import gc

    from qa.index.engines.dense import DenseIndex
    from qa.index.engines.inprocess import one_copy

    on_disk = np.load(idx / "chunk_vectors.npy")
    vectors = load_index(idx).chunk_vectors  # FAISS's copy (a flat index here), the rest of the index dropped
    gc.collect()
    assert not isinstance(vectors, np.memmap)
    np.testing.assert_array_equal(np.asarray(vectors[3:7]), on_disk[3:7])
    other = DenseIndex.build(np.roll(on_disk, 1, axis=0))
    with pytest.raises(IndexCorruptError, match="disagree from row 0"):
        one_copy(idx, other, on_disk)
