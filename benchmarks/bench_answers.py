"""Whole answers on data the system was not tuned on: with and without the reader, and each evidence check.

    python benchmarks/bench_answers.py --data ../shared/data/viquad1_dev.json ../shared/data/zalo2019_train.json \
        --work /tmp/qa-retrieval --seed-index /tmp/seed-index [--reader DIR] [--ablate] [--limit N] [--windows 3]

Sets (every figure printed per set):
  <file> test             the `test` half of the held-out paragraphs' questions (the `calib` half fitted
                          the verifier; the reader trained on neither), over an index of every shared paragraph
                          (built by benchmarks/bench_retrieval.py into --work): R@1, highlight hit
                          (the answering sentence holds a gold answer), phrase EM/F1, false abstentions, ECE;
  <file> unanswerable     the same questions over an index of the training paragraphs only (their own
                          paragraph is absent: the system should abstain);
  seed_dev, seed_holdout  the seed article's sets (tests/data), near-miss and off-topic questions included.
Configurations: `rules` (no reader: sentence scores and hand thresholds, as before the reader), `reader`
(span reader + verifier, every evidence check on), and with --ablate `reader -<check>` for each check
of qa.answer.evidence and `reader -all` (none): a check stays only if it helps on these held-out sets.
"""

from __future__ import annotations

import argparse
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
from qa.index.build import build_index  # noqa: E402
from qa.index.store import IndexData, load_index  # noqa: E402
from qa.model.encoder import load_encoder  # noqa: E402
from qa.model.query import fast_query_encoder  # noqa: E402
from qa.search.hybrid import Retriever  # noqa: E402
from qa.startup import load_reader  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
COLS = ("n", "R@1", "highlight_hit", "phrase_EM", "phrase_F1", "false_abstention", "abstention_recall", "ECE")


class Svc:
    """What `evaluate` needs: `ask` and `data.documents`."""

    def __init__(self, data: IndexData, answerer: Answerer) -> None:
        self.data, self.answerer = data, answerer

    def ask(self, question: str, top_k: int = 5, history: object = None) -> Any:
        return self.answerer.ask(question, top_k=top_k)  # follow-ups unresolved here: `qa eval` resolves them


def row(name: str, m: dict[str, Any], seconds: float) -> None:
    cells = "".join(f"{m[c]:>9.3f}" if isinstance(m.get(c), float) else f"{m.get(c, '-')!s:>9}" for c in COLS)
    print(f"  {name:40}{cells}   ({seconds:.0f} s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--work", default="/tmp/qa-retrieval")
    ap.add_argument("--seed-index", required=True)
    ap.add_argument("--reader", default="default", help="a reader folder (default: the shipped one)")
    ap.add_argument("--ablate", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="at most N questions per set")
    ap.add_argument("--windows", type=int, nargs="*", default=[],
                    help="also the reader reading this many windows per question (the shipped count is "
                         f"{AnswerParams().reader_windows})")
    args = ap.parse_args()
    settings = replace(Settings.from_env(), reader=args.reader)
    enc = load_encoder(settings.model)
    query_enc = fast_query_encoder(enc)
    reader, verifier = load_reader(settings, enc)
    if reader is None:
        raise SystemExit(f"no reader at {args.reader}")
    work = Path(args.work)
    every = load_index(work / "index")
    items_of = {Path(f).stem: load_qa_file(Path(f)) for f in args.data}
    train_only = work / "index-train"
    if not (train_only / "manifest.json").is_file():
        train_items = [it for items in items_of.values() for it in select(items, "train")]
        write_paragraph_docs(train_items, work / "docs-train")
        build_index(work / "docs-train", train_only, enc, settings.build)
    trained = load_index(train_only)
    seed = load_index(Path(args.seed_index))
    sets: list[tuple[str, IndexData, list[EvalItem]]] = []
    for name, items in items_of.items():
        held = select(items, "test")[: args.limit or None]  # the calib half fitted the verifier
        sets.append((f"{name} test", every, held))
        unanswerable = [replace(it, answers=(), starts=(), context=None) for it in held]
        sets.append((f"{name} unanswerable", trained, unanswerable))
    for f in ("seed_dev", "seed_holdout"):
        sets.append((f, seed, load_qa_file(REPO / "tests" / "data" / f"{f}.json")[: args.limit or None]))
    configs: list[tuple[str, AnswerParams, bool]] = [("rules", AnswerParams(), False), ("reader", AnswerParams(), True)]
    for w in args.windows:
        configs.append((f"reader, {w} windows", AnswerParams(reader_windows=w), True))
    if args.ablate:
        for check in sorted(ALL_CHECKS):
            configs.append((f"reader -{check}", AnswerParams(evidence_checks=ALL_CHECKS - {check}), True))
        configs.append(("reader -all", AnswerParams(evidence_checks=frozenset()), True))
    retrievers = {id(d): Retriever(d, query_enc) for d in (every, trained, seed)}
    print(f"{'':42}" + "".join(f"{c[:9]:>9}" for c in COLS))
    for set_name, data, items in sets:
        print(f"{set_name} ({len(items)} questions)")
        for cfg_name, params, with_reader in configs:
            a = Answerer(data, retrievers[id(data)], params, reader if with_reader else None,
                         verifier if with_reader else None)
            t0 = time.perf_counter()
            report = evaluate(Svc(data, a), items)
            row(cfg_name, report["overall"], time.perf_counter() - t0)


if __name__ == "__main__":
    main()
