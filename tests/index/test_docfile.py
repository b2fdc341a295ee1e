from __future__ import annotations

import json
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qa.index.catalogue.docfile import DocumentFile, document_row
from qa.schema import Document
from tests.conftest import SMALL_CORPUS


def _docs() -> list[Document]:
    return [Document(name, name.removesuffix(".txt"), text, f"{i:064d}", ((0, len(text)),))
            for i, (name, text) in enumerate(sorted(SMALL_CORPUS.items()))]


def _write(path: Path, docs: list[Document]) -> None:
    path.write_text("".join(json.dumps(document_row(d), ensure_ascii=False) + "\n" for d in docs), "utf-8")


def test_reads_each_document_as_written(tmp_path: Path) -> None:
    docs = _docs()
    _write(tmp_path / "documents.jsonl", docs)
    f = DocumentFile(tmp_path / "documents.jsonl", cache=2)
    assert list(f) == [d.doc_id for d in docs] and len(f) == len(docs)
    for d in reversed(docs):  # more documents than the cache holds, in another order
        assert f[d.doc_id] == d
    assert f.get("missing.txt") is None and "missing.txt" not in f
    with pytest.raises(KeyError):
        f["missing.txt"]
    assert dict(f.items()) == {d.doc_id: d for d in docs}


def test_a_replaced_file_does_not_change_what_is_read(tmp_path: Path) -> None:
    # a rebuild swaps a new folder in: the index still serving must keep reading its own documents
    docs = _docs()
    path = tmp_path / "documents.jsonl"
    _write(path, docs)
    f = DocumentFile(path, cache=1)
    changed = [Document(d.doc_id, d.title, "Văn bản khác hẳn. " * 40, d.sha256, d.spans) for d in docs]
    _write(tmp_path / "new.jsonl", changed)
    os.replace(tmp_path / "new.jsonl", path)
    assert [f[d.doc_id].text for d in docs] == [d.text for d in docs]


def test_concurrent_readers_get_their_own_documents(tmp_path: Path) -> None:
    docs = _docs()
    _write(tmp_path / "documents.jsonl", docs)
    f = DocumentFile(tmp_path / "documents.jsonl", cache=1)
    asked = [docs[i % len(docs)] for i in range(400)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda d: f[d.doc_id], asked))
    assert got == asked


def test_damaged_or_duplicated_rows_are_refused(tmp_path: Path) -> None:
    docs = _docs()
    _write(tmp_path / "dup.jsonl", docs + docs[:1])
    with pytest.raises(ValueError, match="appears twice"):
        DocumentFile(tmp_path / "dup.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"doc_id": "a.txt", "title": "A"}\n', "utf-8")
    with pytest.raises(KeyError):
        DocumentFile(tmp_path / "bad.jsonl")


def test_pickles_by_path(tmp_path: Path) -> None:
    docs = _docs()
    _write(tmp_path / "documents.jsonl", docs)
    copy = pickle.loads(pickle.dumps(DocumentFile(tmp_path / "documents.jsonl")))
    assert copy[docs[0].doc_id] == docs[0]
