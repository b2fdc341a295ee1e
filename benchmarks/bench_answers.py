"""Whole answers on data the system was not tuned on: the reader and its decision, the rules, each evidence check.

    python benchmarks/bench_answers.py --data-all ../shared/data/viquad1_dev.json \
        --data ../shared/data/zalo2019_train.json --work /tmp/qa-answers [--reader DIR] [--ablate] [--read 1 2 3]

Sets (every figure printed per set and configuration):
  <file> test           the `test` half of a held-out file's questions (the `calib` half fitted the decision;
                        the reader trained on neither), over an index of all of that file's held-out paragraphs
                        plus the seed article: R@1, highlight hit (the answer sentence holds a gold answer),
                        phrase EM/F1, false abstentions, ECE of the shown confidence;
  <file> unanswerable   the same questions with their own paragraph left out of the results (the system
                        should abstain): abstention recall;
  seed_dev, seed_holdout  the seed article's sets (tests/data), near-miss and off-topic questions included
                        (seed_dev helped fit the decision; seed_holdout did not).
Configurations: `reader` (the shipped defaults), `rules` (no reader: the sentence rules), with --read N
the reader reading N passages, and with --ablate `reader, no checks` (the decision alone), `reader +<check>`
for each check of qa.answer.evidence as the only one (and `reader +all`): a check is kept only if it
helps on these sets (with the reader, `number` and `name` are features of the decision; the others
count only as the rules' vetoes). Each file's answers shown for its test and unanswerable questions
together also get one ECE line (the mix the decision was calibrated on).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.answer.answerer import Answerer, AnswerParams  # noqa: E402
from qa.answer.evidence import ALL_CHECKS  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.eval.data import EvalItem, load_qa_file, select, write_paragraph_docs  # noqa: E402
from qa.eval.evaluate import evaluate  # noqa: E402
from qa.eval.metrics import ece  # noqa: E402
from qa.index.build import build_index  # noqa: E402
from qa.index.store import IndexData, load_index  # noqa: E402
from qa.model.encoder import load_encoder  # noqa: E402
from qa.search.hybrid import Retriever  # noqa: E402
from qa.startup import load_query_encoder, load_reader  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds"
COLS = ("n", "R@1", "highlight_hit", "phrase_EM", "phrase_F1", "false_abstention", "abstention_recall", "ECE")


class Svc:
    """What `evaluate` needs: `ask` and `data.documents`; `exclude` leaves a question's own paragraph out."""

    def __init__(self, data: IndexData, answerer: Answerer, exclude: dict[str, set[str]] | None = None) -> None:
        self.data, self.answerer, self.exclude = data, answerer, exclude or {}
        self.seconds: list[float] = []

    def ask(self, question: str, top_k: int = 5, history: object = None) -> Any:
        t0 = time.perf_counter()
        ans = self.answerer.ask(question, top_k=top_k, exclude_docs=self.exclude.get(question, set()))
        self.seconds.append(time.perf_counter() - t0)
        return ans


class MemoReader:
    """The reader with its readings kept per (question, passage): configurations that differ only after
    reading (the checks, how many passages are read) then cost retrieval only, not the reader again."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.memo = inner, {}  # type: ignore[var-annotated]

    def read(self, question: str, passages: Any) -> list[Any]:
        todo = [p for p in passages if (question, p) not in self.memo]
        for p, r in zip(todo, self.inner.read(question, todo) if todo else [], strict=True):
            self.memo[(question, p)] = r
        return [self.memo[(question, p)] for p in passages]


def row(name: str, m: dict[str, Any], ms: float) -> None:
    cells = "".join(f"{m[c]:>9.3f}" if isinstance(m.get(c), float) else f"{m.get(c, '-')!s:>9}" for c in COLS)
    print(f"  {name:28}{cells}   {ms:6.0f} ms/q", flush=True)


def index_of(work: Path, name: str, items: list[EvalItem], enc: Any, settings: Settings) -> IndexData:
    """An index of the items' paragraphs and the seed article, built once into `work`."""
    idx = work / f"index-{name}"
    if not (idx / "manifest.json").is_file():
        docs = work / f"docs-{name}"
        write_paragraph_docs(items, docs)
        for p in SEED.iterdir():
            shutil.copy(p, docs / p.name)
        build_index(docs, idx, enc, settings.build)
    return load_index(idx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", nargs="*", default=[], help="files split by paragraph hash (their held-out part)")
    ap.add_argument("--data-all", nargs="*", default=[], help="held-out files (a dev split)")
    ap.add_argument("--work", default="/tmp/qa-answers")
    ap.add_argument("--reader", default="default", help="a reader folder (default: the shipped one)")
    ap.add_argument("--ablate", action="store_true")
    ap.add_argument("--read", type=int, nargs="*", default=[], help="also read this many passages")
    ap.add_argument("--early-stop", type=float, nargs="*", default=[],
                    help="also stop reading once a passage is answered with this probability")
    ap.add_argument("--sets", nargs="*", default=None, help="only these sets (by name prefix)")
    ap.add_argument("--limit", type=int, default=0, help="at most N questions per set")
    args = ap.parse_args()
    settings = replace(Settings.from_env(), reader=args.reader)
    enc = load_encoder(settings.model)
    query_enc, questions = load_query_encoder(settings, enc, log=lambda m: None)  # QA_QUERY_TOWER
    print(f"questions: {questions}", flush=True)
    choice = load_reader(settings, enc)
    if choice.reader is None:
        raise SystemExit(f"no reader: {choice.answering}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sets: list[tuple[str, IndexData, list[EvalItem], dict[str, set[str]]]] = []
    files = [(f, "heldout", "test") for f in args.data] + [(f, "all", "test_all") for f in args.data_all]
    for f, shown, tested in files:
        name = Path(f).stem
        every = load_qa_file(Path(f))
        data = index_of(work, name, select(every, shown), enc, settings)  # type: ignore[arg-type]
        held = [it for it in select(every, tested) if it.answers][: args.limit or None]  # type: ignore[arg-type]
        own = {it.question: {d for d, doc in data.documents.items() if it.context and it.context in doc.text}
               for it in held}
        sets.append((f"{name} test", data, held, {}))
        sets.append((f"{name} unanswerable", data, [replace(it, answers=(), starts=()) for it in held], own))
    seed = index_of(work, "seed", [], enc, settings)
    for f in ("seed_dev", "seed_holdout"):
        sets.append((f, seed, load_qa_file(REPO / "tests" / "data" / f"{f}.json")[: args.limit or None], {}))
    base = AnswerParams()
    configs: list[tuple[str, AnswerParams, bool]] = [("reader", base, True), ("rules", base, False)]
    configs += [(f"reader, {n} passages", replace(base, passages_read=n), True) for n in args.read]
    configs += [(f"reader, early stop {t}", replace(base, early_stop=t), True) for t in args.early_stop]
    if args.ablate:
        configs.append(("reader, no checks", replace(base, evidence_checks=frozenset()), True))
        configs += [(f"reader +{c}", replace(base, evidence_checks=frozenset({c})), True) for c in sorted(ALL_CHECKS)]
        configs.append(("reader +all", replace(base, evidence_checks=ALL_CHECKS), True))
    retrievers = {id(d): Retriever(d, query_enc) for _, d, _, _ in sets}
    # the rules answer with the model's own vectors, as the product gives them (qa.startup)
    rules_enc, _ = load_query_encoder(settings, enc, log=lambda m: None, rules=True)
    rules_retrievers = {id(d): Retriever(d, rules_enc) for _, d, _, _ in sets}
    reader = MemoReader(choice.reader)
    print(f"reader: {choice.answering}; answer at P ≥ {choice.decision.answer_at:.3f}" if choice.decision else "")
    print("ms/q: the median ask; after a set's first configuration the readings are reused (MemoReader)")
    print(f"{'':30}" + "".join(f"{c[:9]:>9}" for c in COLS))
    shown_of: dict[tuple[str, str], list[tuple[float, bool]]] = {}  # (file, config) -> shown answers
    for set_name, data, items, exclude in sets:
        if args.sets and not any(set_name.startswith(s) for s in args.sets):
            continue
        print(f"{set_name} ({len(items)} questions)")
        for cfg_name, params, with_reader in configs:
            a = Answerer(data, (retrievers if with_reader else rules_retrievers)[id(data)], params,
                         reader if with_reader else None,
                         choice.decision if with_reader else None)
            svc = Svc(data, a, exclude)
            report = evaluate(svc, items)
            row(cfg_name, report["overall"], 1000 * sorted(svc.seconds)[len(svc.seconds) // 2])
            shown = [(r["confidence"], r["answerable"] and r["highlight_hit"]) for r in report["rows"]
                     if not r["abstained"]]
            shown_of.setdefault((set_name.rsplit(" ", 1)[0], cfg_name), []).extend(shown)
            if set_name.endswith(" unanswerable"):  # the answers users see from both halves together
                both = shown_of[(set_name.rsplit(" ", 1)[0], cfg_name)]
                print(f"  {cfg_name + ', ECE of test + unanswerable':50} {ece(both):.3f}  ({len(both)} shown)")
        reader.memo.clear()  # a set's readings are not asked again


if __name__ == "__main__":
    main()
