"""Resident memory of a serving process, step by step, on one index (a benchmark, not a test).

    python benchmarks/bench_memory.py --index /tmp/qa-scale/n100000/index \
        --data ../shared/data/viquad1_dev.json ../shared/data/zalo2019_train.json [--questions 260]

Loads what `open_service` loads, one step at a time (model, traced question encoder, index, reader),
then asks distinct held-out questions never asked before (30 without the reader, 30 with it, the rest
without), printing RSS after each step and how much of the memory-mapped vector files is resident
(`/proc/self/smaps`). Ends with the issue's ratio: RSS / (vectors + model + lexical index), and the
bound if every vector page were resident. Run it alone: RSS is the process's own.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_ask_scale import questions  # noqa: E402
from benchmarks.common import rss_mb  # noqa: E402


def mapped_mb(folder: Path) -> tuple[float, float]:
    """(resident, size) in MB of the .npy files of `folder` this process has mapped."""
    res = size = 0
    cur = False
    with open("/proc/self/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and ":" not in parts[0]:  # a mapping's header line
                cur = len(parts) >= 6 and parts[5].endswith(".npy") and parts[5].startswith(str(folder))
            elif cur and parts[0] == "Rss:":
                res += int(parts[1])
            elif cur and parts[0] == "Size:":
                size += int(parts[1])
    return res / 1024, size / 1024


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--data", nargs="+", required=True, help="QA files whose held-out questions are asked")
    ap.add_argument("--questions", type=int, default=260)
    a = ap.parse_args()
    idx = a.index.resolve()

    def step(name: str) -> float:
        r = rss_mb()
        res, size = mapped_mb(idx)
        print(f"{name:44} RSS {r:8.0f} MB   vector pages resident {res:6.0f} of {size:6.0f} MB", flush=True)
        return r

    import torch  # noqa: F401  (imports are not the model: count them apart)

    from qa.config import Settings
    from qa.index.store import load_index
    from qa.model.encoder import load_encoder
    from qa.model.query import fast_query_encoder
    from qa.service import QAService
    from qa.startup import load_reader

    base = step("imports")
    s = replace(Settings.from_env(), index_dir=idx, docs_dir=idx.parent / "docs")
    model = load_encoder(s.model)
    model_mb = step("model (weights + tokenizer)") - base
    fast = fast_query_encoder(model)
    step("traced question encoder")
    data = load_index(idx)
    step("index")
    choice = load_reader(s, model, log=lambda m: None)
    step("reader")
    qs = questions(a.data, a.questions)
    plain = QAService(data, model, replace(s, batch_wait_ms=0), query_encoder=fast)
    full = QAService(data, model, replace(s, batch_wait_ms=0), query_encoder=fast, reader=choice.reader,
                      decision=choice.decision)
    for q in qs[:30]:
        plain.ask(q)
    step("30 questions")
    for q in qs[30:60]:
        full.ask(q)
    step("30 more, with the reader")
    for q in qs[60:]:
        plain.ask(q)
    total = step(f"{len(qs[60:])} more")
    vectors = sum((idx / n).stat().st_size for n in ("chunk_vectors.npy", "sentence_vectors.npy")) / 2**20
    lexical = folder_mb(idx / "bm25_norm") + folder_mb(idx / "bm25_folded")
    parts = vectors + model_mb + lexical
    res, size = mapped_mb(idx)
    print(f"\nvectors {vectors:.0f} + model {model_mb:.0f} + lexical {lexical:.0f} = {parts:.0f} MB; "
          f"RSS {total:.0f} MB = {total / parts:.2f}x; every vector page resident: "
          f"{total - res + size:.0f} MB = {(total - res + size) / parts:.2f}x")


if __name__ == "__main__":
    main()
