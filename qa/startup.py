"""Starting the service: load the model, the index (building or refreshing it as the settings allow) and
the reader, then hand them to `QAService`::

    svc = open_service(Settings.from_env())     # the CLI, `python app.py` and the benchmarks start here
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa.config import Settings
from qa.errors import IndexCorruptError, IndexMissingError, ModelError, QAError
from qa.index.build import build_index, model_fingerprint, staleness, update_index
from qa.index.catalogue.manifest import read_manifest
from qa.index.store import IndexData, load_index
from qa.index.vectors import Progress
from qa.model.encoder import DEFAULT_MODEL, Encoder, load_encoder
from qa.service import QAService, manifest_signature

if TYPE_CHECKING:
    from qa.answer.decide import Decision
    from qa.reader.read import SpanReader

# A progress bar factory: (enabled, description[, unit]) -> context manager yielding a (done, total) callback.
ProgressBar = Callable[..., AbstractContextManager[Progress | None]]


def _log_default(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _no_bar(enabled: bool, desc: str, unit: str = "") -> AbstractContextManager[Progress | None]:
    return nullcontext(None)


@dataclass(frozen=True)
class ReaderChoice:
    """What answers questions: the span reader and its decision, or (None, None) and the sentence rules."""

    reader: SpanReader | None
    decision: Decision | None
    answering: str  # for the log and /healthz: "reader (folder)" or "sentence rules: why"


def open_service(settings: Settings, encoder: Encoder | None = None,
                 log: Callable[[str], None] = _log_default, progress: bool = True,
                 query_encoder: Encoder | None = None, bar: ProgressBar | None = None,
                 reader: ReaderChoice | None = None, trace: bool = True) -> QAService:
    """Load the model and the index, building or refreshing the index as `settings.auto_build` allows;
    `reader` replaces the one the settings name (tests inject a fake one). `trace=False` leaves the
    TorchScript traces of the reader and the question encoder (~1 s together) to `QAService.trace`,
    which app.py calls once the JSON API answers: the first questions run eager meanwhile."""
    if encoder is None:
        if settings.model.model == DEFAULT_MODEL:
            from qa.model.cache import default_model_dir, is_prepared, prepare_default_model

            # the first start converts the embedded model (seconds): show it rather than a silent wait
            if not is_prepared(default_model_dir(settings.model.cache_dir), verify=False):
                with (bar or _no_bar)(progress, "Converting the embedded model (first start only)", "steps") as cb:
                    prepare_default_model(settings.model.cache_dir, log=log, progress=cb)
        log(f"Loading embedding model {settings.model.model}…")
        encoder = load_encoder(settings.model)
    log("Loading the index…")
    data = ensure_index(settings, encoder, log, progress, bar)
    if reader is None:
        log("Loading the reader…")
    choice = reader or load_reader(settings, encoder, log, trace=trace)
    questions = "the model's own vectors"
    if query_encoder is None:
        log("Preparing the question encoder…")
        query_encoder, questions = load_query_encoder(settings, encoder, log, rules=choice.reader is None,
                                                      trace=trace)
    signature = manifest_signature(settings.index_dir)
    try:
        if read_manifest(settings.index_dir) != data.manifest:
            signature = ""  # rebuilt meanwhile: the watcher loads the newer one at once
    except QAError:
        signature = ""
    return QAService(data, encoder, settings, query_encoder=query_encoder, reader=choice.reader,
                     decision=choice.decision, signature=signature, answering=choice.answering,
                     questions=questions)


def load_query_encoder(settings: Settings, encoder: Encoder, log: Callable[[str], None] = _log_default,
                       rules: bool = False, trace: bool = True) -> tuple[Encoder, str]:
    """The question encoder and, for the log and /healthz, which vectors it makes.

    The shipped question tower (QA_QUERY_TOWER=default) continues the embedded model's own layers: with
    another model, or when its files do not load, questions get the model's own vectors and the log
    says why. So they do when the sentence rules answer (`rules`: no reader): their thresholds are
    cosines of the model's own vectors, which the tower's sit below (with it, false abstentions of the
    rules rose from 16 to 60 % on UIT-ViQuAD dev). A QA_QUERY_TOWER folder that does not load is an
    error: the operator asked for it. The traced copy (QA_FAST_QUERY) embeds a question ~2x faster
    with the same vectors; `trace=False` defers it (the encoder's `trace()` does it later).
    """
    from qa.model.query import TracedQueryEncoder, fast_query_encoder
    from qa.model.tower import SHIPPED, load_tower

    choice = settings.model.query_tower
    tower = None
    questions = "the model's own vectors"
    if choice == "off":
        questions += ": QA_QUERY_TOWER=off"
    elif not hasattr(encoder, "model") or encoder.name != DEFAULT_MODEL:
        questions += f": the question tower continues the embedded model, not {encoder.name}"
    elif rules:
        questions += ": the sentence rules answer, and their thresholds are the model's own cosines"
        choice = "rules"  # said in the log: the shipped tower is not used
    else:
        folder = SHIPPED if choice == "default" else Path(choice)
        try:
            tower = load_tower(encoder, folder)
            questions = f"question tower {tower.config.tag} ({folder})"
        except ModelError as e:
            if choice != "default":
                raise
            questions += f": the shipped question tower did not load ({e})"
    if tower is not None or choice != "default" or "did not load" in questions:
        log(f"Questions: {questions}")  # another model's plain vectors are its own: said in /healthz only
    if settings.model.fast_query and not trace and hasattr(encoder, "model") and hasattr(encoder, "profile_info"):
        return TracedQueryEncoder(encoder, tower, trace=False), questions  # traced later, by QAService.trace
    if settings.model.fast_query:
        return fast_query_encoder(encoder, tower), questions
    if tower is not None:
        return TracedQueryEncoder(encoder, tower, trace=False), questions
    return encoder, questions


def load_reader(settings: Settings, encoder: Encoder, log: Callable[[str], None] = _log_default,
                trace: bool = True) -> ReaderChoice:
    """The span reader and its decision (QA_READER), or the sentence rules with the reason, logged.

    The reader is trained on the embedded model's own layers: with another model it cannot read,
    and the shipped one failing to load (damaged files) is said, not hidden. A QA_READER folder
    that does not load is an error: the operator asked for it.
    """
    if settings.reader == "off":
        return ReaderChoice(None, None, "sentence rules: QA_READER=off")
    from qa.answer.decide import Decision
    from qa.reader.read import SHIPPED, reader_for

    folder = SHIPPED if settings.reader == "default" else Path(settings.reader)
    if settings.reader != "default" and not (folder / "reader.json").is_file():
        raise ModelError(f"QA_READER={settings.reader}: no reader there (reader.json); give a folder made by "
                         "`qa reader train`, or `default`, or `off`")
    if not hasattr(encoder, "model") or encoder.name != DEFAULT_MODEL:
        why = f"sentence rules: the span reader reads with the embedded model, not {encoder.name}"
        log(f"Answering with {why}")
        return ReaderChoice(None, None, why)
    try:
        try:
            decision = Decision.from_dict(json.loads((folder / "decision.json").read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{folder / 'decision.json'} is unreadable ({e}); refit it with "
                             "`qa reader calibrate`") from e
        reader = reader_for(encoder, folder)
    except ModelError as e:
        if settings.reader != "default":
            raise
        why = f"sentence rules: the shipped reader did not load ({e})"
        log(f"Answering with {why}")
        return ReaderChoice(None, None, why)
    if settings.model.fast_query and trace:  # same switch as the traced question encoder: checked equal, else eager
        reader.trace()
    return ReaderChoice(reader, decision, f"reader ({folder})")


def ensure_index(settings: Settings, encoder: Encoder, log: Callable[[str], None] = _log_default,
                 progress: bool = True, bar: ProgressBar | None = None) -> IndexData:
    """Load the index; build it if missing/damaged, update it if stale or made by another model."""
    bar = bar or _no_bar
    idx, docs = settings.index_dir, settings.docs_dir
    try:
        data = load_index(idx)
    except (IndexMissingError, IndexCorruptError) as e:
        if settings.auto_build == "never":
            raise
        log(f"{e} — building the index from {docs}…")
        with bar(progress, "Building the index") as cb:
            build_index(docs, idx, encoder, settings.build, progress=cb)
        return load_index(idx)
    if settings.auto_build != "stale":
        return data
    stale = staleness(docs, idx) if docs.is_dir() else {"added": [], "changed": [], "removed": []}
    wrong_model = data.manifest.model != model_fingerprint(encoder)
    if wrong_model or any(stale.values()):
        reason = "model changed" if wrong_model else ", ".join(f"{k}: {len(v)}" for k, v in stale.items() if v)
        log(f"Index at {idx} is out of date ({reason}) — updating…")
        try:
            with bar(progress, "Updating the index") as cb:
                update_index(docs, idx, encoder, settings.build, progress=cb)
        except QAError as e:
            # keep serving the index we have rather than failing (and crash-looping under a supervisor)
            log(f"Index update failed, serving the previous index: {e}")
            return data
        data = load_index(idx)
    return data
