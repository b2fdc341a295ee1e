"""What the question tower and the learned ranking cost per question (warm, one question at a time).

Prints p50/p90 of embedding distinct UIT-ViQuAD dev questions with sentence-transformers'
`encode_query`, the traced model and the traced question tower; then a warm `ask` (reader off, so
only retrieval and ranking count) on the seed index with the hand fusion and the learned ranking::

    python benchmarks/bench_ranking_cost.py --dev ../shared/data/viquad1_dev.json --index /tmp/qa-rank/seed-index

The index is the seed article's (`bench_ranking.py --work /tmp/qa-rank` builds it; any index of
`seeds/` works). The learned ranking scores a fixed 20 candidates, so its cost does not grow with
the corpus.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.config import Settings  # noqa: E402
from qa.model.encoder import load_encoder  # noqa: E402
from qa.model.query import fast_query_encoder  # noqa: E402
from qa.model.tower import load_tower  # noqa: E402
from qa.startup import open_service  # noqa: E402

SEED_SETS = ("tests/data/seed_dev.json", "tests/data/seed_holdout.json")


def timed(fn: Callable[[str], object], questions: list[str]) -> str:
    ms = []
    for q in questions:
        t = time.perf_counter()
        fn(q)
        ms.append((time.perf_counter() - t) * 1000)
    return f"p50 {statistics.median(ms):.1f} ms, p90 {np.percentile(ms, 90):.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dev", required=True, help="viquad1_dev.json (its first --n distinct questions)")
    ap.add_argument("--index", required=True, help="an index of seeds/")
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    enc = load_encoder(Settings.from_env().model)
    dev = list(dict.fromkeys(x["question"] for x in json.loads(Path(args.dev).read_text("utf-8"))))[: args.n]
    encoders = {"encode_query (sentence-transformers)": enc, "traced, model's own vectors": fast_query_encoder(enc),
                "traced, question tower": fast_query_encoder(enc, load_tower(enc))}
    for name, e in encoders.items():
        e.encode_queries(dev[:5])
        print(f"{name:40s} {timed(lambda q, e=e: e.encode_queries([q]), dev)}  ({len(dev)} questions)")
    root = Path(__file__).resolve().parent.parent
    seed = list(dict.fromkeys(x["question"] for f in SEED_SETS for x in json.loads((root / f).read_text("utf-8"))))
    for mode in ("hand", "learned"):
        s = Settings.from_env({"QA_DOCS_DIR": str(root / "seeds"), "QA_INDEX_DIR": args.index, "QA_READER": "off",
                               "QA_RANKING": mode, "QA_AUTO_BUILD": "never"})
        svc = open_service(s, encoder=enc, log=lambda m: None, progress=False)
        for warm in ("Hà Nội ở đâu?", "ai la chu tich"):
            svc.ask(warm)
        print(f"ask, ranking {mode:28s} {timed(svc.ask, seed)}  ({len(seed)} seed questions)")


if __name__ == "__main__":
    main()
