"""`qa reader calibrate`: fit the answer decision (decision.json) of a reader folder on held-out questions.

The calibration index holds every held-out paragraph of the given files (both halves, as the
evaluation's index does) and the seed documents; the `calib` half's questions and the seed sets
are asked (each group a domain whose false-abstention budget must hold), then the decision is
fitted and written beside the reader's weights with the figures it reached on those questions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qa.errors import QAError


def _group(path: str) -> str:
    return Path(path).stem.split("_")[0]


def calibrate(args: argparse.Namespace, settings: Any, folder: Path) -> int:
    from qa.answer.answerer import Answerer, AnswerParams
    from qa.answer.calibrate import fit_decision, gather, write_examples
    from qa.cli.progress import bar
    from qa.cli.reader import load_items
    from qa.eval.data import load_qa_file, select
    from qa.model.encoder import load_encoder
    from qa.reader.read import reader_for
    from qa.search.hybrid import Retriever
    from qa.startup import load_query_encoder

    t0 = time.perf_counter()
    groups: list[tuple[str, list[Any]]] = []
    for f in args.data:
        groups.append((_group(f), load_items([f], [], "calib", args.limit)))
    for f in args.data_all:
        groups.append((_group(f), load_items([], [f], "calib", args.limit)))
    shown = [it for f in args.data for it in select(load_qa_file(Path(f)), "heldout")]
    shown += [it for f in args.data_all for it in load_qa_file(Path(f))]
    seed_sets = [(_group(f), load_qa_file(Path(f))[: args.limit or None]) for f in args.seed_set]
    for name, items in seed_sets:
        if any(it.context for it in items):
            raise QAError(f"--seed-set: {name} has paragraphs; give it with --data or --data-all instead")
    enc = load_encoder(settings.model)
    reader = reader_for(enc, folder)
    reader.trace()
    examples = []
    with tempfile.TemporaryDirectory(prefix="qa-calibrate-") as tmp:
        root = Path(args.work) if args.work else Path(tmp)
        index = calibration_index(shown, Path(args.docs) if seed_sets else None, root, enc, settings)
        # every passage read: the decision learns from all of them (the product may stop early)
        # the question vectors the product makes (QA_QUERY_TOWER): the decision reads their cosines
        query_encoder, _ = load_query_encoder(settings, enc, log=lambda m: None)
        answerer = Answerer(index, Retriever(index, query_encoder), AnswerParams(early_stop=None), reader)
        for name, items in [*groups, *seed_sets]:
            with bar(not args.quiet, f"Asking ({name})", "questions") as cb:
                examples += gather(answerer, items, name, cb)
    if args.work:  # kept for refitting and study: qa.answer.calibrate.read_examples
        write_examples(examples, Path(args.work) / "calibration-examples.json")
    decision = fit_decision(examples, budget=args.budget)
    (folder / "decision.json").write_text(json.dumps(decision.to_dict(), ensure_ascii=False, indent=1), "utf-8")
    print(json.dumps(dict(decision.fitted), ensure_ascii=False))
    print(f"Decision fitted on {len(examples)} askings in {(time.perf_counter() - t0) / 60:.1f} min: "
          f"{folder}/decision.json (answer at P ≥ {decision.answer_at:.3f}, sure at {decision.sure_at:.2f})")
    return 0


def calibration_index(shown: list[Any], seed_docs: Path | None, root: Path, enc: Any, settings: Any) -> Any:
    """The index of the held-out paragraphs (and the seed documents) in `root`, built once: a
    `--work` folder keeps it for the next calibration (it does not depend on the reader)."""
    from qa.eval.data import write_paragraph_docs
    from qa.index.build import build_index
    from qa.index.store import load_index

    docs, idx = root / "calibration-docs", root / "calibration-index"
    if not (idx / "manifest.json").is_file():
        shutil.rmtree(docs, ignore_errors=True)
        n = write_paragraph_docs(shown, docs)
        for p in sorted(seed_docs.rglob("*")) if seed_docs else []:
            if p.is_file():
                shutil.copy(p, docs / p.name)
        print(f"Indexing {n} held-out paragraphs{' and the seed documents' if seed_docs else ''}…", file=sys.stderr)
        build_index(docs, idx, enc, settings.build)
    return load_index(idx)
