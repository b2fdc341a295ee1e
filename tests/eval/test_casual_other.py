"""The casual-question set on documents other than the seed: well formed, every answer in its documents."""

from __future__ import annotations

from pathlib import Path

from qa.eval.data import load_qa_file
from qa.ingest.documents import load_documents

DATA = Path(__file__).resolve().parents[1] / "data"


def test_casual_other_answers_are_in_its_documents() -> None:
    items = load_qa_file(DATA / "casual_other.json")
    texts = [d.text for d in load_documents(DATA / "casual_other")]
    assert len(items) >= 25 and {it.kind for it in items} == {"casual"}
    assert any(it.question == "giam doc cty la ai" for it in items)  # the README's example
    for it in items:
        assert it.answers and all(sum(a in t for t in texts) >= 1 for a in it.answers), it.question
