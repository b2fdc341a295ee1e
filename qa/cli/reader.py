"""`qa reader train|calibrate|eval`: train the span reader, fit the answer decision, measure.

    qa reader train --data-all ../shared/data/viquad1_train.json --data ../shared/data/zalo2019_train.json --out DIR
    qa reader train ... --out DIR --resume          # continue a cut-off run from its last checkpoint
    qa reader calibrate --weights DIR --data-all ../shared/data/viquad1_dev.json \\
        --data ../shared/data/zalo2019_train.json --seed-set tests/data/seed_dev.json   # decision.json
    qa reader eval --data-all ../shared/data/viquad1_dev.json --weights DIR   # gold paragraph given

`--data` files are split by a fixed paragraph hash (qa.eval.data): training reads the `train`
paragraphs only, calibration the `calib` half of the rest, evaluation the `test` half (or what
`--split` says). `--data-all` files are a split of their own (UIT-ViQuAD's train and dev files):
training reads all of a train file; calibration and evaluation read the `calib` / `test` half of a
held-out file by the same hash. Every argument and path is checked before the model loads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from qa.errors import QAError

SNAPSHOTS = (2500, 5000, 10000)
# which action reads each optional flag: another action refuses it rather than ignore it silently
FLAG_ACTIONS = {"--seed-set": {"calibrate"}, "--docs": {"calibrate"}, "--budget": {"calibrate"}, "--out": {"train"},
                "--work": {"train", "calibrate"}, "--resume": {"train"}, "--weights": {"calibrate", "eval"},
                "--split": {"eval"}, "--epochs": {"train"}, "--frozen": {"train"}, "--seed": {"train"},
                "--init": {"train"}, "--lr": {"train"}, "--device": {"train"}}


def misplaced_flags(args: argparse.Namespace, defaults: dict[str, Any]) -> list[str]:
    """The flags given that `args.action` does not read (a value differing from the parser's default).

    >>> ns = argparse.Namespace(action="eval", out="x", weights="w", device="cpu")
    >>> misplaced_flags(ns, {"out": None, "weights": None, "device": "cpu"})
    ['--out']
    """
    out = []
    for flag, actions in FLAG_ACTIONS.items():
        dest = flag[2:].replace("-", "_")
        if args.action not in actions and hasattr(args, dest) and getattr(args, dest) != defaults.get(dest):
            out.append(flag)
    return out


def budget_share(text: str) -> float:
    """`--budget`: a share of questions, 0 to 0.5.

    >>> budget_share("0.04")
    0.04
    """
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 0.5:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share from 0 to 0.5 (e.g. 0.04 for 4 %)")
    return v


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reader", help="train or measure the span reader")
    p.add_argument("action", choices=["train", "calibrate", "eval"])
    p.add_argument("--data", nargs="+", default=[], metavar="FILE", help="SQuAD-like QA files split by paragraph hash")
    p.add_argument("--data-all", nargs="+", default=[], metavar="FILE",
                   help="SQuAD-like files that are a split of their own (all of a train file is trained on)")
    p.add_argument("--seed-set", nargs="*", default=[], metavar="FILE",
                   help="calibrate: seed-format question sets over --docs (e.g. tests/data/seed_dev.json)")
    p.add_argument("--docs", default="seeds", help="calibrate: the documents the seed sets ask about")
    p.add_argument("--budget", type=budget_share, default=0.04,
                   help="calibrate: false abstentions allowed on each group of calibration questions "
                        "(the product promises 5 %% on new ones)")
    p.add_argument("--out", help="train: folder for the weights (default: a new folder reader-YYYYmmdd-HHMM)")
    p.add_argument("--work", help="train: folder for the frozen-layer cache, checkpoints and snapshots "
                                  "(default: OUT-work); calibrate: keeps the calibration index for the next run")
    p.add_argument("--resume", action="store_true", help="train: continue from the checkpoint in --work")
    p.add_argument("--weights", help="calibrate/eval: the reader folder (default for eval: the shipped one)")
    p.add_argument("--split", choices=["heldout", "test", "calib", "train", "all"], default=None,
                   help="eval: which paragraphs (default: test of --data, all of --data-all)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--frozen", type=int, default=None, help="layers kept from the embedding model (0-11)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--init", metavar="DIR", help="train: start from this reader folder (a further epoch) "
                   "instead of the embedding model's layers")
    p.add_argument("--lr", type=float, default=None, help="train: learning rate of the upper layers "
                   "(the head's is 5x); default 2e-4")
    p.add_argument("--device", default="cpu", help="train: cpu or cuda (a GPU build of torch)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N questions (a quick check)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    dests = [f[2:].replace("-", "_") for f in FLAG_ACTIONS]
    p.set_defaults(func=cmd_reader, reader_defaults={d: p.get_default(d) for d in dests})


def load_items(data: list[str], data_all: list[str], split: str, limit: int = 0) -> list[Any]:
    """Answerable questions of `split`: hash-split for `data`; for `data_all`, all of them for
    `train`/`all`, the calib/test half for `calib`/`test`/`heldout`."""
    from qa.eval.data import load_qa_file, select

    whole = {"train": "all", "all": "all", "heldout": "all", "calib": "calib_all", "test": "test_all"}[split]
    items = [it for f in data for it in select(load_qa_file(Path(f)), split)]  # type: ignore[arg-type]
    items += [it for f in data_all for it in select(load_qa_file(Path(f)), whole)]  # type: ignore[arg-type]
    items = [it for it in items if it.context and it.answers]
    if not items:
        raise QAError(f"no answerable SQuAD-like questions in the {split} paragraphs of {', '.join(data + data_all)}")
    return items[:limit] if limit else items


def cmd_reader(args: argparse.Namespace) -> int:
    from qa.config import Settings

    wrong = misplaced_flags(args, getattr(args, "reader_defaults", {}))
    if wrong:
        uses = "; ".join(f"{f} is for `qa reader {'|'.join(sorted(FLAG_ACTIONS[f]))}`" for f in wrong)
        raise QAError(f"{' '.join(wrong)}: not read by `qa reader {args.action}` ({uses}); leave it out")
    files = [*args.data, *args.data_all, *args.seed_set]
    if not args.data and not args.data_all:
        raise QAError("give the QA files with --data FILE (split by paragraph) and/or --data-all FILE (a split "
                      "of its own, e.g. ../shared/data/viquad1_train.json)")
    for f in files:
        if not Path(f).is_file():
            raise QAError(f"{f}: no such file; give the path of a QA JSON file")
    if args.frozen is not None and not 0 <= args.frozen <= 11:
        raise QAError(f"--frozen {args.frozen}: use a number from 0 to 11")
    if args.lr is not None and not 0 < args.lr < 1:
        raise QAError(f"--lr {args.lr}: use a positive rate below 1, e.g. 1e-4")
    if args.init and not (Path(args.init) / "reader.json").is_file():
        raise QAError(f"--init {args.init}: give a folder made by `qa reader train` (it holds reader.json)")
    if args.epochs is not None and args.epochs < 1:
        raise QAError(f"--epochs {args.epochs}: use 1 or more")
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        raise QAError(f"--device {args.device}: use cpu or cuda")
    settings = Settings.from_env()
    if settings.model.model != "default":
        raise QAError("the reader is trained on the embedded multilingual-e5-small; unset QA_MODEL")
    if args.action == "eval":
        return _eval(args, settings)
    if args.action == "calibrate":
        if not args.weights or not (Path(args.weights) / "reader.json").is_file():
            raise QAError("--weights DIR: give a folder made by `qa reader train` (it holds reader.json)")
        if args.seed_set and not Path(args.docs).is_dir():
            raise QAError(f"--docs {args.docs}: no such folder; give the documents the seed sets ask about")
        from qa.cli.calibrate import calibrate

        return calibrate(args, settings, Path(args.weights))
    out = Path(args.out) if args.out else Path(f"reader-{time.strftime('%Y%m%d-%H%M')}")
    work = Path(args.work) if args.work else out.with_name(out.name + "-work")
    if args.resume and not (work / "checkpoint.pt").is_file():
        raise QAError(f"--resume: no checkpoint in {work}; start without --resume (or give --work)")
    if not args.resume and out.exists() and any(out.iterdir()):
        raise QAError(f"--out {out} is not empty; choose a new folder (the shipped weights are never overwritten)")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise QAError(f"--device {args.device}: this torch build sees no GPU; use --device cpu")
    return _train(args, settings, out, work)


def _eval(args: argparse.Namespace, settings: Any) -> int:
    from qa.cli.progress import bar
    from qa.model.encoder import load_encoder
    from qa.reader.evaluate import evaluate_reader
    from qa.reader.read import SHIPPED, reader_for

    items = load_items(args.data, args.data_all, args.split or ("test" if args.data else "all"), args.limit)
    folder = Path(args.weights) if args.weights else SHIPPED
    print(f"Loading the model and the reader in {folder}…", file=sys.stderr)
    reader = reader_for(load_encoder(settings.model), folder)
    with bar(not args.quiet, "Reading", "questions") as cb:
        report = evaluate_reader(reader, items, cb)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}))
    return 0


def _train(args: argparse.Namespace, settings: Any, out: Path, work: Path) -> int:
    from qa.atomic import file_sha256
    from qa.cli.progress import bar
    from qa.model.cache import default_model_dir
    from qa.model.encoder import load_encoder
    from qa.reader.data import DataOptions, training_windows
    from qa.reader.model import ReaderConfig, save_weights
    from qa.reader.train import TrainOptions, train_reader
    from qa.reader.windows import WindowMaker

    t0 = time.perf_counter()
    items = load_items(args.data, args.data_all, "train", args.limit)
    chosen: dict[str, Any] = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None}
    if args.lr is not None:
        chosen.update(lr=args.lr, head_lr=5 * args.lr)
    if args.init:
        chosen["init"] = str(Path(args.init))
    options = replace(TrainOptions(), device=args.device, **chosen)
    data_options = replace(DataOptions(), seed=options.seed)
    config = ReaderConfig() if args.frozen is None else ReaderConfig(frozen=args.frozen)
    print(f"Loading the embedding model… ({len(items)} training questions)", file=sys.stderr)
    enc = load_encoder(settings.model)
    bert, tokenizer = enc.model[0].auto_model, enc.model.tokenizer
    maker = WindowMaker(tokenizer, config.max_tokens, config.max_question_tokens, config.lowercase,
                        config.max_heading_tokens)
    with bar(not args.quiet, "Windows", "questions") as cb:
        windows = training_windows(items, maker, data_options, cb)
    print(f"{len(windows)} training windows ({sum(w.kind == 'pos' for w in windows)} with the answer)",
          file=sys.stderr)
    base_sha = file_sha256(default_model_dir(settings.model.cache_dir) / "model.safetensors")
    trained = {"data": [Path(f).name for f in [*args.data_all, *args.data]], "questions": len(items),
               "windows": len(windows), "options": asdict(options), "data_options": asdict(data_options)}

    def snapshot(net: Any, seen: int) -> None:
        folder = work / "snapshots" / f"q{seen:05d}"
        save_weights(net, replace(config, base_sha256=base_sha, trained={**trained, "questions_seen": seen}), folder)

    with bar(not args.quiet, "Training", "batches") as cb:
        net, config = train_reader(bert, windows, config, options, work, log=lambda m: print(m, file=sys.stderr),
                                   progress=cb, resume=args.resume, snapshot=snapshot, snapshot_at=SNAPSHOTS)
    seconds = time.perf_counter() - t0
    config = replace(config, base_sha256=base_sha, trained={**trained, "seconds_this_run": round(seconds, 1)})
    config = save_weights(net, config, out)
    print(f"Reader trained in {seconds / 60:.1f} min: {out}/reader.safetensors "
          f"({(out / 'reader.safetensors').stat().st_size / 1e6:.1f} MB), reader.json; "
          f"next: qa reader calibrate --weights {out} …")
    return 0
