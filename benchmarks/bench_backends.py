"""Index backends side by side at scale: build time, search and ask p50/p95, RSS and disk (a benchmark).

    python benchmarks/bench_backends.py [--sizes 100000 1000000] [--backends faiss qdrant-edge]
                                        [--queries 200] [--work /tmp/qa-backends] [--keep]

Corpus: real Vietnamese text, replicated. Sentences come from the seed article and the shared QA
paragraphs (../shared/data); each document is 8–40 chunks of 3–5 sentences drawn from one
"topic" pool, plus a document number, so term statistics look like a large news archive: common
syllables everywhere, rare ones in few chunks. Vectors are synthetic (`bench_scale.Mixture`: the
cluster structure and cosine levels of multilingual-e5 chunk vectors); each sentence vector is its
chunk's vector plus noise, renormalized. No model runs: a build's embedding time is the same for
every backend (see bench_build.py), so "build" here is everything after it.

Every (backend, size) runs in a fresh process, so RSS is its own:

- build: the production pipeline after embedding (`qa.index.build.write_index`, the same for every
  engine): for `faiss` the points handed over at once (FAISS, bm25s, catalogue); for `qdrant-edge`
  streamed into a new shard in slices, `optimize()` for the HNSW graph, catalogue, atomic swap;
- load: `load_index` (for Qdrant Edge the catalogue plus opening the shard);
- search: `Retriever.search(k=5)` for the questions of tests/data/seed_dev.json and the shared
  files, their text through the real question pipeline (shorthand, diacritics restoration), their
  vectors drawn from the mixture (so the search is judged, not the model);
- ask: `Answerer.ask` for the same questions (retrieval, sentence scoring, evidence checks,
  highlights; reader off) with a query encoder that returns those vectors: add ~17 ms for a real
  question embedding (bench_ask.py), the same on every backend;
- agree@5: share of each question's top-5 chunks that the in-process backend also returns
  (same corpus, same vectors; 1.00 = identical);
- RSS after load + all queries, peak RSS during build (ru_maxrss), disk of the index folder.

Prints one table; `--json FILE` also writes the raw rows.

Parity on real data (the embedded model, no synthetic vectors):

    python benchmarks/bench_backends.py --parity /tmp/qa-retrieval/index \
        --data ../shared/data/viquad1_dev.json ../shared/data/zalo2019_train.json \
        [--backends faiss qdrant-edge qdrant+local:/tmp/qa-parity/qdrant-storage]

copies an in-process index of the shared paragraphs (bench_retrieval.py builds it) into each
engine backend with the production pipeline (`qa.index.build.write_index`: same chunks, same vectors, the
sparse weights computed at write time), then ranks the held-out paragraphs' questions (as typed and
without diacritics) on every backend: R@1 / MRR@10 of the fused ranking, and each backend's search
p50. The questions are prepared (shorthand, diacritics, vectors) once, on the in-process index.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_scale import DIM, Mixture  # noqa: E402
from benchmarks.common import rss_mb  # noqa: E402
from qa.schema import Chunk, Document  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


class SyntheticEncoder:
    """The encoder interface with vectors from the mixture, seeded by the text (no model)."""

    name, dimension, profile = "synthetic-e5-like", DIM, "none"

    def __init__(self, mix: Mixture) -> None:
        self.mix = mix

    def _vec(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")
        return self.mix.sample(1, seed=seed)[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


def sentence_pool() -> list[str]:
    """Distinct real sentences: the seed article and every paragraph of the shared QA files."""
    from qa.lang.sentences import split_sentences

    texts = [p.read_text("utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    for name in ("viquad1_dev.json", "zalo2019_train.json"):
        path = SHARED / name
        if path.is_file():
            from qa.eval.data import load_qa_file

            texts += sorted({it.context for it in load_qa_file(path) if it.context})
    out: list[str] = []
    for t in texts:
        out += [t[s:e].strip() for s, e in split_sentences(t) if 20 <= e - s <= 400]
    return sorted(set(out))


def corpus(n: int, mix: Mixture, seed: int = 1, batch: int = 20_000):  # type: ignore[no-untyped-def]
    """Yield (documents, chunks, chunk vectors, sentence vectors) in slices until n chunks exist."""
    pool = sentence_pool()
    rng = random.Random(seed)
    topics = [pool[i::50] for i in range(50)]  # 50 topic pools of related-by-source sentences
    vrng = np.random.default_rng(seed)
    made, doc_no = 0, 0
    while made < n:
        docs: dict[str, Document] = {}
        chunks: list[Chunk] = []
        while len(chunks) < batch and made + len(chunks) < n:
            doc_no += 1
            topic = topics[rng.randrange(len(topics))]
            want = min(rng.randint(8, 40), n - made - len(chunks))
            doc_id = f"doc{doc_no:07d}.txt"
            parts: list[str] = []
            pos = 0
            plan: list[list[tuple[int, int]]] = []
            for c in range(want):
                sents = []
                for s in rng.sample(topic, rng.randint(3, 5)):
                    if c == 0 and not sents:
                        s = f"Văn bản số {doc_no}: {s}"  # a rare term per document
                    sents.append((pos, pos + len(s)))
                    parts.append(s)
                    pos += len(s) + 1
                plan.append(sents)
            text = " ".join(parts)
            title = text[: min(80, len(text))]
            docs[doc_id] = Document(doc_id, title, text, hashlib.sha256(text.encode()).hexdigest(), ((0, len(text)),))
            for sents in plan:
                a, b = sents[0][0], sents[-1][1]
                chunks.append(Chunk(doc_id, title, text[a:b], a, b, tuple(sents)))
        cvec = mix.sample(len(chunks), seed=vrng.integers(1 << 31))
        counts = np.array([len(c.sentences) for c in chunks])
        noise = vrng.standard_normal((int(counts.sum()), DIM), dtype=np.float32) @ mix.shape
        svec = np.repeat(cvec, counts, axis=0) + 0.35 * noise
        svec /= np.linalg.norm(svec, axis=1, keepdims=True)
        made += len(chunks)
        yield docs, chunks, cvec, svec.astype(np.float32)


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def build(kind: str, n: int, mix: Mixture, out: Path, on_disk: bool = False) -> float:
    """Write the index with the production pipeline's last steps (`write_index`: points to the engine,
    catalogue, swap); returns seconds (corpus generation excluded)."""
    from qa.index.build import BuildOptions, model_fingerprint, write_index
    from qa.index.engines.base import BackendSettings
    from qa.index.engines.registry import engine_for

    enc = SyntheticEncoder(mix)
    o = BuildOptions(backend=BackendSettings(kind=kind, on_disk=on_disk))
    live = out.resolve()
    if kind == "faiss":
        docs: dict[str, Document] = {}
        chunks: list[Chunk] = []
        # filled in place: concatenating slices would hold every vector twice (GBs at 1 M chunks); the
        # unused tail of the sentence array is never touched, so it is never resident
        cvec = np.empty((n, DIM), np.float32)
        svec = np.empty((5 * n, DIM), np.float32)
        rows = srows = 0
        for d, c, cv, sv in corpus(n, mix):
            docs.update(d)
            chunks += c
            cvec[rows : rows + len(cv)], svec[srows : srows + len(sv)] = cv, sv
            rows, srows = rows + len(cv), srows + len(sv)
        cvec, svec = cvec[:rows], svec[:srows]
        gc.collect()
        t0 = time.perf_counter()
        writer = engine_for(kind).writer(o.backend, live, model_fingerprint(enc), o.dense)
        write_index(writer, live, model_fingerprint(enc), o, docs, chunks, [(chunks, cvec, svec)])
        return time.perf_counter() - t0
    docs, chunks = {}, []
    for d, c, _, _ in corpus(n, mix):  # texts first: the BM25 constants need the whole corpus
        docs.update(d)
        chunks += c
    generating = [0.0]

    def slices() -> Iterator[tuple[list[Chunk], np.ndarray, np.ndarray]]:
        """The same seed: the same slices again, vectors and all (streamed: never all in memory)."""
        it = corpus(n, mix)
        while True:
            t1 = time.perf_counter()
            got = next(it, None)
            generating[0] += time.perf_counter() - t1
            if got is None:
                return
            yield got[1], got[2], got[3]

    t0 = time.perf_counter()
    writer = engine_for(kind).writer(o.backend, live, model_fingerprint(enc), o.dense)
    write_index(writer, live, model_fingerprint(enc), o, docs, chunks, slices())
    return time.perf_counter() - t0 - generating[0]


def questions() -> list[str]:
    """The seed dev questions, then the shared file's (real questions, typed with and without diacritics)."""
    from qa.eval.data import load_qa_file

    qs = [it.question for it in load_qa_file(REPO / "tests/data/seed_dev.json")]
    path = SHARED / "viquad1_dev.json"
    if path.is_file():
        qs += [it.question for it in load_qa_file(path)]
    return qs


def worker(kind: str, n: int, n_queries: int, work: Path, keep: bool, on_disk: bool = False) -> dict[str, Any]:
    from qa.answer.answerer import Answerer
    from qa.index.store import load_index
    from qa.search.hybrid import Retriever

    mix = Mixture(n)
    out = work / f"{kind}_{n}"
    if out.exists():
        shutil.rmtree(out)
    build_s = build(kind, n, mix, out, on_disk)
    peak_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gc.collect()
    t0 = time.perf_counter()
    data = load_index(out)
    load_s = time.perf_counter() - t0
    enc = SyntheticEncoder(mix)
    retriever = Retriever(data, enc)
    qs = questions()[:n_queries]
    prepared = retriever.prepare.many(qs)
    search_ms, top = [], []
    for q in prepared:
        t1 = time.perf_counter()
        res = retriever.search(q.raw, k=5, query=q)
        search_ms.append((time.perf_counter() - t1) * 1000)
        top.append([(data.chunks[h.chunk_id].doc_id, data.chunks[h.chunk_id].start) for h in res.hits])
    answerer = Answerer(data, retriever)
    ask_ms = []
    for q in qs:
        t1 = time.perf_counter()
        answerer.ask(q, top_k=5)
        ask_ms.append((time.perf_counter() - t1) * 1000)
    row = {"backend": kind, "chunks": len(data.chunks), "sentences": int(data.sentence_offsets[-1]),
           "build_s": round(build_s, 1), "load_s": round(load_s, 2),
           "search_p50": round(float(np.percentile(search_ms, 50)), 2),
           "search_p95": round(float(np.percentile(search_ms, 95)), 2),
           "ask_p50": round(float(np.percentile(ask_ms, 50)), 2), "ask_p95": round(float(np.percentile(ask_ms, 95)), 2),
           "rss_mb": round(rss_mb()), "peak_build_mb": round(peak_build), "disk_mb": round(disk_mb(out)),
           "queries": len(qs), "top": top}
    if data.backend is not None:
        data.backend.close()
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return row


def convert(src: Any, out: Path, label: str) -> Any:
    """Write an in-process index's chunks and vectors into backend `label` (the production pipeline's last
    steps: same chunks, same vectors, the sparse weights computed at write time); returns its settings."""
    from qa.index.build import BuildOptions, write_index
    from qa.index.engines.registry import engine_for, parse_backend

    s = parse_backend(label)
    if out.exists():
        shutil.rmtree(out)
    m = src.manifest
    o = BuildOptions(chunking=m.chunking, encode=m.encode, dense=m.dense, backend=s)
    live = out.resolve()
    writer = engine_for(s.kind).writer(s, live, m.model, o.dense)
    write_index(writer, live, m.model, o, dict(src.documents), src.chunks,
                [(src.chunks, src.chunk_vectors, src.sentence_vectors)])
    return s


def parity(source: Path, files: list[Path], labels: list[str], work: Path) -> None:
    """R@1 / MRR@10 of the held-out paragraphs' questions on each backend, over the same chunks and vectors."""
    import copy

    from benchmarks.bench_retrieval import Bench, folded, scores
    from qa.config import Settings
    from qa.eval.data import load_qa_file, select
    from qa.index.store import load_index
    from qa.model.encoder import load_encoder
    from qa.model.query import fast_query_encoder
    from qa.search.hybrid import Retriever

    ref = load_index(source)
    enc = fast_query_encoder(load_encoder(Settings.from_env().model))
    indexes: dict[str, Any] = {}
    for label in labels:
        if label == "faiss":
            indexes[label] = ref
            continue
        t0 = time.perf_counter()
        s = convert(ref, work / label.replace("/", "_").replace(":", "_").replace("+", "_"), label)
        indexes[label] = load_index(work / label.replace("/", "_").replace(":", "_").replace("+", "_"), s)
        print(f"{label}: {len(ref.chunks)} chunks written and loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    retriever = Retriever(ref, enc)
    retriever.prepare.embed.size = 100_000
    benches: dict[str, Bench] = {}
    for f in files:
        chosen = select(load_qa_file(f), "heldout")
        benches[f"{f.stem} heldout"] = Bench(ref, retriever, chosen, True)
        benches[f"{f.stem} heldout no-diacritics"] = Bench(ref, retriever, folded(chosen), True)
    print(f"\n{'set':42}{'n':>6}" + "".join(f"{lb[:26]:>28}" for lb in labels) + "   (R@1 / MRR@10, fused)")
    timing: dict[str, list[float]] = {lb: [] for lb in labels}
    for name, bench in benches.items():
        cells = []
        for label in labels:
            b = copy.copy(bench)
            b.index, b.retriever = indexes[label], Retriever(indexes[label], enc)
            t0 = time.perf_counter()
            r1, mrr = scores(b.ranks(b.retriever.params))
            timing[label].append((time.perf_counter() - t0) * 1000 / max(1, len(b.items)))
            cells.append(f"{r1:.3f} / {mrr:.3f}")
        print(f"{name:42}{len(bench.items):>6}" + "".join(f"{c:>28}" for c in cells), flush=True)
    print(f"{'mean search ms (k=30)':48}" + "".join(f"{np.mean(timing[lb]):>28.1f}" for lb in labels))
    for idx in indexes.values():
        if idx.backend is not None:
            idx.backend.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--backends", nargs="+", default=["faiss", "qdrant-edge"])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--work", type=Path, default=Path("/tmp/qa-backends"))
    ap.add_argument("--keep", action="store_true", help="keep the built indexes")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--on-disk", action="store_true",
                    help="qdrant-edge keeps the original vectors on disk (QA_QDRANT_ON_DISK), as for 1 M+ chunks")
    ap.add_argument("--worker", nargs=2, metavar=("BACKEND", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--parity", type=Path, metavar="INDEX", help="an in-process index of the shared paragraphs")
    ap.add_argument("--data", type=Path, nargs="+", default=[SHARED / "viquad1_dev.json",
                                                            SHARED / "zalo2019_train.json"])
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    if a.parity:
        labels = a.backends if a.backends != ["faiss", "qdrant-edge"] else \
            ["faiss", "qdrant-edge", f"qdrant+local:{a.work / 'qdrant-storage'}"]
        parity(a.parity, a.data, labels, a.work)
        return
    if a.worker:
        print(json.dumps(worker(a.worker[0], int(a.worker[1]), a.queries, a.work, a.keep, a.on_disk)))
        return
    rows = []
    print(f"{'backend':12}{'chunks':>10}{'build s':>9}{'load s':>8}{'search p50':>11}{'p95':>7}{'ask p50':>9}"
          f"{'p95':>7}{'RSS MB':>8}{'peak MB':>9}{'disk MB':>9}{'agree@5':>9}", flush=True)
    for n in a.sizes:
        ref: list | None = None
        for kind in a.backends:
            cmd = [sys.executable, __file__, "--worker", kind, str(n), "--queries", str(a.queries), "--work",
                   str(a.work)] + (["--keep"] if a.keep else []) + (["--on-disk"] if a.on_disk else [])
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr or "").strip().splitlines()[-1:] or ["?"]
                print(f"{kind:12}{n:>10,}  failed (exit {proc.returncode}): {tail[0][:100]}", flush=True)
                rows.append({"backend": kind, "chunks": n, "error": proc.stderr[-2000:]})
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            if kind == "faiss":
                ref = row["top"]
            if ref is not None:
                same = [len({tuple(x) for x in a_} & {tuple(x) for x in b_}) / max(1, len(a_))
                        for a_, b_ in zip(ref, row["top"], strict=True)]
                row["agree5"] = round(float(np.mean(same)), 3)
            rows.append(row)
            print(f"{kind:12}{row['chunks']:>10,}{row['build_s']:>9.1f}{row['load_s']:>8.2f}{row['search_p50']:>11.2f}"
                  f"{row['search_p95']:>7.2f}{row['ask_p50']:>9.2f}{row['ask_p95']:>7.2f}{row['rss_mb']:>8}"
                  f"{row['peak_build_mb']:>9}{row['disk_mb']:>9}{row.get('agree5', float('nan')):>9.3f}", flush=True)
    if a.json:
        a.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "top"} for r in rows], indent=1))


if __name__ == "__main__":
    main()
