"""A loaded index: the catalogue read from the folder, the rows from the engine its manifest names.

    data = load_index(Path("index"))               # validated: sizes, hashes, counts
    data.manifest.counts                           # Counts(documents=1, chunks=26, sentences=102)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.index.catalogue.folder import damaged, read_json, read_texts, verify_files
from qa.index.catalogue.manifest import Manifest, read_manifest
from qa.index.engines.base import BackendMismatchError, BackendSettings, RowSearch
from qa.index.engines.dense import DenseIndex
from qa.index.engines.lexical import CorpusTerms, LexicalIndex
from qa.index.engines.registry import engine_for
from qa.index.engines.sparse import TermVocabulary
from qa.lang.diacritics import DiacriticRestorer
from qa.schema import Chunk, Document

__all__ = ["BackendMismatchError", "IndexData", "load_index", "read_manifest"]


@dataclass
class IndexData:
    """Everything retrieval and answering need; built once, then only read (loaded vectors are
    read-only memory maps of the index files)."""

    manifest: Manifest
    documents: Mapping[str, Document]  # a DocumentFile once loaded: texts read on demand
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    dense: DenseIndex | None  # None when the vectors live in an engine (`backend`)
    lexical: LexicalIndex | TermVocabulary  # an engine backend keeps only the vocabulary, for has_phrase
    terms: CorpusTerms
    restorer: DiacriticRestorer
    backend: RowSearch | None = None  # a Qdrant engine holding the vectors; None = in-process
    sentence_offsets: np.ndarray = field(init=False)  # row of chunk i's first sentence in sentence_vectors

    def __post_init__(self) -> None:
        counts = [len(c.sentences) for c in self.chunks]
        self.sentence_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def load_index(live: Path, backend: BackendSettings | None = None) -> IndexData:
    """Load and validate an index folder; its rows from the engine its manifest names (`backend`, the
    configured QA_BACKEND, must agree when given; None = as recorded)."""
    live = live.resolve()
    manifest = read_manifest(live)
    kind = manifest.backend.kind
    engine = engine_for(kind, f"{live}/manifest.json")
    if backend is not None and backend.kind != kind:
        raise BackendMismatchError(f"{live} was built for backend {kind} but QA_BACKEND is {backend.label}; "
                                   "run `qa index build` to build it for that backend")
    verify_files(live, manifest)
    try:
        docs, chunks = read_texts(live)
        terms = CorpusTerms.from_dict(read_json(live / "terms.json"))
        restorer = DiacriticRestorer.from_dict(read_json(live / "diacritics.json"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise damaged(live, e) from e
    rows = engine.load(live, manifest, backend, chunks)
    return IndexData(manifest, docs, chunks, rows.chunk_vectors, rows.sentence_vectors, rows.dense, rows.lexical,
                     terms, restorer, backend=rows.backend)
