"""Evaluation files: the seed format `[{"question", "answers": [str, ...], "kind", "pair_of"?}]`.

`answers: []` marks a question the documents cannot answer (the system should abstain).

>>> import json, tempfile
>>> f = Path(tempfile.mkdtemp()) / "qa.json"
>>> _ = f.write_text(json.dumps([{"question": "Ai?", "answers": ["An"], "kind": "person"}]), "utf-8")
>>> load_qa_file(f)
[EvalItem(question='Ai?', answers=('An',), kind='person', pair_of=None)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qa.errors import EvalFileError


@dataclass(frozen=True)
class EvalItem:
    """One question with the texts that answer it (none: unanswerable)."""

    question: str
    answers: tuple[str, ...]
    kind: str = "all"
    pair_of: int | None = None  # index of the accented twin of a question typed without diacritics


def load_qa_file(path: Path) -> list[EvalItem]:
    """Parse and validate a QA file; EvalFileError names the bad item."""
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
        ans = it.get("answers")
        if not isinstance(ans, list) or not all(isinstance(a, str) and a for a in ans):
            raise EvalFileError(f"{path}: item {i} 'answers' must be a list of non-empty strings ([] = unanswerable)")
        if "kind" in it and not isinstance(it["kind"], str):
            raise EvalFileError(f"{path}: item {i} 'kind' must be a string")
        pair = it.get("pair_of")
        pair = pair if isinstance(pair, int) and not isinstance(pair, bool) and 0 <= pair < len(items) else None
        out.append(EvalItem(it["question"], tuple(ans), it.get("kind", "all"), pair))
    return out
