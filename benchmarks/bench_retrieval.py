"""Retrieval on many documents: dense, lexical and fused rankings over the shared QA paragraphs.

    python benchmarks/bench_retrieval.py --data ../shared/data/viquad1_dev.json ../shared/data/zalo2019_train.json \
        [--work /tmp/qa-retrieval] [--grid] [--seed-index DIR]

Every distinct paragraph of the files becomes one document (`qa.eval.data.write_paragraph_docs`);
the index is built with the real pipeline and the embedded model (cached in --work). Questions are
split by paragraph (`qa.eval.data.heldout`): `--grid` tunes the fusion weights on the questions of
the training paragraphs only, and every table reports the held-out paragraphs' questions, as typed
and with their diacritics stripped (how many users type). A question ranks its own paragraph:
R@1 and MRR@10 over distinct documents. `--seed-index` adds the seed sets (passage level, like
`qa eval`): the fused ranking must beat both of its parts there too.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.config import Settings  # noqa: E402
from qa.eval.data import EvalItem, load_qa_file, paragraph_key, select, write_paragraph_docs  # noqa: E402
from qa.eval.evaluate import gold_spans  # noqa: E402
from qa.index.build import build_index  # noqa: E402
from qa.index.store import IndexData, load_index  # noqa: E402
from qa.lang.text import fold  # noqa: E402
from qa.model.encoder import load_encoder  # noqa: E402
from qa.model.query import fast_query_encoder  # noqa: E402
from qa.search.hybrid import FusionParams, Retriever  # noqa: E402
from qa.search.query import Query  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MODES = {"dense": dict(dense_weight=1.0, lexical_weight=0.0), "lexical": dict(dense_weight=0.0, lexical_weight=1.0)}


class Bench:
    """Prepared queries for one index, ranked under any fusion parameters."""

    def __init__(self, index: IndexData, retriever: Retriever, items: list[EvalItem], paragraph_level: bool) -> None:
        self.index, self.retriever, self.items = index, retriever, items
        self.paragraph_level = paragraph_level
        self.queries: list[Query] = retriever.prepare.many([it.question for it in items])
        if paragraph_level:
            self.gold = [{paragraph_key(it.context or "") + ".txt"} for it in items]
        else:  # seed sets: a passage must hold a gold answer, as in `qa eval`
            self.gold_spans = [gold_spans(index.documents, it) for it in items]

    def ranks(self, params: FusionParams) -> list[int | None]:
        self.retriever.params = params
        out = []
        for i, q in enumerate(self.queries):
            hits = self.retriever.search(q.raw, k=30, query=q).hits
            rank = None
            if self.paragraph_level:
                docs = list(dict.fromkeys(self.index.chunks[h.chunk_id].doc_id for h in hits))[:10]
                rank = next((r + 1 for r, d in enumerate(docs) if d in self.gold[i]), None)
            else:
                for r, h in enumerate(hits[:10]):
                    c = self.index.chunks[h.chunk_id]
                    if any(d == c.doc_id and s >= c.start and e <= c.end for d, s, e in self.gold_spans[i]):
                        rank = r + 1
                        break
            out.append(rank)
        return out


def scores(ranks: list[int | None]) -> tuple[float, float]:
    """(R@1, MRR@10) over questions that have an answer."""
    n = max(1, len(ranks))
    return sum(r == 1 for r in ranks) / n, sum(1 / r for r in ranks if r) / n


def table(name: str, bench: Bench, fused: FusionParams) -> dict[str, tuple[float, float]]:
    row = {m: scores(bench.ranks(replace(fused, **kw))) for m, kw in MODES.items()}  # type: ignore[arg-type]
    row["fused"] = scores(bench.ranks(fused))
    cells = "  ".join(f"{m} {r1:.3f} / {mrr:.3f}" for m, (r1, mrr) in row.items())
    best_part = max(row["dense"][1], row["lexical"][1])
    verdict = "beats both" if row["fused"][1] > best_part else "DOES NOT beat both"
    print(f"  {name:34} n={len(bench.items):5}  R@1 / MRR@10: {cells}   fused {verdict}", flush=True)
    return row


def folded(items: list[EvalItem]) -> list[EvalItem]:
    """The same questions typed without diacritics."""
    return [replace(it, question=fold(it.question)) for it in items]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="SQuAD-like QA files (the shared data)")
    ap.add_argument("--work", default="/tmp/qa-retrieval", help="docs and index are built here once")
    ap.add_argument("--grid", action="store_true", help="tune the fusion weights on the training paragraphs")
    ap.add_argument("--seed-index", help="also rank the seed sets over this index of the seed article")
    args = ap.parse_args()
    settings = Settings.from_env()
    work = Path(args.work)
    per_file = {Path(f).stem: load_qa_file(Path(f)) for f in args.data}
    every = [it for items in per_file.values() for it in items]
    enc = load_encoder(settings.model)
    if not (work / "index" / "manifest.json").is_file():
        n = write_paragraph_docs(every, work / "docs")
        t0 = time.perf_counter()
        rep = build_index(work / "docs", work / "index", enc, settings.build)
        print(f"built {work / 'index'}: {n} paragraphs, {rep.chunks} chunks, {rep.sentences} sentences "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
    index = load_index(work / "index")
    retriever = Retriever(index, fast_query_encoder(enc))
    retriever.prepare.embed.size = 100_000  # every question once: keep all their vectors
    print(f"index: {index.manifest.counts}; default fusion {FusionParams()}")
    benches: dict[str, Bench] = {}
    tuning: list[Bench] = []  # the training paragraphs' questions: the only ones --grid looks at
    for name, items in per_file.items():
        for split in ("train", "heldout") if args.grid else ("heldout",):
            chosen = select(items, split)  # type: ignore[arg-type]
            typed, plain = Bench(index, retriever, chosen, True), Bench(index, retriever, folded(chosen), True)
            if split == "train":
                tuning += [typed, plain]
            else:
                benches[f"{name} heldout"], benches[f"{name} heldout no-diacritics"] = typed, plain
    if args.seed_index:
        seed = load_index(Path(args.seed_index))
        seed_retriever = Retriever(seed, fast_query_encoder(enc))
        for f in ("seed_dev", "seed_holdout"):
            items = [it for it in load_qa_file(REPO / "tests" / "data" / f"{f}.json") if it.answers]
            benches[f] = Bench(seed, seed_retriever, items, False)
    fused = FusionParams()
    if args.grid:
        train = tuning
        best = None
        grid = itertools.product([0.5, 0.6, 0.7, 0.8], [0.0, 0.3, 0.5], [0.3, 0.5, 0.7])
        for dw, sw, fw in grid:
            p = replace(fused, dense_weight=dw, lexical_weight=1 - dw, sentence_weight=sw, folded_weight=fw)
            mrr = sum(scores(b.ranks(p))[1] for b in train) / len(train)
            print(f"  grid dense {dw} sentence {sw} folded {fw}: mean train MRR@10 {mrr:.4f}", flush=True)
            if best is None or mrr > best[0]:
                best = (mrr, p)
        assert best is not None
        fused = best[1]
        print(f"best on the training paragraphs: {fused}")
    print(f"\nfusion {fused}")
    for name, bench in benches.items():
        table(name, bench, fused)
    for b in benches.values():
        b.retriever.params = FusionParams()


if __name__ == "__main__":
    main()
