"""Warm `ask` latency with the reader, reading stopped at the decision's `early_stop` or at a fixed
probability, next to a bare `encode_query` (a benchmark, not a test).

    python benchmarks/bench_early_stop.py --index /tmp/qa-answers/index-viquad1_dev \
        --questions ../shared/data/viquad1_dev.json [--n 300] [--stops 0.9]

The index: any built one (benchmarks/bench_answers.py builds the 515 dev paragraphs + the seed into
`--work`/index-viquad1_dev). Distinct questions of `--questions`, shuffled (seed 0); per question,
each column in turn (the order flipped every other question), the question-embedding cache cleared
before each ask so every ask pays for its embedding. Answer quality per stop: bench_answers.py
`--early-stop`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.config import Settings  # noqa: E402
from qa.eval.data import load_qa_file  # noqa: E402
from qa.startup import open_service  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--stops", type=float, nargs="*", default=[0.9], help="fixed stops to compare")
    args = ap.parse_args()
    settings = Settings.from_env().override(index=args.index, auto_build="never")  # never rewrite it
    svc = open_service(settings, log=lambda m: None, progress=False)
    model = svc.encoder.model  # type: ignore[attr-defined]
    qs = list(dict.fromkeys(it.question for it in load_qa_file(Path(args.questions))))
    random.Random(0).shuffle(qs)
    qs = qs[: args.n]
    base = svc.answerer.params
    columns: list[str | float] = ["bare", "decision", *args.stops]
    for q in qs[:5]:  # warm-up
        svc.ask(q)
        model.encode_query(q)
    times: dict[str, list[float]] = {str(c): [] for c in columns}
    for i, q in enumerate(qs):
        for c in columns if i % 2 == 0 else columns[::-1]:
            if c != "bare":
                svc.answerer.params = replace(base, early_stop=c)  # type: ignore[arg-type]
                svc.answerer.retriever.prepare.embed.clear()
            t0 = time.perf_counter()
            _ = model.encode_query(q) if c == "bare" else svc.ask(q)
            times[str(c)].append(time.perf_counter() - t0)
    bare = float(np.percentile(times["bare"], 50))
    print(f"{len(qs)} distinct questions; decision's early_stop = {svc.answerer.decision.early_stop}")
    for c, v in times.items():
        p50, p95 = np.percentile(v, 50), np.percentile(v, 95)
        print(f"  {c:10} p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  p50 / bare {p50 / bare:5.2f}")


if __name__ == "__main__":
    main()
