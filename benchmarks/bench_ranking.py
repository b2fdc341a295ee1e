"""Ranking at a size that shows the problem: dense, lexical, hand-fused and learned over ≈ 4.8 k paragraphs.

    python benchmarks/bench_ranking.py --data ../shared/data/viquad1_train.json \\
        ../shared/data/viquad1_dev.json ../shared/data/zalo2019_train.json --work /tmp/qa-rank \\
        [--ranker FOLDER] [--json OUT.json]

Every distinct paragraph of the files becomes one document (`qa.eval.data.write_paragraph_docs`)
and is indexed once with the real pipeline (in-process backend, the embedded model) in --work; the
seed article gets its own index there. Question vectors are kept in `--work/questions.npz`
(`qa.search.stored_queries`), so a second run embeds nothing. Asked: the dev questions (UIT-ViQuAD
dev, never trained on), the held-out Zalo paragraphs' questions (`qa.eval.data.heldout`), each as
typed and with the diacritics stripped (`qa.lang.text.fold`), and the seed sets over the seed
index (passage level, as `qa eval`; follow-ups asked without their history, as bench_retrieval.py
does), per kind. A paragraph question ranks its own paragraph among distinct documents.

The four rankings come from one backend search per question, as `Retriever.search` orders them:
dense (the chunk cosine mixed with its best sentence's), lexical (BM25, fields mixed by the
question's diacritics), fused (today's z-score fusion) and learned (`--ranker`, default the
shipped model; left out if there is none).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.config import Settings  # noqa: E402
from qa.errors import ModelError  # noqa: E402
from qa.eval.data import EvalItem, load_qa_file, paragraph_key, select, write_paragraph_docs  # noqa: E402
from qa.eval.evaluate import gold_spans  # noqa: E402
from qa.index.build import build_index  # noqa: E402
from qa.index.store import IndexData, load_index  # noqa: E402
from qa.lang.text import fold  # noqa: E402
from qa.model.encoder import load_encoder  # noqa: E402
from qa.search.hybrid import Retriever  # noqa: E402
from qa.search.learned import RankModel, load_ranker  # noqa: E402
from qa.search.stored_queries import StoredQueries  # noqa: E402
from qa.startup import load_query_encoder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MODES = ("dense", "lexical", "fused", "learned")


def orders(retriever: Retriever, items: list[EvalItem], ranker: RankModel | None) -> dict[str, list[np.ndarray]]:
    """Per mode, each question's candidate chunk ids, best first."""
    out: dict[str, list[np.ndarray]] = defaultdict(list)
    for q in retriever.prepare.many([it.question for it in items], batch=4096):
        found, dense, fused = retriever.fuse(q)
        ids = found.ids
        out["dense"].append(ids[np.argsort(-dense, kind="stable")])
        out["lexical"].append(ids[np.argsort(-found.lexical, kind="stable")])
        out["fused"].append(ids[np.argsort(-fused, kind="stable")])
        if ranker is not None:
            out["learned"].append(ids[retriever.rerank(q, found, fused, ranker)] if ids.size > 1 else ids)
    return out


def rank_of(index: IndexData, item: EvalItem, ids: np.ndarray, spans: list[tuple[str, int, int]] | None) -> int | None:
    """1-based rank of the first right result among the first 10 (distinct paragraphs, or passages)."""
    if spans is None:
        gold = paragraph_key(item.context or "") + ".txt"
        docs = list(dict.fromkeys(index.chunks[int(i)].doc_id for i in ids[:60]))[:10]
        return next((r + 1 for r, d in enumerate(docs) if d == gold), None)
    for r, i in enumerate(ids[:10]):
        c = index.chunks[int(i)]
        if any(d == c.doc_id and s >= c.start and e <= c.end for d, s, e in spans):
            return r + 1
    return None


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = max(1, len(ranks))
    return {"R@1": sum(r == 1 for r in ranks) / n, "R@5": sum(bool(r and r <= 5) for r in ranks) / n,
            "MRR@10": sum(1 / r for r in ranks if r) / n}


def measure(retriever: Retriever, items: list[EvalItem], ranker: RankModel | None,
            passage_level: bool) -> dict[str, dict[str, dict[str, float]]]:
    """{"overall" | kind: {mode: metrics}}."""
    index = retriever.index
    spans = [gold_spans(index.documents, it) if passage_level else None for it in items]
    result: dict[str, dict[str, dict[str, float]]] = {}
    for mode, lists in orders(retriever, items, ranker).items():
        ranks = [rank_of(index, it, ids, sp) for it, ids, sp in zip(items, lists, spans, strict=True)]
        result.setdefault("overall", {})[mode] = metrics(ranks)
        if passage_level:
            kinds: dict[str, list[int | None]] = defaultdict(list)
            for it, r in zip(items, ranks, strict=True):
                kinds[it.kind].append(r)
            for k, rs in sorted(kinds.items()):
                result.setdefault(k, {})[mode] = metrics(rs)
    return result


def show(name: str, n: int, res: dict[str, dict[str, dict[str, float]]]) -> None:
    for part, row in res.items():
        label = name if part == "overall" else f"  {part}"
        cells = "  ".join(f"{m} {v['R@1']:.3f}/{v['R@5']:.3f}/{v['MRR@10']:.3f}" for m, v in row.items())
        print(f"{label:32} {cells}", flush=True)
    if "learned" in res["overall"]:
        d = res["overall"]["learned"]["R@1"] - res["overall"]["fused"]["R@1"]
        print(f"{'':32} n={n}  learned − fused R@1 {d:+.3f}", flush=True)


def ensure_index(docs: Path, index_dir: Path, settings: Settings, enc: object, log: str) -> None:
    if not (index_dir / "manifest.json").is_file():
        t0 = time.perf_counter()
        rep = build_index(docs, index_dir, enc, settings.build)  # type: ignore[arg-type]
        print(f"built {log}: {rep.chunks} chunks, {rep.sentences} sentences in {time.perf_counter() - t0:.0f} s",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="viquad1_train, viquad1_dev and zalo2019_train")
    ap.add_argument("--work", default="/tmp/qa-rank", help="documents, indexes and question vectors, made once")
    ap.add_argument("--ranker", help="a folder from `qa rank train` (default: the shipped model)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--no-seed", action="store_true", help="skip the seed sets")
    args = ap.parse_args()
    settings = Settings.from_env()
    work = Path(args.work)
    files = {Path(f).stem: load_qa_file(Path(f)) for f in args.data}
    enc = load_encoder(settings.model)
    if not (work / "index" / "manifest.json").is_file():
        n = write_paragraph_docs([it for items in files.values() for it in items], work / "docs")
        print(f"{n} paragraphs", flush=True)
    ensure_index(work / "docs", work / "index", settings, enc, "the paragraph index")
    try:
        ranker = load_ranker(Path(args.ranker) if args.ranker else None)
    except ModelError as e:
        print(f"no learned ranking ({e})", flush=True)
        ranker = None
    # the question vectors the product makes (QA_QUERY_TOWER: the shipped tower by default)
    query_encoder, questions = load_query_encoder(settings, enc, log=lambda m: None)
    print(f"questions: {questions}", file=sys.stderr, flush=True)
    tag = getattr(query_encoder, "query_name", enc.name).partition("+")[2]
    queries = StoredQueries(query_encoder, work / (f"questions-{tag}.npz" if tag else "questions.npz"))
    index = load_index(work / "index")
    print(f"index: {index.manifest.counts}", flush=True)
    sets: list[tuple[str, Retriever, list[EvalItem], bool]] = []
    retriever = Retriever(index, queries)
    retriever.prepare.embed.size = 10_000_000
    for stem, items in files.items():
        if "train" in stem and "zalo" not in stem:
            continue  # the learned ranking's training questions
        chosen = items if "dev" in stem else select(items, "heldout")
        label = f"{stem} {'dev' if 'dev' in stem else 'heldout'}"
        plain = [replace(it, question=fold(it.question)) for it in chosen]
        sets += [(label, retriever, chosen, False), (f"{label} no-diacritics", retriever, plain, False)]
    if not args.no_seed:
        seed_docs = REPO / "seeds"
        ensure_index(seed_docs, work / "seed-index", settings, enc, "the seed index")
        seed = Retriever(load_index(work / "seed-index"), queries)
        for f in ("seed_dev", "seed_holdout"):
            sets.append((f, seed, [it for it in load_qa_file(REPO / "tests" / "data" / f"{f}.json") if it.answers],
                         True))
    report: dict[str, object] = {}
    print("R@1/R@5/MRR@10 per ranking", flush=True)
    try:
        for name, r, items, passage_level in sets:
            t0 = time.perf_counter()
            res = measure(r, items, ranker, passage_level)
            show(name, len(items), res)
            report[name] = {"n": len(items), **res, "seconds": round(time.perf_counter() - t0, 1)}
    finally:
        queries.save()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
