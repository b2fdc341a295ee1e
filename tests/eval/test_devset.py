"""Integrity of the seed evaluation data: tests/data/seed_dev.json and tests/data/seed_pairs.json.

The checks live in `dev_problems` / `pair_problems` (lists of human-readable problems) so that a
corrupted copy can prove each check is alive.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from qa.lang.text import fold, has_diacritics

TESTS = Path(__file__).resolve().parents[1]
SEED = TESTS.parent / "seeds" / "000_1ba926b528c724f1.txt"
DATA = TESTS / "data"
DEV = DATA / "seed_dev.json"
PAIRS = DATA / "seed_pairs.json"
HOLDOUT = DATA / "seed_holdout.json"  # written blind, never used for tuning: a check of generalization

MIN_COUNTS = {
    "lexical": 15,
    "paraphrase": 15,
    "numeric": 12,
    "no_diacritics": 12,
    "english": 8,
    "casual": 10,
    "unanswerable": 12,  # near misses: on the article's topics, but the fact is not in it
    "off_topic": 12,  # nothing to do with the article, typed every way
    "multi_part": 6,
    "follow_up": 12,  # asked after another question, leaning on it ("còn … thì sao?", "ông ấy", "năm đó")
}
UNANSWERABLE = frozenset({"unanswerable", "off_topic"})
KINDS = frozenset(MIN_COUNTS)
TWIN_KINDS = frozenset({"lexical", "paraphrase", "numeric"})
MAX_ANSWER_CHARS = 160  # answers are short spans, not paragraphs
MAX_SENTENCE_CHARS = 300


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def seed_body(text: str) -> str:
    """The article without the print header line and the site furniture that cleaning removes."""
    start = text.index("\n") + 1
    end = text.index("Tiện ích thông tin")
    return text[start:end]


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def dev_problems(items: Any, seed: str) -> list[str]:
    """Every way the dev set breaks its contract; [] when it is sound."""
    if not isinstance(items, list):
        return [f"dev set is {type(items).__name__}, expected list"]
    body = seed_body(seed)
    out: list[str] = []
    seen: set[str] = set()
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            out.append(f"#{i}: not an object")
            continue
        q, answers, kind = it.get("question"), it.get("answers"), it.get("kind")
        if not isinstance(q, str) or not q.strip():
            out.append(f"#{i}: empty or missing question")
            continue
        if q.strip() in seen:
            out.append(f"#{i}: duplicate question {q!r}")
        seen.add(q.strip())
        if kind not in KINDS:
            out.append(f"#{i}: unknown kind {kind!r}")
        if not isinstance(answers, list) or not all(isinstance(a, str) and a for a in answers):
            out.append(f"#{i}: answers must be a list of non-empty strings")
            continue
        if (kind in UNANSWERABLE) != (answers == []):
            out.append(f"#{i}: kind {kind!r} with {len(answers)} answers")
        if kind == "multi_part" and len(answers) < 2:
            out.append(f"#{i}: multi_part needs a span per part")
        for a in answers:
            if a not in body:
                out.append(f"#{i}: answer not verbatim in the article body: {a!r}")
            if len(a) > MAX_ANSWER_CHARS:
                out.append(f"#{i}: answer longer than {MAX_ANSWER_CHARS} chars: {a[:40]!r}")
        if kind == "no_diacritics":
            out.extend(_twin_problems(i, it, items))
        elif "pair_of" in it:
            out.append(f"#{i}: pair_of on a {kind!r} item")
        history = it.get("history")
        if kind == "follow_up":
            if not isinstance(history, list) or not history or \
                    not all(isinstance(h, str) and h.strip() for h in history):
                out.append(f"#{i}: follow_up needs 'history', the previous questions (non-empty strings)")
        elif history is not None:
            out.append(f"#{i}: history on a {kind!r} item")
    counts = Counter(it.get("kind") for it in items if isinstance(it, dict))
    for kind, need in MIN_COUNTS.items():
        if counts[kind] < need:
            out.append(f"kind {kind!r}: {counts[kind]} questions, need >= {need}")
    return out


def _twin_problems(i: int, it: dict[str, Any], items: list[Any]) -> list[str]:
    q, j = it["question"], it.get("pair_of")
    if has_diacritics(q) or q != q.lower():
        return [f"#{i}: no_diacritics question is not plain lowercase ASCII-folded: {q!r}"]
    if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < len(items) or j == i:
        return [f"#{i}: pair_of {j!r} is not the index of another item"]
    twin = items[j]
    if not isinstance(twin, dict) or twin.get("kind") not in TWIN_KINDS:
        return [f"#{i}: pair_of {j} is not a lexical/paraphrase/numeric item"]
    out = []
    if not has_diacritics(str(twin.get("question", ""))):
        out.append(f"#{i}: twin #{j} has no diacritics")
    if fold(str(twin.get("question", ""))) != fold(q):
        out.append(f"#{i}: twin #{j} folds to {fold(str(twin.get('question', '')))!r}, not {fold(q)!r}")
    if twin.get("answers") != it.get("answers"):
        out.append(f"#{i}: answers differ from twin #{j}")
    return out


def pair_problems(pairs: Any, seed: str, min_count: int = 12) -> list[str]:
    """Every way the question/sentence pairs break their contract; [] when sound."""
    if not isinstance(pairs, list):
        return [f"pairs is {type(pairs).__name__}, expected list"]
    body = seed_body(seed)
    out: list[str] = []
    if len(pairs) < min_count:
        out.append(f"{len(pairs)} pairs, need >= {min_count}")
    questions: set[str] = set()
    sentences: set[str] = set()
    for i, p in enumerate(pairs):
        q = p.get("question") if isinstance(p, dict) else None
        s = p.get("sentence") if isinstance(p, dict) else None
        if not isinstance(q, str) or not q.strip() or not isinstance(s, str) or not s.strip():
            out.append(f"pair #{i}: needs non-empty 'question' and 'sentence' strings")
            continue
        if not has_diacritics(q):
            out.append(f"pair #{i}: question without diacritics: {q!r}")
        if q in questions:
            out.append(f"pair #{i}: duplicate question {q!r}")
        if s in sentences:
            out.append(f"pair #{i}: duplicate sentence")
        questions.add(q)
        sentences.add(s)
        if len(s) >= MAX_SENTENCE_CHARS:
            out.append(f"pair #{i}: sentence has {len(s)} chars, need < {MAX_SENTENCE_CHARS}")
        at = body.find(s)
        if at < 0:
            out.append(f"pair #{i}: sentence not verbatim in the article body: {s[:40]!r}")
            continue
        # a whole sentence: begins after a period or a line break, ends with its own period
        before = body[:at].rstrip(" \t")
        if not s[0].isupper() or not s.endswith(".") or (before and before[-1] not in ".\n"):
            out.append(f"pair #{i}: not a whole sentence: {s[:40]!r}")
    return out


def test_seed_dev_is_sound() -> None:
    assert dev_problems(load(DEV), seed_text()) == []


def test_seed_holdout_is_sound_and_disjoint_from_dev() -> None:
    holdout = load(HOLDOUT)
    body = seed_body(seed_text())
    for it in holdout:
        assert it["kind"] in KINDS, it
        assert (it["kind"] in UNANSWERABLE) == (it["answers"] == []), it
        assert all(a in body and len(a) <= MAX_ANSWER_CHARS for a in it["answers"]), it
    assert not {it["question"] for it in holdout} & {it["question"] for it in load(DEV)}
    assert len(holdout) >= 30


def test_seed_pairs_are_sound() -> None:
    assert pair_problems(load(PAIRS), seed_text()) == []


def test_dev_kind_counts_exact() -> None:
    counts = Counter(it["kind"] for it in load(DEV))
    assert set(counts) == KINDS
    assert sum(counts.values()) >= 90


def test_every_no_diacritics_item_has_a_distinct_twin() -> None:
    items = load(DEV)
    twins = [it["pair_of"] for it in items if it["kind"] == "no_diacritics"]
    assert len(twins) == len(set(twins))
    assert {items[j]["kind"] for j in twins} == TWIN_KINDS


def test_answers_cover_the_whole_article() -> None:
    """Questions reach the beginning, middle and end thirds of the body, not just the lead."""
    body = seed_body(seed_text())
    thirds = Counter(3 * body.index(a) // len(body) for it in load(DEV) for a in it["answers"])
    assert set(thirds) == {0, 1, 2}
    assert min(thirds.values()) >= 10


def test_seed_body_strips_header_and_footer() -> None:
    body = seed_body(seed_text())
    assert "Print Thứ Bảy" not in body
    assert "QR Code" not in body
    assert body.startswith("\nNgày 15/1, tại Cung Văn hóa")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d[0].update(question="  "), "#0: empty or missing question"),
        (lambda d: d[1].update(question=d[0]["question"]), "#1: duplicate question"),
        (lambda d: d[0].update(kind="trivia"), "#0: unknown kind 'trivia'"),
        (lambda d: d[0].update(answers=["Lê Văn Thanh"]), "#0: answer not verbatim"),
        (lambda d: d[0].update(answers=["Print Thứ Bảy"]), "#0: answer not verbatim"),
        (lambda d: d[0].update(answers=[]), "#0: kind 'lexical' with 0 answers"),
        (lambda d: d[0].update(history=["Ai?"]), "#0: history on a 'lexical' item"),
        (lambda d: d[-1].update(history=[]), f"#{len(load(DEV)) - 1}: follow_up needs 'history'"),
        (lambda d: d[-1].update(history=["ok", 3]), f"#{len(load(DEV)) - 1}: follow_up needs 'history'"),
    ],
)
def test_dev_problems_catch_corruption(mutate: Any, expected: str) -> None:
    items = copy.deepcopy(load(DEV))
    mutate(items)
    problems = dev_problems(items, seed_text())
    assert any(p.startswith(expected) for p in problems), problems


def test_dev_problems_catch_bad_twins_and_counts() -> None:
    items = copy.deepcopy(load(DEV))
    i = next(k for k, it in enumerate(items) if it["kind"] == "no_diacritics")
    items[i]["question"] += " nua"
    assert any(p.startswith(f"#{i}: twin #") and "folds to" in p for p in dev_problems(items, seed_text()))
    items = [it for it in load(DEV) if it["kind"] != "english"]
    problems = dev_problems(items, seed_text())
    assert "kind 'english': 0 questions, need >= 8" in problems


def test_pair_problems_catch_corruption() -> None:
    pairs = copy.deepcopy(load(PAIRS))
    pairs[0]["sentence"] = pairs[0]["sentence"][5:]  # starts mid-sentence
    pairs[1]["sentence"] = pairs[2]["sentence"]
    problems = pair_problems(pairs, seed_text())
    assert any(p.startswith("pair #0: not a whole sentence") for p in problems)
    assert "pair #2: duplicate sentence" in problems
    assert pair_problems(pairs[:3], seed_text(), min_count=12)[0] == "3 pairs, need >= 12"
