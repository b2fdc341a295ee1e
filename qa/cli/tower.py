"""`qa tower train`: retrain the question tower (qa.model.tower) from question → paragraph pairs.

    qa tower train --data-all ../shared/data/viquad1_train.json --data ../shared/data/zalo2019_train.json \\
        --work /tmp/qa-tower --out tower

Every distinct paragraph of the files becomes one document; the index over them is built in
`--work` once (or `--index` names one that holds them, e.g. benchmarks/bench_ranking.py's). Passages
keep the embedded model's vectors: only the question side is trained. A checkpoint after every epoch
in `--work`; `--resume` continues a cut-off run. Serve the result with QA_QUERY_TOWER=OUT (the
package ships one in qa/model/weights). Seeded: the same command gives the same weights on the CPU.
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
    p = sub.add_parser("tower", help="train the question tower (tuned top layers for questions)")
    p.add_argument("action", choices=["train"])
    p.add_argument("--data-all", nargs="+", default=[], metavar="FILE", help="SQuAD-like files trained on whole")
    p.add_argument("--data", nargs="+", default=[], metavar="FILE",
                   help="SQuAD-like files of which only the train paragraphs (fixed hash) are used")
    p.add_argument("--work", default="tower-work", help="paragraph documents, their index and the checkpoint")
    p.add_argument("--index", help="an existing index holding the paragraphs (default: built in --work)")
    p.add_argument("--out", default="tower", help="folder for query_tower.safetensors and query_tower.json")
    p.add_argument("--tuned", type=int, default=None, help="top layers retrained (default 4)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--tau", type=float, default=None, help="softmax temperature (default 0.005)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is lent")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --work")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_tower)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_tower(args: argparse.Namespace) -> int:
    from qa.atomic import file_sha256
    from qa.cli.progress import bar
    from qa.config import Settings
    from qa.eval.data import load_qa_file, select, write_paragraph_docs
    from qa.index.build import build_index
    from qa.index.store import load_index
    from qa.model.cache import default_model_dir
    from qa.model.encoder import DEFAULT_MODEL, load_encoder
    from qa.model.tower import TowerConfig, build_tower, save_tower
    from qa.search.rank_train import training_docs
    from qa.search.tower_train import CHECKPOINT, TowerOptions, train_tower

    if not args.data_all and not args.data:
        raise QAError("give the training questions: --data-all FILE (whole) and/or --data FILE (its train split)")
    out, work = Path(args.out), Path(args.work)
    if not args.resume and out.exists() and any(out.iterdir()):
        raise QAError(f"--out {out} is not empty; choose a new folder (the shipped tower is never overwritten)")
    if args.resume and not (work / CHECKPOINT).is_file():
        raise QAError(f"--resume: no checkpoint in {work}; start without --resume (or give --work)")
    settings = Settings.from_env()
    if settings.model.model != DEFAULT_MODEL:
        raise QAError(f"the question tower continues the embedded model; QA_MODEL is {settings.model.model}")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise QAError(f"--device {args.device}: this torch build sees no GPU; use --device cpu")
    items = [it for f in args.data_all for it in load_qa_file(Path(f)) if it.context]
    items += [it for f in args.data for it in select(load_qa_file(Path(f)), "train") if it.context]
    given = {"tuned": args.tuned, "epochs": args.epochs, "lr": args.lr, "tau": args.tau, "seed": args.seed}
    options = replace(TowerOptions(device=args.device), **{k: v for k, v in given.items() if v is not None})
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
    work.mkdir(parents=True, exist_ok=True)
    st = enc.model
    net = build_tower(st[0].auto_model, options.tuned)
    with bar(not args.quiet, "Training the question tower", "steps") as cb:
        trained = train_tower(net, st.tokenizer, enc.profile_info.query_prefix, index, items,
                              options, work, _log, cb, args.resume)
    seconds = time.perf_counter() - t0
    trained = {**trained, "data": [Path(f).name for f in args.data_all + args.data],
               "seconds_this_run": round(seconds, 1)}
    base = file_sha256(default_model_dir(settings.model.cache_dir) / "model.safetensors")
    config = save_tower(net, TowerConfig(tuned=options.tuned, base_sha256=base, trained=trained), out)
    _log(f"question tower trained in {seconds / 60:.1f} min: {out}/query_tower.safetensors ({config.tag}); "
         f"serve it with QA_QUERY_TOWER={out}")
    print(json.dumps(trained, ensure_ascii=False))
    return 0
