"""Typed records shared by the pipeline; every offset indexes a document's original text.

>>> Highlight(3, 9, "answer").to_dict()
{'start': 3, 'end': 9, 'label': 'answer'}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# answer: the answering sentence(s); phrase: the answer itself inside it; term: a question word;
# focus: the passage shown in the document view
HighlightLabel = Literal["answer", "phrase", "term", "focus"]


@dataclass(frozen=True)
class Document:
    """A loaded document: `text` is the original decoded text, `spans` the parts kept by cleaning."""

    doc_id: str  # path relative to the docs folder, with '/' separators
    title: str
    text: str
    sha256: str  # of the file's bytes
    spans: tuple[tuple[int, int], ...] = ()  # kept blocks (start, end); empty = whole text


@dataclass(frozen=True)
class Chunk:
    """A passage of whole sentences: `text == document.text[start:end]`."""

    doc_id: str
    title: str
    text: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]  # (start, end) per sentence, document offsets

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "sentences": [list(s) for s in self.sentences],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(
            doc_id=str(d["doc_id"]),
            title=str(d["title"]),
            text=str(d["text"]),
            start=int(d["start"]),
            end=int(d["end"]),
            sentences=tuple((int(a), int(b)) for a, b in d["sentences"]),
        )


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the per-retriever evidence."""

    chunk_id: int
    score: float
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True)
class Highlight:
    """A labelled span in document offsets."""

    start: int
    end: int
    label: HighlightLabel

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}


@dataclass(frozen=True)
class Passage:
    """A passage shown to the user, best first."""

    doc: str
    title: str
    text: str
    start: int
    end: int
    score: float
    highlights: tuple[Highlight, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc": self.doc,
            "title": self.title,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 6),
            "highlights": [h.to_dict() for h in self.highlights],
        }


@dataclass(frozen=True)
class Phrase:
    """The answer phrase inside the answering sentence: `text == document.text[start:end]`."""

    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class AnswerSpan:
    """The answering sentence(s): `text == document.text[start:end]`; `phrase` lies inside it."""

    text: str
    doc: str
    start: int
    end: int
    score: float
    phrase: Phrase | None = None
    tentative: bool = False  # a best guess shown as uncertain ("Có thể: …"): the probability is low

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "doc": self.doc,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 6),
            "phrase": self.phrase.to_dict() if self.phrase else None,
            "tentative": self.tentative,
        }


NOT_FOUND_VI = "Không tìm thấy thông tin này trong tài liệu."


@dataclass(frozen=True)
class Answer:
    """What `qa ask --json` prints: `answer` is None when the system abstains."""

    question: str
    answer: AnswerSpan | None
    passages: tuple[Passage, ...] = ()
    confidence: float = 0.0
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    missing: str = ""  # why it abstained although the passages are close (Vietnamese), else ""
    resolved: str = ""  # a follow-up's stand-alone form, the question actually answered ("" = as asked)

    @property
    def abstained(self) -> bool:
        return self.answer is None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"question": self.question}
        if self.resolved:
            out["resolved_question"] = self.resolved
        out["answer"] = self.answer.to_dict() if self.answer else None
        out["passages"] = [p.to_dict() for p in self.passages]
        return out
