"""`qa reader train|calibrate|eval`: train the span reader and its verifier, refit the verifier, measure.

    qa reader train --data ../shared/data/viquad1_dev.json ../shared/data/zalo2019_train.json --out DIR
    qa reader calibrate --data ... --weights DIR     # refit only the verifier (verifier.json), on the calib split
    qa reader eval --data ../shared/data/zalo2019_train.json --weights DIR      # held-out paragraphs

Training uses only the training paragraphs (`qa.eval.data.heldout` keeps the rest out); every
argument and path is checked before the model loads.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from qa.errors import QAError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reader", help="train or measure the span reader")
    p.add_argument("action", choices=["train", "calibrate", "eval"])
    p.add_argument("--data", nargs="+", required=True, metavar="FILE", help="SQuAD-like QA files")
    p.add_argument("--out", help="train: folder for the weights (default: a new folder reader-YYYYmmdd-HHMM)")
    p.add_argument("--weights", help="calibrate/eval: the reader folder (default for eval: the shipped one)")
    p.add_argument("--questions", type=int, default=800, help="training questions sampled for the verifier")
    p.add_argument("--split", choices=["heldout", "test", "calib", "train", "all"], default=None,
                   help="which paragraphs: eval (default heldout) or calibrate (default calib)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--frozen", type=int, default=None, help="layers kept from the embedding model (0-11)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--limit", type=int, default=0, help="use only the first N questions (a quick check)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_reader)


def _items(files: list[str], split: str, limit: int) -> list:
    from qa.eval.data import load_qa_file, select

    items = [it for f in files for it in select(load_qa_file(Path(f)), split)]  # type: ignore[arg-type]
    items = [it for it in items if it.context and it.answers]
    if not items:
        raise QAError(f"no answerable SQuAD-like questions in the {split} paragraphs of {', '.join(files)}")
    return items[:limit] if limit else items


def cmd_reader(args: argparse.Namespace) -> int:
    from qa.config import Settings

    for f in args.data:
        if not Path(f).is_file():
            raise QAError(f"--data {f}: no such file; give the path of a SQuAD-like JSON file")
    if args.frozen is not None and not 0 <= args.frozen <= 11:
        raise QAError(f"--frozen {args.frozen}: use a number from 0 to 11")
    if args.epochs is not None and args.epochs < 1:
        raise QAError(f"--epochs {args.epochs}: use 1 or more")
    settings = Settings.from_env()
    if settings.model.model != "default":
        raise QAError("the reader is trained on the embedded multilingual-e5-small; unset QA_MODEL")
    if args.action == "eval":
        return _eval(args, settings)
    if args.action == "calibrate":
        if not args.weights or not (Path(args.weights) / "reader.json").is_file():
            raise QAError("--weights DIR: give a folder made by `qa reader train` (it holds reader.json)")
        return _calibrate(args, settings, Path(args.weights))
    out = Path(args.out) if args.out else Path(f"reader-{__import__('time').strftime('%Y%m%d-%H%M')}")
    if out.exists() and any(out.iterdir()):
        raise QAError(f"--out {out} is not empty; choose a new folder (the shipped weights are never overwritten)")
    return _train(args, settings, out)


def _eval(args: argparse.Namespace, settings: Any) -> int:
    from qa.cli.progress import bar
    from qa.model.encoder import load_encoder
    from qa.reader.evaluate import evaluate_reader
    from qa.reader.read import SHIPPED, reader_for

    items = _items(args.data, args.split or "heldout", args.limit)
    folder = Path(args.weights) if args.weights else SHIPPED
    print(f"Loading the model and the reader in {folder}…", file=sys.stderr)
    reader = reader_for(load_encoder(settings.model), folder)
    with bar(not args.quiet, "Reading") as cb:
        report = evaluate_reader(reader, items, cb)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}))
    return 0


def _train(args: argparse.Namespace, settings: Any, out: Path) -> int:
    import time

    from qa.atomic import file_sha256
    from qa.cli.progress import bar
    from qa.model.cache import default_model_dir
    from qa.model.encoder import load_encoder
    from qa.reader.data import training_windows, with_lowercase_copies
    from qa.reader.model import ReaderConfig, save_weights
    from qa.reader.read import Reader
    from qa.reader.train import TrainOptions, train_reader
    from qa.reader.windows import WindowMaker

    t0 = time.perf_counter()
    items = _items(args.data, "train", args.limit)
    options = TrainOptions()
    options = replace(options, **{k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None})
    config = ReaderConfig() if args.frozen is None else ReaderConfig(frozen=args.frozen)
    print(f"Loading the embedding model… ({len(items)} training questions)", file=sys.stderr)
    enc = load_encoder(settings.model)
    bert, tokenizer = enc.model[0].auto_model, enc.model.tokenizer
    maker = WindowMaker(tokenizer, config.max_tokens, config.max_question_tokens, config.lowercase,
                        config.context_sentences)
    windows = training_windows(with_lowercase_copies(items), maker, seed=options.seed)
    print(f"{len(windows)} training windows", file=sys.stderr)
    with bar(not args.quiet, "Training") as cb:
        net, config = train_reader(bert, windows, config, options,
                                   log=lambda m: print(m, file=sys.stderr), progress=cb)
    base_sha = file_sha256(default_model_dir(settings.model.cache_dir) / "model.safetensors")
    config = replace(config, base_sha256=base_sha, trained={
        "data": [Path(f).name for f in args.data], "questions": len(items), "windows": len(windows),
        "options": asdict(options), "seconds_reader": round(time.perf_counter() - t0, 1)})
    config = save_weights(net, config, out)
    # the verifier learns how far to trust the reader on paragraphs it never read (the calib half
    # of the held-out ones): fitted on its training paragraphs it would trust it far too much
    _fit_verifier(args, settings, enc, Reader(net, tokenizer, config), _items(args.data, "calib", 0), out)
    seconds = time.perf_counter() - t0
    config = replace(config, trained={**config.trained, "seconds_total": round(seconds, 1)})
    (out / "reader.json").write_text(config.to_json(), "utf-8")
    print(f"Reader trained in {seconds / 60:.1f} min: {out}/reader.safetensors "
          f"({(out / 'reader.safetensors').stat().st_size / 1e6:.1f} MB), reader.json, verifier.json")
    return 0


def _fit_verifier(args: argparse.Namespace, settings: Any, enc: Any, reader: Any, items: list[Any],
                  out: Path) -> None:
    """Index the paragraphs of `items`, ask their questions with the reader, fit verifier.json in `out`."""
    from qa.answer.answerer import Answerer, AnswerParams
    from qa.answer.calibrate import fit_verifier
    from qa.cli.progress import bar
    from qa.eval.data import write_paragraph_docs
    from qa.index.build import build_index
    from qa.index.store import load_index
    from qa.model.query import fast_query_encoder
    from qa.search.hybrid import Retriever

    with tempfile.TemporaryDirectory(prefix="qa-reader-") as tmp:
        docs, idx = Path(tmp) / "docs", Path(tmp) / "index"
        write_paragraph_docs(items, docs)
        print(f"Indexing {len(items)} questions' paragraphs for the verifier…", file=sys.stderr)
        build_index(docs, idx, enc, settings.build)
        index = load_index(idx)
        answerer = Answerer(index, Retriever(index, fast_query_encoder(enc)), AnswerParams(), reader)
        with bar(not args.quiet, "Verifier") as cb:
            verifier = fit_verifier(answerer, items, cb, questions=args.questions, seed=args.seed or 0)
    (out / "verifier.json").write_text(json.dumps(verifier.to_dict(), indent=1), "utf-8")


def _calibrate(args: argparse.Namespace, settings: Any, folder: Path) -> int:
    import time

    from qa.model.encoder import load_encoder
    from qa.reader.read import reader_for

    t0 = time.perf_counter()
    items = _items(args.data, args.split or "calib", args.limit)
    enc = load_encoder(settings.model)
    _fit_verifier(args, settings, enc, reader_for(enc, folder), items, folder)
    print(f"Verifier fitted in {(time.perf_counter() - t0) / 60:.1f} min: {folder}/verifier.json")
    return 0
