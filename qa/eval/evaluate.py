"""`qa eval`: retrieval, answer, phrase and calibration metrics over a QA file, overall and per kind.

For each question: the rank of the first passage holding a gold answer, whether the answer
highlight overlaps one, the answer phrase's exact match and token F1 against the gold texts (the
sentence stands in when there is no phrase), whether the system abstained, and the confidence it
showed; the confidence of every shown answer against whether it was right gives the calibration
(ECE and a reliability table). A service is anything with `ask(question, top_k)` and
`data.documents`::

    report = evaluate(service, load_qa_file(Path("tests/data/seed_dev.json")))
    report["overall"]["R@1"]          # 0.921

>>> rows = [Judgement(True, 1, True, False, 0.9, phrase_em=1.0, phrase_f1=1.0),
...         Judgement(False, None, False, True, 0.5)]
>>> m = metrics(rows)
>>> m["R@1"], m["abstention_recall"], m["phrase_F1"], m["ECE"]
(1.0, 1.0, 1.0, 0.1)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from qa.eval.data import EvalItem
from qa.eval.metrics import ece, exact_match, reliability, token_f1
from qa.schema import Document


@dataclass(frozen=True)
class Judgement:
    """How the system did on one question."""

    answerable: bool
    rank: int | None  # 1-based rank of the first passage holding a gold answer; None when none does
    highlight_hit: bool  # the answer highlight overlaps a gold answer
    abstained: bool
    confidence: float
    kind: str = "all"
    phrase_em: float | None = None  # None for an unanswerable question
    phrase_f1: float | None = None

    @property
    def correct(self) -> bool:
        """A shown answer is right when its highlight holds a gold answer."""
        return self.answerable and self.highlight_hit

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def gold_spans(documents: Mapping[str, Document], item: EvalItem) -> list[tuple[str, int, int]]:
    """(doc, start, end) of every gold answer: its given offset inside each document holding the item's
    paragraph (SQuAD-like files), else every occurrence of its text anywhere."""
    out: list[tuple[str, int, int]] = []
    for doc_id, doc in documents.items():
        if item.context is not None:
            at = doc.text.find(item.context)
            while at >= 0:
                out += [(doc_id, at + s, at + s + len(g)) for g, s in zip(item.answers, item.starts, strict=True)]
                at = doc.text.find(item.context, at + 1)
            continue
        for g in item.answers:
            start = doc.text.find(g)
            while start >= 0:
                out.append((doc_id, start, start + len(g)))
                start = doc.text.find(g, start + 1)
    return out


def judge(svc: Any, item: EvalItem, top_k: int = 10) -> Judgement:
    """Ask one question and compare the passages and the answer with the gold answers' places."""
    if item.history:  # a follow-up, answered in its conversation
        ans = svc.ask(item.question, top_k=top_k, history=list(item.history))
    else:
        ans = svc.ask(item.question, top_k=top_k)
    gold = gold_spans(svc.data.documents, item)
    rank = None
    for i, p in enumerate(ans.passages):
        if any(d == p.doc and s >= p.start and e <= p.end for d, s, e in gold):
            rank = i + 1
            break
    a = ans.answer
    hit = a is not None and any(d == a.doc and _overlaps((s, e), (a.start, a.end)) for d, s, e in gold)
    em = f1 = None
    if item.answers:
        shown = "" if a is None else (a.phrase.text if a.phrase else a.text)
        em, f1 = exact_match(shown, item.answers), token_f1(shown, item.answers)
    return Judgement(bool(item.answers), rank, hit, a is None, ans.confidence, item.kind, em, f1)


def metrics(rows: list[Judgement]) -> dict[str, Any]:
    """R@1/3/5, MRR@10, highlight hit and false abstentions over answerable questions; abstention
    recall over unanswerable ones and precision over all abstentions."""
    ans = [r for r in rows if r.answerable]
    una = [r for r in rows if not r.answerable]
    abst = [r for r in rows if r.abstained]
    out: dict[str, Any] = {"n": len(rows)}
    if ans:
        n = len(ans)
        out["R@1"] = sum(1 for r in ans if r.rank == 1) / n
        out["R@3"] = sum(1 for r in ans if r.rank and r.rank <= 3) / n
        out["R@5"] = sum(1 for r in ans if r.rank and r.rank <= 5) / n
        out["MRR@10"] = sum(1 / r.rank for r in ans if r.rank) / n
        out["highlight_hit"] = sum(1 for r in ans if r.highlight_hit) / n
        out["false_abstention"] = sum(1 for r in ans if r.abstained) / n
        out["phrase_EM"] = sum(r.phrase_em or 0.0 for r in ans) / n
        out["phrase_F1"] = sum(r.phrase_f1 or 0.0 for r in ans) / n
    if una:
        out["abstention_recall"] = sum(1 for r in una if r.abstained) / len(una)
    if abst:
        out["abstention_precision"] = sum(1 for r in abst if not r.answerable) / len(abst)
    shown = [(r.confidence, r.correct) for r in rows if not r.abstained]
    if shown:
        out["ECE"] = ece(shown)
    return out


def evaluate(svc: Any, items: list[EvalItem]) -> dict[str, Any]:
    """Overall and per-kind metrics, the per-question rows, and typed-without-diacritics pairs."""
    rows = [judge(svc, it) for it in items]
    by_kind: dict[str, list[Judgement]] = defaultdict(list)
    for r in rows:
        by_kind[r.kind].append(r)
    report: dict[str, Any] = {"overall": metrics(rows), "kinds": {k: metrics(v) for k, v in sorted(by_kind.items())},
                              "rows": [r.to_dict() for r in rows],
                              "calibration": reliability([(r.confidence, r.correct) for r in rows if not r.abstained])}
    pairs = [(i, it.pair_of) for i, it in enumerate(items) if it.pair_of is not None]
    if pairs:
        report["pairs"] = {"plain": metrics([rows[i] for i, _ in pairs]),
                           "accented": metrics([rows[j] for _, j in pairs])}
    return report


def format_report(report: dict[str, Any]) -> str:
    """The per-kind table, then the reliability table of the shown answers' confidence."""
    cols = ["n", "R@1", "R@3", "R@5", "MRR@10", "highlight_hit", "phrase_EM", "phrase_F1", "false_abstention",
            "abstention_recall", "abstention_precision", "ECE"]
    head = f"{'kind':14}" + "".join(f"{c[:12]:>13}" for c in cols)
    lines = [head]
    named = [("overall", report["overall"]), *report["kinds"].items(),
             *((f"pair:{k}", m) for k, m in (report.get("pairs") or {}).items())]
    for name, m in named:
        cells = "".join(f"{m[c]:>13.3f}" if isinstance(m.get(c), float) else f"{m.get(c, '-')!s:>13}" for c in cols)
        lines.append(f"{name:14}{cells}")
    if report.get("calibration"):
        lines.append("\nreliability of the shown confidence (answered questions): bin, n, mean confidence, share right")
        lines += [f"  [{lo:.1f}, {hi:.1f})  {n:5}  {conf:.3f}  {acc:.3f}"
                  for lo, hi, n, conf, acc in report["calibration"]]
    return "\n".join(lines)
