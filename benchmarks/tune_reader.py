"""Choose the answer threshold (`AnswerParams.min_probability`) on a dev set: one pass, every threshold.

    python benchmarks/tune_reader.py --index /tmp/seed-index tests/data/seed_dev.json [--reader DIR]

Each question is answered with no threshold (min_probability 0; the evidence checks still apply),
then every threshold t is applied to the recorded confidences: answer only when confidence >= t.
Prints highlight hit, false abstentions and abstention recall per t. Tune on the dev set only and
report the held-out sets (tests/data/seed_holdout.json, benchmarks/bench_answers.py) with the choice.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.answer.answerer import Answerer, AnswerParams  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.eval.data import load_qa_file  # noqa: E402
from qa.eval.evaluate import evaluate  # noqa: E402
from qa.index.store import load_index  # noqa: E402
from qa.model.encoder import load_encoder  # noqa: E402
from qa.model.query import fast_query_encoder  # noqa: E402
from qa.search.hybrid import Retriever  # noqa: E402
from qa.startup import load_reader  # noqa: E402


class Svc:
    def __init__(self, data, answerer) -> None:  # type: ignore[no-untyped-def]
        self.data, self.answerer = data, answerer

    def ask(self, question: str, top_k: int = 5, history: object = None):  # type: ignore[no-untyped-def]
        return self.answerer.ask(question, top_k=top_k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--index", required=True)
    ap.add_argument("--reader", default="default")
    args = ap.parse_args()
    settings = replace(Settings.from_env(), reader=args.reader)
    enc = load_encoder(settings.model)
    reader, verifier = load_reader(settings, enc)
    data = load_index(Path(args.index))
    a = Answerer(data, Retriever(data, fast_query_encoder(enc)), AnswerParams(min_probability=0.0), reader, verifier)
    items = [it for it in load_qa_file(Path(args.file)) if not it.history]
    rows = evaluate(Svc(data, a), items)["rows"]
    print(f"{'t':>5} {'hit':>6} {'false_abst':>10} {'abst_recall':>11}")
    for t in [x / 20 for x in range(0, 20)]:
        ans = [r for r in rows if r["answerable"]]
        una = [r for r in rows if not r["answerable"]]
        shown = [r for r in ans if not r["abstained"] and r["confidence"] >= t]
        hit = sum(r["highlight_hit"] for r in shown) / max(1, len(ans))
        false = 1 - len(shown) / max(1, len(ans))
        rec = sum(r["abstained"] or r["confidence"] < t for r in una) / max(1, len(una))
        print(f"{t:5.2f} {hit:6.3f} {false:10.3f} {rec:11.3f}")


if __name__ == "__main__":
    main()
