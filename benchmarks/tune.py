"""Tune fusion and answer parameters on a dev set (a measurement tool, not a test).

    python benchmarks/tune.py tests/data/seed_dev.json --index /tmp/idx [--show-failures]

Loads the real model once; question embeddings are cached, so each grid point costs only the
retrieval and sentence scoring.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.config import Settings  # noqa: E402
from qa.eval.data import load_qa_file  # noqa: E402
from qa.eval.evaluate import judge, metrics  # noqa: E402
from qa.startup import open_service  # noqa: E402


def run(svc, items):
    return [judge(svc, it) for it in items]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--index", default="index")
    ap.add_argument("--show-failures", action="store_true")
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--abstain", action="store_true")
    args = ap.parse_args()
    items = load_qa_file(Path(args.file))
    svc = open_service(Settings.from_env().override(index=args.index, auto_build="missing"), progress=False)
    ret, ansr = svc.answerer.retriever, svc.answerer
    rows = run(svc, items)
    print("current:", json.dumps({k: round(v, 3) for k, v in metrics(rows).items()}))
    if args.show_failures:
        for it, r in zip(items, rows, strict=True):
            if r.answerable and (r.rank != 1 or not r.highlight_hit or r.abstained):
                print(f"  [{r.kind}] rank={r.rank} hit={r.highlight_hit} conf={r.confidence:.3f} {it.question}")
        confs_a = sorted(r.confidence for r in rows if r.answerable)
        confs_u = sorted(r.confidence for r in rows if not r.answerable)
        print("answerable conf (lowest 10):", [round(c, 3) for c in confs_a[:10]])
        print("unanswerable conf:", [round(c, 3) for c in confs_u])
    if args.abstain:
        tune_abstention(svc, items)
    if args.grid:
        base_f, base_a = ret.params, ansr.params
        best = None
        for dw, sw in itertools.product([0.5, 0.6, 0.7, 0.8], [0.0, 0.3, 0.5, 0.7]):
            ret.params = replace(base_f, dense_weight=dw, lexical_weight=1 - dw, sentence_weight=sw)
            for lw, pw, tw in itertools.product([0.2, 0.35, 0.5], [0.02, 0.05, 0.1], [0.0, 0.03, 0.06, 0.1]):
                ansr.params = replace(base_a, sentence_lexical_weight=lw, passage_weight=pw, type_weight=tw,
                                      min_confidence=0, min_confidence_plain=0)
                m = metrics(run(svc, items))
                key = (m["R@1"] + m["highlight_hit"], m["MRR@10"])
                if best is None or key > best[0]:
                    best = (key, dw, sw, lw, pw, m)
                    print(f"dw={dw} sw={sw} lw={lw} pw={pw} tw={tw}: R@1={m['R@1']:.3f} MRR={m['MRR@10']:.3f} "
                          f"hit={m['highlight_hit']:.3f}", flush=True)


def tune_abstention(svc, items, max_false: float = 0.05) -> None:
    """Grid over the coverage weight and both thresholds: abstention recall at <= max_false."""
    ansr = svc.answerer
    base = ansr.params
    results = []
    for cw in (0.05, 0.1, 0.15, 0.2):
        for thr, plain in itertools.product([0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.94], [0.77, 0.79, 0.8, 0.81]):
            ansr.params = replace(base, coverage_weight=cw, min_confidence=thr, min_confidence_plain=plain)
            rows = run(svc, items)
            m = metrics(rows)
            if m["false_abstention"] <= max_false:
                near = metrics([r for r in rows if r.kind != "off_topic"])
                results.append((m["abstention_recall"], near["abstention_recall"], -m["false_abstention"], cw, thr,
                                plain))
    for r in sorted(results, reverse=True)[:10]:
        print(f"recall={r[0]:.3f} (near misses {r[1]:.3f}) false={-r[2]:.3f} cw={r[3]} thr={r[4]} plain={r[5]}")
    ansr.params = base


if __name__ == "__main__":
    main()
