"""Dense index at scale: build time, search p50/p95, recall@10 against exact search, RSS (a benchmark).

    python benchmarks/bench_scale.py [--sizes 10000 100000 1000000] [--queries 200] [--sweep]

Vectors are synthetic, not model output: a hierarchical Gaussian mixture shaped like
multilingual-e5 chunk embeddings (shared component + topic + document + chunk noise, anisotropic,
L2-normalized; see `Mixture`). Uniform random unit vectors would be a poor proxy: they have no cluster structure,
which is what approximate indexes exploit. Queries are fresh draws from the same mixture.

For each size: exact (IndexFlatIP), HNSW and IVF built with `qa.index.engines.dense.DenseIndex.build` and the
default `DenseParams` (what `qa index build` does), then single-query search (k=10 for recall@10,
k=64 as the retriever asks for candidates); `auto` names the kind the automatic choice picks.
HNSW is skipped above 500 k vectors (IVF's range; HNSW there takes a long time to build on two
cores). `--sweep` also prints recall/latency for other efSearch / nprobe values on the built indexes.
Each index is built in a fresh process: RSS is that process's resident memory after building
(vectors + index), `+index` the growth the build caused. Exact top-10 comes from blocked numpy
products.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import rss_mb  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.index.engines.dense import DenseIndex, DenseParams  # noqa: E402

DIM = 384




class Mixture:
    """Chunks of documents of topics: unit vectors = shared mean + topic + document + chunk noise.

    Every part lives in one anisotropic space (power-law spectrum, ~26 effective dimensions), and
    the scales give e5-like cosines: ~0.70 between unrelated chunks, ~0.81 within a topic, ~0.89
    within a document (e5 on the seed article: 0.88). A document has ~30 chunks, a topic ~100
    documents. Queries are fresh chunks of random documents.
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        mu = rng.standard_normal(DIM)
        self.mu = (0.75 * mu / np.linalg.norm(mu)).astype(np.float32)
        spectrum = 1.0 / np.arange(1, DIM + 1)  # a few strong directions, a long weak tail
        rot, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        self.shape = (np.sqrt(spectrum / spectrum.sum())[:, None] * rot.T).astype(np.float32)
        n_docs = max(10, n // 30)
        n_topics = max(2, n_docs // 100)
        topics = 0.3 * rng.standard_normal((n_topics, DIM)).astype(np.float32) @ self.shape
        self.docs = topics[rng.integers(0, n_topics, n_docs)] + (
            0.25 * rng.standard_normal((n_docs, DIM)).astype(np.float32) @ self.shape)
        self.noise = 0.3
        self.label = f"{n_docs:,} documents in {n_topics:,} topics"

    def sample(self, n: int, seed: int, block: int = 100_000) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, DIM), np.float32)
        for a in range(0, n, block):
            b = min(n, a + block)
            d = rng.integers(0, len(self.docs), b - a)
            z = rng.standard_normal((b - a, DIM), dtype=np.float32) @ self.shape
            x = self.mu + self.docs[d] + self.noise * z
            out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out


def search_stats(index: DenseIndex, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    lat10, lat64, hits = [], [], 0
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        _, ids = index.search(q[None, :], 10)
        lat10.append(time.perf_counter() - t0)
        hits += len(set(ids[0].tolist()) & set(truth[i].tolist()))
        t0 = time.perf_counter()
        index.search(q[None, :], 64)
        lat64.append(time.perf_counter() - t0)
    a10, a64 = np.asarray(lat10) * 1000, np.asarray(lat64) * 1000
    return {"p50": float(np.percentile(a10, 50)), "p95": float(np.percentile(a10, 95)),
            "p50_64": float(np.percentile(a64, 50)), "p95_64": float(np.percentile(a64, 95)),
            "recall": hits / truth.size}


def sweep(index: DenseIndex, queries: np.ndarray, truth: np.ndarray) -> None:
    if index.kind == "hnsw":
        knobs, attr = [16, 24, 32, 48, 64, 96, 128], "efSearch"
    elif index.kind == "ivf":
        knobs, attr = [4, 8, 12, 16, 24, 32, 48, 64, 96], "nprobe"
    else:
        return
    target = index.index.hnsw if index.kind == "hnsw" else index.index
    old = getattr(target, attr)
    for v in knobs:
        setattr(target, attr, v)
        s = search_stats(index, queries, truth)
        print(f"    {attr}={v:<4} recall@10 {s['recall']:.3f}  p50 {s['p50']:.2f} ms  p95 {s['p95']:.2f} ms  "
              f"(k=64: p95 {s['p95_64']:.2f} ms)", flush=True)
    setattr(target, attr, old)


def exact_top10(base: np.ndarray, queries: np.ndarray, block: int = 200_000) -> np.ndarray:
    """Ground truth by blocked matrix products (no index copy of the vectors)."""
    best_s = np.full((len(queries), 10), -np.inf, np.float32)
    best_i = np.zeros((len(queries), 10), np.int64)
    for a in range(0, len(base), block):
        sc = queries @ base[a : a + block].T
        s = np.concatenate([best_s, sc], axis=1)
        i = np.concatenate([best_i, np.arange(a, a + sc.shape[1])[None, :].repeat(len(queries), 0)], axis=1)
        top = np.argsort(-s, axis=1, kind="stable")[:, :10]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return best_i


def worker(n: int, kind: str, n_queries: int, do_sweep: bool) -> None:
    """One index in a fresh process, so its RSS is its own."""
    params = Settings.from_env().build.dense
    mix = Mixture(n)
    base = mix.sample(n, seed=1)
    queries = mix.sample(n_queries, seed=2)
    truth = exact_top10(base, queries)
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    index = DenseIndex.build(base, replace(params, kind=kind))
    build_s = time.perf_counter() - t0
    after = rss_mb()
    s = search_stats(index, queries, truth)
    print(f"  {kind:6}{build_s:9.1f}{s['p50']:9.2f}{s['p95']:9.2f}{s['recall']:11.3f}{s['p50_64']:10.2f}"
          f"{s['p95_64']:10.2f}{after:9.0f}{after - before:9.0f}", flush=True)
    if do_sweep:
        sweep(index, queries, truth)


def run_size(n: int, n_queries: int, do_sweep: bool, params: DenseParams) -> None:
    import subprocess

    kinds = ["flat", "hnsw", "ivf"] if n < params.ivf_from else ["flat", "ivf"]
    mb = n * DIM * 4 / 2**20
    print(f"\n{n:,} vectors x {DIM} ({mb:.0f} MB; {Mixture(n).label}); auto picks "
          f"{params.choose(n)}", flush=True)
    print(f"  {'kind':6}{'build s':>9}{'p50 ms':>9}{'p95 ms':>9}{'recall@10':>11}{'k=64 p50':>10}"
          f"{'k=64 p95':>10}{'RSS MB':>9}{'+index':>9}", flush=True)
    for kind in kinds:
        cmd = [sys.executable, __file__, "--worker", str(n), kind, "--queries", str(n_queries)]
        subprocess.run(cmd + (["--sweep"] if do_sweep else []), check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--sweep", action="store_true", help="also try other efSearch / nprobe values")
    ap.add_argument("--worker", nargs=2, metavar=("N", "KIND"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(int(args.worker[0]), args.worker[1], args.queries, args.sweep)
        return
    import faiss

    params = Settings.from_env().build.dense
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads; DenseParams {params.to_dict()}")
    for n in args.sizes:
        run_size(n, args.queries, args.sweep, params)


if __name__ == "__main__":
    main()
