"""Pack whole sentences of a document's kept text into overlapping passages with exact offsets.

Every chunk satisfies `chunk.text == doc.text[chunk.start:chunk.end]`. 900 characters of Vietnamese
is about 250 model tokens, well under the encoder's 512-token window.

>>> from qa.schema import Document
>>> doc = Document("a.txt", "A", "Một. Hai. Ba.", "0" * 64, ((0, 13),))
>>> [c.text for c in chunk_document(doc, ChunkingParams(max_chars=12))]
['Một. Hai.', 'Hai. Ba.']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from qa.errors import QAError
from qa.lang.sentences import split_sentences
from qa.schema import Chunk, Document

Span = tuple[int, int]
_OVERLAP_SHARE = 1 / 3  # the repeated sentences take at most this share of max_chars


class ChunkingParamsError(QAError, ValueError):
    """Chunking parameters out of range (a ValueError too, for callers that expect one)."""


@dataclass(frozen=True)
class ChunkingParams:
    """How documents are cut; stored with the index so a rebuild can tell when they changed."""

    max_chars: int = 900
    overlap_sentences: int = 1
    max_sentence_chars: int = 400

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ChunkingParamsError(f"max_chars must be >= 1, got {self.max_chars}; the default is 900")
        if self.overlap_sentences < 0:
            raise ChunkingParamsError(
                f"overlap_sentences must be >= 0, got {self.overlap_sentences}; the default is 1"
            )
        if self.max_sentence_chars < 1:
            raise ChunkingParamsError(
                f"max_sentence_chars must be >= 1, got {self.max_sentence_chars}; the default is 400"
            )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChunkingParams:
        """Missing keys take their defaults; unknown keys are ignored (written by a newer version)."""
        try:
            return cls(**{f.name: int(d[f.name]) for f in fields(cls) if f.name in d})
        except (TypeError, ValueError) as e:
            if isinstance(e, ChunkingParamsError):
                raise
            raise ChunkingParamsError(f"chunking parameters {d!r} are not integers ({e})") from e


def _segments(text: str, spans: Iterable[Span]) -> list[list[Span]]:
    """Group kept spans that only whitespace separates; removed text between two spans is a wall."""
    out: list[list[Span]] = []
    prev_end: int | None = None
    for a, b in spans:
        if prev_end is None or text[prev_end:a].strip():
            out.append([])
        out[-1].append((a, b))
        prev_end = b
    return out


def _pack(sents: list[Span], max_chars: int, overlap: int) -> list[tuple[int, int]]:
    """Half-open sentence index ranges: greedy up to max_chars, each repeating up to `overlap` sentences."""
    out = []
    i, n = 0, len(sents)
    while i < n:
        j = i + 1  # a sentence longer than max_chars still gets a chunk of its own
        while j < n and sents[j][1] - sents[i][0] <= max_chars:
            j += 1
        out.append((i, j))
        if j >= n:
            break
        # overlap only as far as it stays a minor share of a chunk and leaves room for the next new
        # sentence (two long sentences overlapping by one would make every chunk half duplicate);
        # always move forward
        k = max(j - overlap, i + 1)
        while k < j and (
            sents[j - 1][1] - sents[k][0] > max_chars * _OVERLAP_SHARE
            or sents[j][1] - sents[k][0] > max_chars
        ):
            k += 1
        i = k
    return out


def _whole(text: str) -> tuple[Span, ...]:
    a, b = 0, len(text)
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return ((a, b),) if a < b else ()


def chunk_document(doc: Document, params: ChunkingParams | None = None) -> list[Chunk]:
    """Chunks of whole sentences from `doc.spans` (all of `doc.text` when spans is empty), in order."""
    params = params or ChunkingParams()
    text = doc.text
    chunks = []
    for segment in _segments(text, doc.spans or _whole(text)):
        sents = [s for a, b in segment for s in split_sentences(text, a, b, params.max_sentence_chars)]
        for i, j in _pack(sents, params.max_chars, params.overlap_sentences):
            start, end = sents[i][0], sents[j - 1][1]
            chunks.append(Chunk(doc.doc_id, doc.title, text[start:end], start, end, tuple(sents[i:j])))
    return chunks


def chunk_documents(docs: Iterable[Document], params: ChunkingParams | None = None) -> list[Chunk]:
    """All chunks of all documents, documents in the given order."""
    return [c for doc in docs for c in chunk_document(doc, params)]
