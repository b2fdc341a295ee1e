"""Warm end-to-end `ask` latency next to a bare question embedding (a benchmark, not a test).

    python benchmarks/bench_ask.py [--index DIR] [--docs seeds] [--questions tests/data/seed_dev.json]
                                   [--rounds 3]

One process, one loaded model, the seed index (built into a temporary folder when --index is not
given). Columns, each over every question:
  bare ST     `SentenceTransformer.encode_query(q)`: the floor any comparable pipeline pays;
  ask traced  `QAService.ask(q)` with `fast_query_encoder` (TorchScript-traced model), question
              embedding cache cleared first: what `open_service` uses;
  ask ST      the same with plain sentence-transformers query embeddings;
  ask hit     the traced service asked the same question again (LRU cache hit).
Columns run one at a time, questions shuffled, block order flipped each round (see the loop).
Then p50/p95 per column and the ratios to bare ST (targets: p50 ≤ 1.0x, p95 ≤ 1.5x), and a check
that the traced query path leaves answers unchanged: top-1 chunk and answer span per question,
and `qa eval` metrics for both paths.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.config import Settings  # noqa: E402
from qa.eval.data import load_qa_file  # noqa: E402
from qa.eval.evaluate import evaluate  # noqa: E402
from qa.model.encoder import load_encoder  # noqa: E402
from qa.model.query import TracedQueryEncoder  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.startup import open_service  # noqa: E402

COLUMNS = ("bare ST", "ask traced", "ask ST", "ask hit")


def clear_cache(svc: QAService) -> None:
    """Forget cached question embeddings, so the next ask pays for its embedding."""
    svc.answerer.retriever.prepare.embed.clear()


def ms(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000.0, q))


def compare(st: QAService, fast: QAService, questions: list[str]) -> list[tuple[str, Any, Any]]:
    """Questions whose top-1 chunk or answer span differs between the two query paths."""
    out = []
    for q in questions:
        a, b = st.ask(q), fast.ask(q)
        ka = (a.passages[0].start if a.passages else None, a.answer and (a.answer.start, a.answer.end))
        kb = (b.passages[0].start if b.passages else None, b.answer and (b.answer.start, b.answer.end))
        if ka != kb:
            out.append((q, ka, kb))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", help="index folder (default: built from --docs into a temporary folder)")
    ap.add_argument("--docs", default="seeds")
    ap.add_argument("--questions", default="tests/data/seed_dev.json")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    items = load_qa_file(Path(args.questions))
    questions = [it.question for it in items]
    enc = load_encoder()
    tmp = tempfile.TemporaryDirectory(prefix="qa-bench-ask-")
    settings = Settings.from_env().override(docs=args.docs, index=args.index or tmp.name + "/index",
                                            auto_build="missing")
    st = open_service(settings, encoder=enc, query_encoder=enc, log=lambda m: None, progress=False)
    traced_enc = TracedQueryEncoder(enc)
    if not traced_enc.traced:
        raise SystemExit(f"tracing failed: {traced_enc.reason}")
    traced = open_service(settings, encoder=enc, query_encoder=traced_enc, log=lambda m: None, progress=False)

    print(f"index: {settings.index_dir} ({st.status()['chunks']} chunks); {len(questions)} questions")
    for name, svc in (("traced", traced),):
        diffs = compare(st, svc, questions)
        print(f"{name} vs sentence-transformers query path: top-1 chunk or answer span differs for "
              f"{len(diffs)} of {len(questions)} questions")
        for q, a, b in diffs[:10]:
            print(f"  {q!r}: ST (top chunk start, answer span) {a} / {name} {b}")
    for name, svc in (("ST query path", st), ("traced query path", traced)):
        o = evaluate(svc, items)["overall"]
        print(f"  qa eval, {name:17}: R@1 {o['R@1']:.3f}  MRR@10 {o['MRR@10']:.3f}  "
              f"highlight_hit {o['highlight_hit']:.3f}  false_abstention {o['false_abstention']:.3f}")

    for q in questions[:5]:  # warm-up: first calls allocate and fill caches
        enc.model.encode_query(q)
    calls = {
        "bare ST": lambda q: enc.model.encode_query(q),
        "ask traced": lambda q: traced.ask(q),
        "ask ST": lambda q: st.ask(q),
        "ask hit": lambda q: traced.ask(q),
    }
    prepare = {  # untimed, before each timed call
        "ask traced": lambda q: clear_cache(traced),
        "ask ST": lambda q: clear_cache(st),
        "ask hit": lambda q: traced.ask(q),
    }
    times: dict[str, list[float]] = {c: [] for c in COLUMNS}
    parts: dict[str, list[float]] = {}
    rng = random.Random(0)
    for r in range(args.rounds):
        order = questions[:]
        rng.shuffle(order)
        # one column at a time, the order flipped each round against drift
        for c in COLUMNS if r % 2 == 0 else COLUMNS[::-1]:
            for q in order:
                if c in prepare:
                    prepare[c](q)
                t0 = time.perf_counter()
                out = calls[c](q)
                times[c].append(time.perf_counter() - t0)
                if c == "ask traced":
                    for k, v in out.timings.items():
                        parts.setdefault(k, []).append(v)
    floor50, floor95 = ms(times["bare ST"], 50), ms(times["bare ST"], 95)
    print(f"\nlatency over {len(times['bare ST'])} asks ({args.rounds} rounds x {len(questions)} questions), ms:")
    print(f"{'':12}{'p50':>8}{'p95':>8}{'p50/ST p50':>12}{'p95/ST p95':>12}{'p95/ST p50':>12}")
    for c in COLUMNS:
        p50, p95 = ms(times[c], 50), ms(times[c], 95)
        print(f"{c:12}{p50:8.1f}{p95:8.1f}{p50 / floor50:12.2f}{p95 / floor95:12.2f}{p95 / floor50:12.2f}")
    print("ask traced, own timings (ms): " + ", ".join(
        f"{k} p50 {ms(v, 50):.1f} p95 {ms(v, 95):.1f}" for k, v in parts.items()))
    print(f"targets: ask traced p50/ST p50 = {ms(times['ask traced'], 50) / floor50:.2f} (≤ 1.0), "
          f"p95/ST p95 = {ms(times['ask traced'], 95) / floor95:.2f} (≤ 1.5)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
