"""`qa eval`: retrieval and answer metrics on a QA file, overall and per kind.

File format: `[{"question": str, "answers": [str, ...], "kind": str}]`; `answers: []` = unanswerable.

>>> report = evaluate(service, load_qa_file(Path("tests/data/seed_dev.json")))
>>> round(report["overall"]["R@1"], 2)
0.93
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from qa.errors import EvalFileError


def load_qa_file(path: Path) -> list[dict[str, Any]]:
    """Parse and validate a QA file; EvalFileError names the bad item."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise EvalFileError(f"cannot read QA file {path}: {e}") from e
    except ValueError as e:
        raise EvalFileError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(items, list) or not items:
        raise EvalFileError(f"{path}: expected a non-empty JSON list of {{question, answers, kind}} objects")
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
    return items


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def judge(svc: Any, item: dict[str, Any], top_k: int = 10) -> dict[str, Any]:
    """One question: the rank of the first passage containing a gold answer, highlight hit, abstention."""
    ans = svc.ask(item["question"], top_k=top_k)
    gold = item["answers"]
    rank = None
    gold_spans: list[tuple[str, int, int]] = []
    for doc_id, doc in svc.data.documents.items():
        for g in gold:
            start = doc.text.find(g)
            while start >= 0:
                gold_spans.append((doc_id, start, start + len(g)))
                start = doc.text.find(g, start + 1)
    for i, p in enumerate(ans.passages):
        if any(d == p.doc and s >= p.start and e <= p.end for d, s, e in gold_spans):
            rank = i + 1
            break
    hit = bool(ans.answer) and any(
        d == ans.answer.doc and _overlaps((s, e), (ans.answer.start, ans.answer.end)) for d, s, e in gold_spans
    )
    return {"answerable": bool(gold), "rank": rank, "highlight_hit": hit, "abstained": ans.answer is None,
            "confidence": ans.confidence}


def _metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    abst = [r for r in rows if r["abstained"]]
    out: dict[str, Any] = {"n": len(rows)}
    if ans:
        n = len(ans)
        out["R@1"] = sum(1 for r in ans if r["rank"] == 1) / n
        out["R@3"] = sum(1 for r in ans if r["rank"] and r["rank"] <= 3) / n
        out["R@5"] = sum(1 for r in ans if r["rank"] and r["rank"] <= 5) / n
        out["MRR@10"] = sum(1 / r["rank"] for r in ans if r["rank"]) / n
        out["highlight_hit"] = sum(1 for r in ans if r["highlight_hit"]) / n
        out["false_abstention"] = sum(1 for r in ans if r["abstained"]) / n
    if una:
        out["abstention_recall"] = sum(1 for r in una if r["abstained"]) / len(una)
    if abst:
        out["abstention_precision"] = sum(1 for r in abst if not r["answerable"]) / len(abst)
    return out


def evaluate(svc: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per-kind metrics."""
    rows = []
    for it in items:
        r = judge(svc, it)
        r["kind"] = it.get("kind", "all")
        rows.append(r)
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    report: dict[str, Any] = {"overall": _metrics(rows), "kinds": {k: _metrics(v) for k, v in sorted(by_kind.items())},
                              "rows": rows}
    # questions typed without diacritics next to their accented twins ("pair_of": index)
    pairs = [(i, it["pair_of"]) for i, it in enumerate(items)
             if isinstance(it.get("pair_of"), int) and 0 <= it["pair_of"] < len(items)]
    if pairs:
        report["pairs"] = {"plain": _metrics([rows[i] for i, _ in pairs]),
                           "accented": _metrics([rows[j] for _, j in pairs])}
    return report


def format_report(report: dict[str, Any]) -> str:
    cols = ["n", "R@1", "R@3", "R@5", "MRR@10", "highlight_hit", "false_abstention", "abstention_recall",
            "abstention_precision"]
    head = f"{'kind':14}" + "".join(f"{c[:12]:>13}" for c in cols)
    lines = [head]
    for name, m in [("overall", report["overall"]), *report["kinds"].items()]:
        cells = "".join(f"{m[c]:>13.3f}" if isinstance(m.get(c), float) else f"{m.get(c, '-')!s:>13}" for c in cols)
        lines.append(f"{name:14}{cells}")
    for name, m in (report.get("pairs") or {}).items():
        cells = "".join(f"{m[c]:>13.3f}" if isinstance(m.get(c), float) else f"{m.get(c, '-')!s:>13}" for c in cols)
        lines.append(f"{'pair:' + name:14}{cells}")
    return "\n".join(lines)
