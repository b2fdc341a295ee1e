"""`qa rank train`: fit the learned ranking (qa.search.rank_train) from question → paragraph pairs.

    qa rank train --data-all ../shared/data/viquad1_train.json --work /tmp/qa-rank --out ranker
    qa rank train ... --index /tmp/qa-retrieval/index     # reuse an index that holds the paragraphs

Every distinct paragraph of the files becomes one document; the index over them is built in
`--work` once (or `--index` names one that holds them, e.g. benchmarks/bench_ranking.py's), and
the question vectors are kept in `--work/questions.npz`, so a second run embeds nothing.
`--data-all` files are trained on whole (UIT-ViQuAD's train split); `--data` files only on their
`train` paragraphs (the fixed hash of qa.eval.data). The weights and their sha256 go to `--out`;
serve them with QA_RANKING=learned QA_RANKER=OUT.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from qa.errors import QAError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rank", help="train the learned ranking")
    p.add_argument("action", choices=["train"])
    p.add_argument("--data-all", nargs="+", default=[], metavar="FILE", help="SQuAD-like files trained on whole")
    p.add_argument("--data", nargs="+", default=[], metavar="FILE",
                   help="SQuAD-like files of which only the train paragraphs (fixed hash) are used")
    p.add_argument("--work", default="rank-work", help="paragraph documents, their index and the question vectors")
    p.add_argument("--index", help="an existing index holding the paragraphs (default: built in --work)")
    p.add_argument("--out", default="ranker", help="folder for ranker.json and ranker.sha256")
    p.add_argument("--questions", type=int, default=None, help="typed questions sampled (0 = all)")
    p.add_argument("--top-k", type=int, default=None, help="candidates re-ranked per question")
    p.add_argument("--l2", type=float, default=None)
    p.add_argument("--blend", type=float, default=None, help="weight of the hand fusion's score kept")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_rank)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_rank(args: argparse.Namespace) -> int:
    from qa.config import Settings
    from qa.eval.data import load_qa_file, select, write_paragraph_docs
    from qa.index.build import build_index
    from qa.index.store import load_index
    from qa.model.encoder import load_encoder
    from qa.search.learned import save_ranker
    from qa.search.rank_train import TrainOptions, train, training_docs
    from qa.search.stored_queries import StoredQueries
    from qa.startup import load_query_encoder

    if not args.data_all and not args.data:
        raise QAError("give the training questions: --data-all FILE (whole) and/or --data FILE (its train split)")
    items = [it for f in args.data_all for it in load_qa_file(Path(f)) if it.context]
    items += [it for f in args.data for it in select(load_qa_file(Path(f)), "train") if it.context]
    o = TrainOptions()
    given = {"questions": args.questions, "top_k": args.top_k, "l2": args.l2, "blend": args.blend, "seed": args.seed}
    o = replace(o, **{k: v for k, v in given.items() if v is not None})
    settings = Settings.from_env()
    work = Path(args.work)
    t0 = time.perf_counter()
    enc = load_encoder(settings.model)
    index_dir = Path(args.index) if args.index else work / "index"
    if not (index_dir / "manifest.json").is_file():
        if args.index:
            raise QAError(f"--index {index_dir}: no index there; leave --index out to build one in --work")
        n = write_paragraph_docs(items, work / "docs")
        _log(f"building the index of {n} paragraphs in {index_dir} (once)")
        build_index(work / "docs", index_dir, enc, settings.build)
    index = load_index(index_dir)
    missing = training_docs(items) - set(index.documents)
    if missing:
        raise QAError(f"{index_dir} lacks {len(missing)} of the training paragraphs; build it from them "
                      "(leave --index out) or use benchmarks/bench_ranking.py's index")
    # the question vectors the product makes (QA_QUERY_TOWER: the shipped tower by default)
    query_encoder, questions = load_query_encoder(settings, enc, log=lambda m: None)
    print(f"questions: {questions}", file=sys.stderr, flush=True)
    tag = getattr(query_encoder, "query_name", enc.name).partition("+")[2]
    queries = StoredQueries(query_encoder, work / (f"questions-{tag}.npz" if tag else "questions.npz"))
    try:
        model = train(index, queries, items, o, training_docs(items), _log)
    finally:
        queries.save()
    model = replace(model, meta={**model.meta, "data": [Path(f).name for f in args.data_all + args.data],
                                 # its cosine features were learned on these question vectors
                                 "question_vectors": questions.split(" (")[0],
                                 "seconds": round(time.perf_counter() - t0, 1)})
    path = save_ranker(model, Path(args.out))
    _log(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    print(json.dumps(model.meta, ensure_ascii=False))
    return 0
