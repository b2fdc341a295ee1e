"""An index folder's documents, read from documents.jsonl when asked for (texts stay on disk).

A served index needs a document's text only for the few documents an answer cites, so holding
every text in memory (hundreds of MB at 100 k chunks, on top of the chunk texts) buys nothing::

    docs = DocumentFile(Path("index/documents.jsonl"))
    docs["hai-phong.txt"].text[:9]      # 'Hải Phòng'
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from qa.schema import Document


def document_row(d: Document) -> dict[str, Any]:
    """The JSON row of one document in documents.jsonl."""
    return {"doc_id": d.doc_id, "title": d.title, "sha256": d.sha256, "text": d.text,
            "spans": [list(s) for s in d.spans]}


def document_from_row(r: dict[str, Any]) -> Document:
    """Inverse of `document_row`."""
    return Document(str(r["doc_id"]), str(r["title"]), str(r["text"]), str(r["sha256"]),
                    tuple((int(a), int(b)) for a, b in r["spans"]))


class DocumentFile(Mapping[str, Document]):
    """doc_id -> Document over a documents.jsonl file, each read (and decoded) on access.

    The file stays open for the object's life: a rebuild swapped in later replaces the folder, not
    what this reads (the old file lives while open). The last `cache` documents read stay decoded.
    """

    def __init__(self, path: Path, cache: int = 32) -> None:
        self.path = path
        fd = os.open(path, os.O_RDONLY)
        self._fd = fd
        weakref.finalize(self, os.close, fd)
        self._where: dict[str, tuple[int, int]] = {}  # doc_id -> (byte offset, length) of its line
        self._recent: OrderedDict[str, Document] = OrderedDict()
        self._cache = cache
        self._lock = threading.Lock()
        pos = 0
        with open(path, "rb") as f:
            for line in f:
                if line.strip():
                    doc = document_from_row(json.loads(line))  # validates every row once, at load
                    if doc.doc_id in self._where:
                        raise ValueError(f"document {doc.doc_id!r} appears twice")
                    self._where[doc.doc_id] = (pos, len(line))
                pos += len(line)

    def __getitem__(self, doc_id: str) -> Document:
        with self._lock:
            doc = self._recent.get(doc_id)
            if doc is not None:
                self._recent.move_to_end(doc_id)
                return doc
        at, size = self._where[doc_id]  # KeyError for an unknown id, as a dict
        doc = document_from_row(json.loads(os.pread(self._fd, size, at)))
        with self._lock:
            self._recent[doc_id] = doc
            while len(self._recent) > self._cache:
                self._recent.popitem(last=False)
        return doc

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __reduce__(self) -> Any:  # a copy in another process reopens the file rather than an fd number
        return (DocumentFile, (self.path, self._cache))
