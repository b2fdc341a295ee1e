"""`qa` command line: index build/update/info, ask, eval, model info/prepare.

Configuration is read here, once (`Settings.from_env()` with the flags on top), and passed down.
The library raises QAError subclasses; this module turns them into one-line messages and exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import InputError, QAError

if TYPE_CHECKING:
    from qa.config import Settings

EXIT_ERROR = 2


def _common(p: argparse.ArgumentParser, docs: bool = True) -> None:
    p.add_argument("--index", help="index folder (default: QA_INDEX_DIR or ./index)")
    if docs:
        p.add_argument("--docs", help="documents folder (default: QA_DOCS_DIR or ./seeds)")
    p.add_argument("--model", help="sentence-transformers model id or local path (default: QA_MODEL or the "
                                   "embedded multilingual-e5-small)")
    p.add_argument("--device", help="torch device for the model, e.g. cpu or cuda")


def _settings(args: argparse.Namespace, auto_build: str | None = None) -> Settings:
    from qa.config import Settings

    return Settings.from_env().override(docs=getattr(args, "docs", None), index=getattr(args, "index", None),
                                        model=args.model, device=getattr(args, "device", None),
                                        auto_build=auto_build)


def cmd_index(args: argparse.Namespace) -> int:
    from qa.index.build import build_index, staleness, update_index

    s = _settings(args)
    if args.action == "info":
        return _index_info(s, staleness)
    from qa.cli.progress import bar
    from qa.model.encoder import load_encoder

    print(f"Loading model {s.model.model}…", file=sys.stderr)
    enc = load_encoder(s.model)
    fn = build_index if args.action == "build" else update_index
    with bar(not args.quiet, "Encoding") as cb:
        rep = fn(s.docs_dir, s.index_dir, enc, s.build, progress=cb)
    for err in rep.errors:
        print(f"warning: skipped: {err}", file=sys.stderr)
    kind = "built" if rep.full else "updated"
    print(f"Index {kind} at {s.index_dir}: {rep.documents} documents, {rep.chunks} chunks, "
          f"{rep.sentences} sentences; encoded {rep.encoded_texts} texts in {rep.seconds:.1f}s")
    if not rep.full:
        print(f"  added {len(rep.added)}, changed {len(rep.changed)}, removed {len(rep.removed)}, "
              f"reused {rep.reused_documents}")
    return 0


def _index_info(s: Settings, staleness: Any) -> int:
    from qa.index.manifest import read_manifest
    from qa.index.store import load_index

    m = read_manifest(s.index_dir)
    try:
        load_index(s.index_dir)
        health = "ok"
    except QAError as e:
        health = f"DAMAGED: {e}"
    print(f"index:      {s.index_dir.resolve()}  ({health})")
    print(f"built:      {m.built_at} in {m.build_seconds}s by qa {m.package_version}")
    print(f"model:      {m.model}")
    if s.model.model != m.model.id:
        print(f"            MODEL MISMATCH: configured {s.model.model!r}; run `qa index build`")
    c = m.counts
    print(f"counts:     {c.documents} documents, {c.chunks} chunks, {c.sentences} sentences")
    print(f"dense:      {m.dense_kind}   chunking: {m.chunking.to_dict()}   encode: {m.encode}")
    st = staleness(s.docs_dir, s.index_dir)
    if any(st.values()):
        for k, v in st.items():
            for d in v:
                print(f"stale:      {k}: {d}")
        print("            run `qa index update`")
    else:
        print(f"documents:  up to date with {s.docs_dir}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.cli.render import print_answer
    from qa.service import open_service

    if args.batch is None and not args.question:
        raise QAError("give a QUESTION or --batch FILE")
    settings = _settings(args, auto_build="missing")
    svc = open_service(settings, progress=False, log=lambda m: print(m, file=sys.stderr))
    questions = [" ".join(args.question)] if args.batch is None else _read_batch(args.batch)
    status = 0
    for q in questions:
        try:
            ans = svc.ask(q, top_k=args.top_k)
        except InputError as e:
            if args.json:
                print(json.dumps({"question": q, "error": str(e), "answer": None, "passages": []},
                                 ensure_ascii=False), flush=True)
            else:
                print(f"error: {e}", file=sys.stderr)
            status = EXIT_ERROR if args.batch is None else status
            continue
        if args.json:
            print(json.dumps(ans.to_dict(), ensure_ascii=False), flush=True)
        else:
            print_answer(ans, color=sys.stdout.isatty() or settings.force_color)
    return status


def _read_batch(path: str) -> list[str]:
    try:
        f = sys.stdin if path == "-" else open(path, encoding="utf-8")
        with f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise QAError(f"cannot read --batch file {path}: {e}") from e


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.eval.data import load_qa_file, select
    from qa.eval.evaluate import evaluate, format_report
    from qa.service import open_service

    items = select(load_qa_file(Path(args.file)), args.split)
    if not items:
        raise QAError(f"{args.file}: no questions in split {args.split!r}; use --split all")
    svc = open_service(_settings(args, auto_build="missing"), progress=False, log=lambda m: print(m, file=sys.stderr))
    report = evaluate(svc, items)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_report(report))
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from qa.model.encoder import DEFAULT_MODEL, model_info

    s = _settings(args)
    if args.action == "prepare":
        if s.model.model != DEFAULT_MODEL:
            raise QAError("`qa model prepare` converts the embedded default model; unset QA_MODEL/--model")
        from qa.model.cache import prepare_default_model

        path = prepare_default_model(s.model.cache_dir, force=args.force, log=lambda m: print(m, file=sys.stderr))
        print(f"prepared: {path}")
        return 0
    for k, v in model_info(s.model).items():
        print(f"{k + ':':12} {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Offline question answering over Vietnamese documents")
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("index", help="build, update or inspect the index")
    pi.add_argument("action", choices=["build", "update", "info"])
    _common(pi)
    pi.add_argument("--quiet", action="store_true", help="no progress bar")
    pi.set_defaults(func=cmd_index)
    pa = sub.add_parser("ask", help="answer a question")
    pa.add_argument("question", nargs="*")
    _common(pa)
    pa.add_argument("--top-k", type=int, default=5)
    pa.add_argument("--json", action="store_true", help="one JSON object per question")
    pa.add_argument("--batch", metavar="FILE", help="one question per line ('-' for stdin)")
    pa.set_defaults(func=cmd_ask)
    pe = sub.add_parser("eval", help="evaluate on a QA file")
    pe.add_argument("file")
    _common(pe)
    pe.add_argument("--json", action="store_true")
    pe.add_argument("--split", choices=["all", "heldout", "train"], default="all",
                    help="for SQuAD-like files: only the held-out (or training) paragraphs, split by a fixed hash")
    pe.set_defaults(func=cmd_eval)
    pm = sub.add_parser("model", help="embedding model info / preparation")
    pm.add_argument("action", choices=["info", "prepare"])
    pm.add_argument("--model")
    pm.add_argument("--force", action="store_true", help="convert again even if cached")
    pm.set_defaults(func=cmd_model)
    from qa.cli.reader import add_parser

    add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
