"""`qa` command line: index build/update/info, ask, eval, model info/prepare.

Configuration is read here, once (`Settings.from_env()` with the flags on top), and passed down.
The library raises QAError subclasses; this module turns them into one-line messages and exit codes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import InputError, QAError

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.model.encoder import Encoder

EXIT_ERROR = 2
_DEVICE = re.compile(r"^(cpu|mps|(cuda|xpu|npu)(:\d+)?)$")


def _top_k(value: str) -> int:
    """--top-k: checked by argparse, before anything loads."""
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number; use 1 to 50") from None
    if not 1 <= k <= 50:
        raise argparse.ArgumentTypeError(f"{k} is out of range; use 1 to 50")
    return k


def _device(value: str) -> str:
    if not _DEVICE.match(value.strip().lower()):
        raise argparse.ArgumentTypeError(f"{value!r} is not a torch device; use cpu, cuda, cuda:N or mps")
    return value.strip().lower()


def _common(p: argparse.ArgumentParser, docs: str = "documents folder (default: QA_DOCS_DIR or ./seeds)") -> None:
    p.add_argument("--index", help="index folder (default: QA_INDEX_DIR or ./index)")
    if docs:
        p.add_argument("--docs", help=docs)
    p.add_argument("--model", help="sentence-transformers model id or local path (default: QA_MODEL or the "
                                   "embedded multilingual-e5-small)")
    p.add_argument("--device", type=_device, help="torch device for the model, e.g. cpu or cuda")


_DOCS_CHECK = "documents the index was built from: warns when it is out of date with them (nothing is built)"


def check_docs(docs: Path) -> None:
    """The documents folder exists and holds at least one supported file (checked before the model loads)."""
    from qa.ingest.documents import SUPPORTED, find_documents

    if not docs.is_dir():
        raise QAError(f"documents folder {docs} does not exist or is not a folder; pass --docs DIR or set QA_DOCS_DIR")
    if not find_documents(docs):
        raise QAError(f"no documents ({' '.join(SUPPORTED)}) in {docs}; add some, or pass --docs DIR")


def check_index_target(index: Path) -> None:
    """A build may replace `index` whole: refuse a file, or a folder with other things in it than an index."""
    from qa.index.catalogue.manifest import MANIFEST

    if index.exists() and not index.is_dir():
        raise QAError(f"--index {index} is a file, not a folder; choose a folder for the index")
    if index.is_dir() and not (index / MANIFEST).is_file() and any(index.iterdir()):
        raise QAError(f"--index {index} is a folder that holds other files, not an index (no {MANIFEST}); "
                      "building there would replace it: choose a new or empty folder")


def check_index(index: Path) -> None:
    """An index exists at `index` (asking and evaluating never build one: a typo must not start a build)."""
    from qa.errors import IndexCorruptError, IndexMissingError
    from qa.index.catalogue.manifest import read_manifest

    try:
        read_manifest(index)
    except IndexMissingError:
        raise QAError(f"no index at {index}; build it first with `qa index build --index {index}` "
                      "(add --docs DIR for your own documents)") from None
    except IndexCorruptError as e:
        raise QAError(f"{e} (index {index}: rebuild with `qa index build --index {index}`)") from None


def check_backend(s: Settings, index: Path | None = None) -> None:
    """A Qdrant server backend answers and takes the API key, and (given an index built for it) holds the
    index's collection with the index's model: checked before the model loads, which takes seconds."""
    b = s.build.backend
    if b.kind != "qdrant":
        return
    from qa.index.catalogue.manifest import read_manifest
    from qa.index.engines.qdrant_server import QdrantServerBackend, connect

    client = connect(b)
    try:
        m = read_manifest(index) if index is not None else None
        if m is not None and m.backend.kind == "qdrant":
            QdrantServerBackend.open(client, m.backend.collection, m.model, b, own_client=False)
    finally:
        client.close()


def load_model(s: Settings, quiet: bool = False) -> Encoder:
    """The encoder, converting the embedded model first (with a progress bar) when it is not cached yet."""
    from qa.cli.progress import bar
    from qa.model.encoder import DEFAULT_MODEL, load_encoder

    if s.model.model == DEFAULT_MODEL:
        from qa.model.cache import default_model_dir, is_prepared, prepare_default_model

        if not is_prepared(default_model_dir(s.model.cache_dir), verify=False):
            with bar(not quiet, "Converting the embedded model (first run only)", "steps") as cb:
                prepare_default_model(s.model.cache_dir, log=lambda m: print(m, file=sys.stderr), progress=cb)
    print(f"Loading model {s.model.model}…", file=sys.stderr)
    return load_encoder(s.model)


def _settings(args: argparse.Namespace, auto_build: str | None = None) -> Settings:
    from qa.config import Settings

    return Settings.from_env().override(docs=getattr(args, "docs", None), index=getattr(args, "index", None),
                                        model=args.model, device=getattr(args, "device", None),
                                        auto_build=auto_build)


def cmd_index(args: argparse.Namespace) -> int:
    from qa.index.build import build_index, skipped_files, staleness, update_index

    s = _settings(args)
    if args.action == "info":
        unused = [f for f, v in (("--ray", args.ray), ("--device", args.device), ("--quiet", args.quiet)) if v]
        if unused:
            raise QAError(f"{' '.join(unused)}: only for `qa index build|update`; `qa index info` loads no model")
        return _index_info(s, staleness, skipped_files)
    from qa.cli.progress import bar

    check_docs(s.docs_dir)
    check_index_target(s.index_dir)
    check_backend(s)
    if args.ray:  # join or start the cluster first: a wrong address fails before the model loads
        from qa.index.distributed import start_ray

        start_ray(args.ray)
    enc = load_model(s, quiet=args.quiet)
    if args.ray:  # embed on a Ray cluster; each worker loads the same model
        from dataclasses import replace

        from qa.index.build import RayOptions

        s = replace(s, build=replace(s.build, ray=RayOptions(args.ray, s.model)))
    fn = build_index if args.action == "build" else update_index
    with bar(not args.quiet, "Encoding", "texts") as cb:
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


def _index_info(s: Settings, staleness: Any, skipped_files: Any) -> int:
    from qa.index.catalogue.manifest import read_manifest
    from qa.index.store import load_index

    m = read_manifest(s.index_dir)
    try:
        data = load_index(s.index_dir, s.build.backend)
        if data.backend is not None:
            data.backend.close()
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
    if m.backend.kind != "faiss":
        where = f"collection {m.backend.collection} at {s.build.backend.url or m.backend.url}" \
            if m.backend.kind == "qdrant" else f"shard {s.index_dir / m.backend.collection}"
        print(f"backend:    {m.backend.kind}: {where}")
    st = staleness(s.docs_dir, s.index_dir)
    if any(st.values()):
        for k, v in st.items():
            for d in v:
                print(f"stale:      {k}: {d}")
        print("            run `qa index update`")
    else:
        print(f"documents:  up to date with {s.docs_dir}")
    skipped = skipped_files(s.docs_dir, s.index_dir)
    for doc_id, why in skipped.items():
        print(f"skipped:    {doc_id}: {why}")
    if skipped:
        print(f"            {len(skipped)} unreadable file(s) left out of the index; fix or remove them, "
              "then `qa index update`")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.cli.render import print_answer
    from qa.startup import open_service

    if args.batch is None and not args.question:
        raise QAError("give a QUESTION or --batch FILE")
    if args.batch is not None and args.question:
        raise QAError("give a QUESTION or --batch FILE, not both")
    settings = _settings(args, auto_build="never")
    # everything that can be wrong is checked before the model loads (which takes seconds)
    questions = [" ".join(args.question)] if args.batch is None else _read_batch(args.batch)
    if args.batch is None:
        from qa.search.inputs import clean_question

        try:
            clean_question(questions[0], settings.max_question_chars)
        except InputError as e:  # one line (or, with --json, the usual error object), exit 2
            if not args.json:
                raise
            print(json.dumps({"question": questions[0], "error": str(e), "answer": None, "passages": []},
                             ensure_ascii=False), flush=True)
            return EXIT_ERROR
    check_index(settings.index_dir)
    check_backend(settings, settings.index_dir)
    warn_if_stale(args, settings)
    svc = open_service(settings, encoder=load_model(settings), progress=False,
                       log=lambda m: print(m, file=sys.stderr))
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


def warn_if_stale(args: argparse.Namespace, s: Settings) -> None:
    """`qa ask|eval --docs DIR` (never a build): one line on stderr when the index is out of date with DIR."""
    if not getattr(args, "docs", None):
        return
    from qa.index.build import staleness

    check_docs(s.docs_dir)
    st = staleness(s.docs_dir, s.index_dir)
    if any(st.values()):
        counts = ", ".join(f"{k} {len(v)}" for k, v in st.items() if v)
        print(f"note: the index at {s.index_dir} is out of date with {s.docs_dir} ({counts}); answers come from "
              f"the index as built: run `qa index update --docs {s.docs_dir} --index {s.index_dir}`",
              file=sys.stderr)


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
    from qa.startup import open_service

    items = select(load_qa_file(Path(args.file)), args.split)
    if not items:
        raise QAError(f"{args.file}: no questions in split {args.split!r}; use --split all")
    settings = _settings(args, auto_build="never")
    check_index(settings.index_dir)
    check_backend(settings, settings.index_dir)
    warn_if_stale(args, settings)
    svc = open_service(settings, encoder=load_model(settings), progress=False,
                       log=lambda m: print(m, file=sys.stderr))
    report = evaluate(svc, items)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_report(report))
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from qa.model.encoder import DEFAULT_MODEL, model_info

    s = _settings(args)
    if args.force and args.action != "prepare":
        raise QAError("--force: only for `qa model prepare` (convert again even if cached)")
    if args.action == "prepare":
        if s.model.model != DEFAULT_MODEL:
            raise QAError("`qa model prepare` converts the embedded default model; unset QA_MODEL/--model")
        from qa.cli.progress import bar
        from qa.model.cache import prepare_default_model

        with bar(True, "Converting the embedded model", "steps") as cb:
            path = prepare_default_model(s.model.cache_dir, force=args.force,
                                         log=lambda m: print(m, file=sys.stderr), progress=cb)
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
    pi.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                    help="embed with Ray Data: on this machine's cores, or on the Ray cluster at ADDRESS "
                         "(needs pip install -e \".[scale]\")")
    pi.set_defaults(func=cmd_index)
    pa = sub.add_parser("ask", help="answer a question")
    pa.add_argument("question", nargs="*")
    _common(pa, docs=_DOCS_CHECK)
    pa.add_argument("--top-k", type=_top_k, default=5, help="passages to show, 1 to 50 (default 5)")
    pa.add_argument("--json", action="store_true", help="one JSON object per question")
    pa.add_argument("--batch", metavar="FILE", help="one question per line ('-' for stdin)")
    pa.set_defaults(func=cmd_ask)
    pe = sub.add_parser("eval", help="evaluate on a QA file")
    pe.add_argument("file")
    _common(pe, docs=_DOCS_CHECK)
    pe.add_argument("--json", action="store_true")
    pe.add_argument("--split", choices=["all", "heldout", "train", "calib", "test"], default="all",
                    help="for SQuAD-like files: only the held-out (or training) paragraphs, split by a fixed hash")
    pe.set_defaults(func=cmd_eval)
    pm = sub.add_parser("model", help="embedding model info / preparation")
    pm.add_argument("action", choices=["info", "prepare"])
    pm.add_argument("--model")
    pm.add_argument("--force", action="store_true", help="convert again even if cached")
    pm.set_defaults(func=cmd_model)
    from qa.cli.reader import add_parser

    add_parser(sub)
    from qa.cli.rank import add_parser as add_rank_parser

    add_rank_parser(sub)
    from qa.cli.tower import add_parser as add_tower_parser

    add_tower_parser(sub)
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
