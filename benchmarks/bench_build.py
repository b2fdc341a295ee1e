"""Index build throughput next to raw batch encoding of the same chunks (a benchmark, not a test).

    python benchmarks/bench_build.py [--docs seeds] [--copies 8] [--repeat 3] [--device cpu|cuda]

Each round times, back to back on one loaded model: `SentenceTransformer.encode_document` of the
chunk texts (the floor any pipeline pays), then a full `build_index` in each QA_ENCODE mode:
"sentences" (the default: only distinct sentences go through the model, chunk vectors are their
weighted mean), "both" (chunks and sentences encoded) and "chunks" (sentence vectors pooled from
the chunk pass). Medians over the rounds; the ratio is build throughput / raw throughput (≥ 0.9 is
the target). `--copies N` indexes N variants of each document (every sentence marked with its copy number) for a bigger,
less noisy corpus.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qa.index.build as indexer  # noqa: E402
from qa.ingest.chunking import chunk_document  # noqa: E402
from qa.ingest.documents import load_documents  # noqa: E402
from qa.lang.text import nfc  # noqa: E402
from qa.model.encoder import ModelOptions, load_encoder  # noqa: E402

MODES = ("sentences", "both", "chunks")


def make_corpus(src: Path, copies: int, dest: Path) -> Path:
    """`copies` variants of each document whose sentences all differ (a copy number in each), so
    neither chunks nor sentences repeat across copies (the build encodes a repeated sentence once)."""
    if copies <= 1:
        return src
    dest.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.iterdir()):
        if p.suffix.lower() not in (".txt", ".md"):
            continue
        paras = [x for x in p.read_text(encoding="utf-8").split("\n") if x.strip()]
        for i in range(copies):
            marked = [f"Bản {i}: " + x.replace(". ", f". Theo bản {i}, ") for x in paras]
            (dest / f"{p.stem}-{i:03d}{p.suffix}").write_text("\n".join(marked), encoding="utf-8")
    return dest


def timed_build(docs: Path, out: Path, enc: Any, mode: Any) -> tuple[float, float]:
    """(whole build seconds, seconds inside encode_chunks)."""
    inner = indexer.encode_chunks
    spent = [0.0]

    def wrapped(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            spent[0] += time.perf_counter() - t

    indexer.encode_chunks = wrapped  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        indexer.build_index(docs, out, enc, indexer.BuildOptions(encode=mode))
        return time.perf_counter() - t0, spent[0]
    finally:
        indexer.encode_chunks = inner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", default="seeds")
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default=None, help="torch device, e.g. cuda (default cpu)")
    args = ap.parse_args()
    enc = load_encoder(ModelOptions(device=args.device))
    with tempfile.TemporaryDirectory(prefix="qa-bench-build-") as tmp:
        docs = make_corpus(Path(args.docs), args.copies, Path(tmp) / "docs")
        chunks = [c for d in load_documents(docs) for c in chunk_document(d)]
        texts = [nfc(c.text) for c in chunks]
        n_sent = sum(len(c.sentences) for c in chunks)
        print(f"corpus: {docs} -> {len(chunks)} chunks, {n_sent} sentences; device {enc.device}; "
              f"torch threads {_torch_threads()}; {args.repeat} rounds, medians")
        enc.model.encode_document(texts[:8], batch_size=32)  # warm-up: first call allocates
        raw: list[float] = []
        build: dict[str, list[float]] = {m: [] for m in MODES}
        inside: dict[str, list[float]] = {m: [] for m in MODES}
        for r in range(args.repeat):
            t0 = time.perf_counter()
            enc.model.encode_document(texts, batch_size=32, normalize_embeddings=True)
            raw.append(time.perf_counter() - t0)
            for m in MODES:
                total, enc_s = timed_build(docs, Path(tmp) / f"index-{m}-{r}", enc, m)
                build[m].append(total)
                inside[m].append(enc_s)
        raw_s = statistics.median(raw)
        print(f"{'':34}{'seconds':>9}{'chunks/s':>10}{'x raw':>8}{'encoding':>10}")
        print(f"{'raw encode_document (chunks)':34}{raw_s:9.2f}{len(chunks) / raw_s:10.1f}{1.0:8.2f}{raw_s:10.2f}")
        for m in MODES:
            b = statistics.median(build[m])
            print(f"{'build_index, QA_ENCODE=' + m:34}{b:9.2f}{len(chunks) / b:10.1f}{raw_s / b:8.2f}"
                  f"{statistics.median(inside[m]):10.2f}")


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


if __name__ == "__main__":
    main()
