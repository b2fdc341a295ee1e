"""Evaluation files, in either of two formats (detected per file):

- the seed format `[{"question", "answers": [str, ...], "kind", "pair_of"?, "history"?}]`, where
  `answers: []` marks a question the documents cannot answer (the system should abstain) and
  `history` lists the conversation's previous questions, oldest first (a follow-up question);
- the SQuAD-like format of the shared data `[{"question", "context", "answers": [{"text",
  "answer_start"}]}]`: the paragraph travels with the question, and a gold answer counts only
  inside a document holding that paragraph.

Held-out data is split by paragraph, never by question (questions on one paragraph share words):
`heldout(context)` is a fixed hash rule, so every script holds out the same paragraphs.

>>> import json, tempfile
>>> f = Path(tempfile.mkdtemp()) / "qa.json"
>>> _ = f.write_text(json.dumps([{"question": "Ai?", "answers": ["An"], "kind": "person"}]), "utf-8")
>>> load_qa_file(f)
[EvalItem(question='Ai?', answers=('An',), kind='person', pair_of=None, context=None, starts=(), history=())]
>>> _ = f.write_text(json.dumps([{"question": "Ai?", "context": "Ông An đến.",
...                               "answers": [{"text": "An", "answer_start": 4}]}]), "utf-8")
>>> load_qa_file(f)[0].starts
(4,)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qa.errors import EvalFileError

# calib + test = heldout; calib_all / test_all halve a file that is held out as a whole (a dev split)
Split = Literal["all", "heldout", "train", "calib", "test", "calib_all", "test_all"]


@dataclass(frozen=True)
class EvalItem:
    """One question with the texts that answer it (none: unanswerable)."""

    question: str
    answers: tuple[str, ...]
    kind: str = "all"
    pair_of: int | None = None  # index of the accented twin of a question typed without diacritics
    context: str | None = None  # SQuAD-like files: the paragraph holding the answers
    starts: tuple[int, ...] = ()  # SQuAD-like files: each answer's offset into `context`
    history: tuple[str, ...] = ()  # previous questions of the conversation, oldest first (follow-ups)


def paragraph_key(context: str) -> str:
    """A stable name for a paragraph: the first 12 hex digits of its sha1."""
    return hashlib.sha1(context.encode("utf-8")).hexdigest()[:12]


def heldout(context: str) -> bool:
    """True for the fifth of the paragraphs that tuning and training never see.

    >>> heldout("Hà Nội là thủ đô của Việt Nam.")
    False
    """
    return int(hashlib.sha1(context.encode("utf-8")).hexdigest()[:8], 16) % 5 == 0


def calibration(context: str) -> bool:
    """True for the held-out paragraphs that calibrate the answer decision (the other half is `test`).

    >>> calibration("Hà Nội là thủ đô của Việt Nam.")
    True
    """
    return int(hashlib.sha1(context.encode("utf-8")).hexdigest()[8:16], 16) % 2 == 0


def _in(context: str, split: Split) -> bool:
    if split in ("calib_all", "test_all"):
        return calibration(context) == (split == "calib_all")
    if split == "train":
        return not heldout(context)
    if split == "heldout":
        return heldout(context)
    return heldout(context) and calibration(context) == (split == "calib")


def select(items: list[EvalItem], split: Split) -> list[EvalItem]:
    """The items of one split; seed-format items (no paragraph) belong to every split.

    `train`: what the reader learns from; `heldout`: the rest, halved into `calib` (the decision's
    calibration, which needs a reader that never saw the paragraphs) and `test` (measurement only).
    """
    if split == "all":
        return items
    return [it for it in items if it.context is None or _in(it.context, split)]


def write_paragraph_docs(items: list[EvalItem], folder: Path) -> int:
    """One .txt document per distinct paragraph (named by `paragraph_key`); returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    contexts = {it.context for it in items if it.context}
    for c in contexts:
        (folder / f"{paragraph_key(c)}.txt").write_text(c, encoding="utf-8")
    return len(contexts)


def _squad_item(path: Path, i: int, it: dict[str, Any]) -> EvalItem:
    context, answers = it.get("context"), it.get("answers")
    if not isinstance(context, str) or not context.strip():
        raise EvalFileError(f"{path}: item {i} has no non-empty string 'context'")
    if not isinstance(answers, list):
        raise EvalFileError(f"{path}: item {i} 'answers' must be a list of {{text, answer_start}} ([] = unanswerable)")
    texts, starts = [], []
    for a in answers:
        text, start = (a.get("text"), a.get("answer_start")) if isinstance(a, dict) else (None, None)
        if not isinstance(text, str) or not text or not isinstance(start, int) or \
                context[start : start + len(text)] != text:
            raise EvalFileError(f"{path}: item {i} answer {a!r} is not context[answer_start:answer_start + "
                                "len(text)]; fix its offset")
        texts.append(text)
        starts.append(start)
    return EvalItem(it["question"], tuple(texts), str(it.get("kind", "all")), None, context, tuple(starts))


def load_qa_file(path: Path) -> list[EvalItem]:
    """Parse and validate a QA file (either format); EvalFileError names the bad item."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise EvalFileError(f"cannot read QA file {path}: {e}") from e
    except ValueError as e:
        raise EvalFileError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(items, list) or not items:
        raise EvalFileError(f"{path}: expected a non-empty JSON list of {{question, answers, kind}} objects")
    out = []
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise EvalFileError(f"{path}: item {i} is {type(it).__name__}, expected an object")
        if not isinstance(it.get("question"), str) or not it["question"].strip():
            raise EvalFileError(f"{path}: item {i} has no non-empty string 'question'")
        if "context" in it:
            out.append(_squad_item(path, i, it))
            continue
        ans = it.get("answers")
        if not isinstance(ans, list) or not all(isinstance(a, str) and a for a in ans):
            raise EvalFileError(f"{path}: item {i} 'answers' must be a list of non-empty strings ([] = unanswerable)")
        if "kind" in it and not isinstance(it["kind"], str):
            raise EvalFileError(f"{path}: item {i} 'kind' must be a string")
        pair = it.get("pair_of")
        pair = pair if isinstance(pair, int) and not isinstance(pair, bool) and 0 <= pair < len(items) else None
        history = it.get("history", [])
        if not isinstance(history, list) or not all(isinstance(h, str) and h.strip() for h in history):
            raise EvalFileError(f"{path}: item {i} 'history' must be a list of previous questions (strings)")
        out.append(EvalItem(it["question"], tuple(ans), it.get("kind", "all"), pair, history=tuple(history)))
    return out
