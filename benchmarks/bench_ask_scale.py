"""Warm `ask` cost at 1 k / 10 k / 100 k chunks next to a bare question embedding (a benchmark, not a test).

    python benchmarks/bench_ask_scale.py --data ../shared/data/viquad1_dev.json ../shared/data/zalo2019_train.json \
        --base-index /tmp/qa-retrieval/index --work /tmp/qa-scale [--sizes 1000 10000 100000] [--questions 200]

Corpus: the shared paragraphs (one document each), indexed once with the real model (`--base-index`,
as benchmarks/bench_retrieval.py builds it). Larger corpora replicate them with light perturbation:
copy j of a paragraph has its sentences rotated by j, and every sentence vector of a copy is the
real one plus seeded noise (cosine ≈ 0.97 to the original), renormalized. The build runs the real
pipeline (cleaning, chunking, bm25s, FAISS with the automatic kind: HNSW from 20 k chunks) with the
model's forward replaced by that lookup, so a 100 k-chunk index builds in minutes, not a day.

Questions: `--questions` distinct questions of the held-out paragraphs, never asked before in the
process (the question-embedding cache is cleared per size). For each question, in one process and
interleaved: `bare` = sentence-transformers `encode_query(q)`; `ask` = `QAService.ask(q)` without the
span reader; `ask+learned` = the same with the learned ranking (QA_RANKING=learned, `--ranker`);
`rank step` = that ranking alone on the question's candidates, every chunk's terms computed afresh
(the worst case); `ask+reader` = with the reader. p50/p95 and the ratios to bare; RSS next to vectors + model +
lexical index sizes. Each size runs in its own process (clean RSS).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import rss_mb  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.eval.data import load_qa_file, select  # noqa: E402
from qa.index.build import build_index  # noqa: E402
from qa.index.store import load_index  # noqa: E402
from qa.search.features import TermCache  # noqa: E402
from qa.search.learned import RankingSettings  # noqa: E402

NOISE = 0.25  # norm of the noise added to a copy's unit vectors: cosine ≈ 1 / sqrt(1 + 0.25²) ≈ 0.97


MARK = re.compile(r" \(b\d+\)(?=[.!?…]?$)")  # the copy marker inside a sentence: " (b12)"


class ReplayEncoder:
    """Sentence vectors looked up from the base index instead of a forward; a copy's get seeded noise."""

    def __init__(self, name: str, dimension: int, table: dict[str, np.ndarray]) -> None:
        self.name, self.dimension, self.profile = name, dimension, "e5"
        self.table = table
        self.misses = 0

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), np.float32)
        for i, t in enumerate(texts):
            t = t.removeprefix("passage: ")
            base = MARK.sub("", t)
            v = self.table.get(base)
            if v is None:
                self.misses += 1
                v = np.zeros(self.dimension, np.float32)
            if base != t or not v.any():  # a copy (or a miss): the original vector plus noise seeded by the text
                seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
                noise = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
                v = v + NOISE * noise / np.linalg.norm(noise)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-9)
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("the replay encoder only builds; questions go through the real model")


def _marked(sentence: str, j: int) -> str:
    """The sentence with copy j's marker before its final punctuation."""
    if sentence and sentence[-1] in ".!?…":
        return f"{sentence[:-1]} (b{j}){sentence[-1]}"
    return f"{sentence} (b{j})"


def make_corpus(base: Path, docs: Path, size: int) -> ReplayEncoder:
    """Write the base documents and enough marked, rotated copies to `docs` for about `size` chunks."""
    data = load_index(base)
    table: dict[str, np.ndarray] = {}
    spans: dict[str, set[tuple[int, int]]] = {}
    for ci, c in enumerate(data.chunks):
        text = data.documents[c.doc_id].text
        for k, (s, e) in enumerate(c.sentences):
            table.setdefault(text[s:e], data.sentence_vectors[data.sentence_offsets[ci] + k])
            spans.setdefault(c.doc_id, set()).add((s, e))
    copies = max(1, round(size / len(data.chunks)))
    docs.mkdir(parents=True, exist_ok=True)
    for doc_id, sp in spans.items():
        text = data.documents[doc_id].text
        sents = [text[s:e] for s, e in sorted(sp)]
        (docs / f"{Path(doc_id).stem}-000.txt").write_text(text, encoding="utf-8")
        for j in range(1, copies):
            rot = sents[j % len(sents):] + sents[: j % len(sents)]
            body = " ".join(_marked(x, j) for x in rot)
            (docs / f"{Path(doc_id).stem}-{j:03d}.txt").write_text(body, encoding="utf-8")
    return ReplayEncoder(data.manifest.model.id, int(data.chunk_vectors.shape[1]), table)


def questions(files: list[str], n: int, seed: int = 0) -> list[str]:
    qs = list(dict.fromkeys(it.question for f in files for it in select(load_qa_file(Path(f)), "heldout")))
    random.Random(seed).shuffle(qs)
    return qs[:n]


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, p))


def worker(args: argparse.Namespace, size: int) -> dict[str, object]:
    from qa.model.encoder import load_encoder
    from qa.service import QAService
    from qa.startup import load_reader

    work = Path(args.work) / f"n{size}"
    idx = work / "index"
    settings = Settings(docs_dir=work / "docs", index_dir=idx)
    t0 = time.perf_counter()
    if not (idx / "manifest.json").is_file():
        enc = make_corpus(Path(args.base_index), work / "docs", size)
        build_index(work / "docs", idx, enc, settings.build)
        print(f"n={size}: built in {time.perf_counter() - t0:.0f} s ({enc.misses} sentences not in the base)",
              file=sys.stderr)
    rss0 = rss_mb()
    model = load_encoder(settings.model)
    rss_model = rss_mb()
    data = load_index(idx)
    rss_index = rss_mb()
    choice = load_reader(settings, model, log=lambda m: None)
    from qa.model.query import fast_query_encoder

    fast = fast_query_encoder(model)
    hand = RankingSettings("hand")
    plain = QAService(data, model, replace(settings, batch_wait_ms=0, ranking=hand), query_encoder=fast)
    ranking = RankingSettings("learned", Path(args.ranker) if args.ranker else None)
    ranked = QAService(data, model, replace(settings, batch_wait_ms=0, ranking=ranking), query_encoder=fast)
    full = QAService(data, model, replace(settings, batch_wait_ms=0), query_encoder=fast, reader=choice.reader,
                     decision=choice.decision)
    qs = questions(args.data, args.questions)
    warm = questions(args.data, args.questions + 10)[args.questions:]
    def bare(q: str) -> object:
        return model.model.encode_query(q)  # type: ignore[attr-defined]

    for q in warm:  # warm shapes and caches with other questions
        bare(q)
        plain.ask(q)
        ranked.ask(q)
        full.ask(q)
    t: dict[str, list[float]] = {"bare": [], "ask": [], "ask+learned": [], "rank": [], "ask+reader": []}
    learned = ranked.answerer.retriever
    assert learned.ranker is not None
    for q in qs:
        for name, fn in (("bare", bare), ("ask", plain.ask), ("ask+learned", ranked.ask), ("ask+reader", full.ask)):
            for s in (plain, ranked, full):
                s.answerer.retriever.prepare.embed.clear()
            a = time.perf_counter()
            fn(q)
            t[name].append(time.perf_counter() - a)
        # the learned ranking's own step, its chunk term cache emptied first (every candidate cold: the worst case)
        prepared = learned.prepare(q)
        found, _, fused = learned.fuse(prepared)
        learned.terms = TermCache(data.chunks)
        a = time.perf_counter()
        learned.rerank(prepared, found, fused, learned.ranker)
        t["rank"].append(time.perf_counter() - a)
    vec_mb = (data.chunk_vectors.nbytes + data.sentence_vectors.nbytes) / 2**20
    return {"chunks": len(data.chunks), "sentences": int(data.sentence_vectors.shape[0]),
            "dense": data.manifest.dense_kind, "questions": len(qs),
            **{f"{k}_p50": round(pct(v, 50), 1) for k, v in t.items()},
            **{f"{k}_p95": round(pct(v, 95), 1) for k, v in t.items()},
            "rss_mb": round(rss_mb()), "model_mb": round(rss_model - rss0), "index_mb": round(rss_index - rss_model),
            "vectors_mb": round(vec_mb)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--base-index", required=True, help="the real index of the shared paragraphs")
    ap.add_argument("--work", default="/tmp/qa-scale")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--ranker", help="the learned ranking's folder (default: the shipped model)")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args, args.worker)))
        return
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--worker", str(n), "--data", *args.data, "--base-index", args.base_index,
               "--work", args.work, "--questions", str(args.questions)]
        cmd += ["--ranker", args.ranker] if args.ranker else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        sys.stderr.write(out.stderr[-2000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| chunks | sentences | dense | bare p50/p95 | ask p50/p95 (ratio) | ask+learned p50/p95 | "
          "rank step p50/p95 | ask+reader p50/p95 | RSS MB (model + index) | vectors MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['chunks']:,} | {r['sentences']:,} | {r['dense']} | {r['bare_p50']} / {r['bare_p95']} ms | "
              f"{r['ask_p50']} / {r['ask_p95']} ms ({r['ask_p50'] / r['bare_p50']:.2f}x / "
              f"{r['ask_p95'] / r['bare_p95']:.2f}x) | {r['ask+learned_p50']} / {r['ask+learned_p95']} ms | "
              f"{r['rank_p50']} / {r['rank_p95']} ms | {r['ask+reader_p50']} / {r['ask+reader_p95']} ms | "
              f"{r['rss_mb']} ({r['model_mb']} + {r['index_mb']}) | {r['vectors_mb']} |")


if __name__ == "__main__":
    main()
