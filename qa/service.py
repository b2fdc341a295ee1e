"""The question-answering service the CLI, the Gradio app and the HTTP API share: `QAService.ask`
validates a question and answers it over the current index snapshot (`qa.startup.open_service` makes one)::

    svc = open_service(Settings.from_env())
    svc.ask("Ai chủ trì hội nghị?").to_dict()["answer"]["text"]      # 'Đồng chí Lê Văn Thành, ...'
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.answer.answerer import Answerer
from qa.answer.terms import underline_terms
from qa.batching import Arrivals
from qa.config import Settings
from qa.errors import InputError, QAError
from qa.index.build import model_fingerprint
from qa.index.catalogue.manifest import MANIFEST
from qa.index.store import IndexData, load_index
from qa.ingest.headings import first_words, section_headings, section_title
from qa.model.batched import BatchingEncoder
from qa.model.encoder import Encoder
from qa.schema import Answer, Document, Highlight
from qa.search.followup import resolve
from qa.search.hybrid import Retriever
from qa.search.inputs import MAX_HISTORY_ITEMS, clean_question
from qa.search.learned import ranker_for

if TYPE_CHECKING:
    from qa.answer.decide import Decision
    from qa.reader.read import SpanReader

MAX_TOP_K = 50  # passages one request may ask for (the widget clamps data-top-k to 1..MAX_TOP_K)
_LABEL_ORDER = {"answer": 0, "phrase": 1, "term": 2}


@dataclass(frozen=True)
class Snapshot:
    """One loaded index and the answerer over it: a request reads one snapshot from start to end."""

    data: IndexData
    answerer: Answerer
    signature: str  # sha256 of the manifest.json it was loaded from ("" when unknown)
    loaded_at: str  # ISO time, UTC
    headings: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # doc id -> section headings

    def section_title(self, doc_id: str, start: int, text: str) -> str:
        doc = self.data.documents.get(doc_id)
        if doc is None:
            return first_words(text)
        hs = self.headings.get(doc_id)
        if hs is None:
            hs = self.headings.setdefault(doc_id, section_headings(doc))
        return section_title(doc, start, text, hs)


def manifest_signature(index_dir: Path) -> str:
    """sha256 of the index's manifest.json ("" when there is none): it changes with every build."""
    try:
        return hashlib.sha256((index_dir / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return ""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class QAService:
    """Answers questions over the current index; `ask` is thread-safe.

    The index can be replaced while the service runs (`reload`, `swap`): the new one is loaded
    beside the old, then a single reference is switched, so a request in flight finishes on the
    snapshot it started with and the next one sees the new index; never a mix of the two.
    """

    def __init__(self, data: IndexData, encoder: Encoder, settings: Settings,
                 query_encoder: Encoder | None = None, reader: SpanReader | None = None,
                 decision: Decision | None = None, signature: str = "", answering: str = "",
                 questions: str = "") -> None:
        self.encoder = encoder
        self.settings = settings
        self._arrivals = Arrivals()  # asks not yet at the encoder: the batch waits only for those
        self.query_encoder: Encoder = query_encoder or encoder
        self.query_model = self.query_encoder  # before batching wraps it (what `trace` swaps)
        if settings.batch_wait_ms > 0:
            # concurrent users' questions share one encoder forward (qa.batching)
            self.query_encoder = BatchingEncoder(self.query_encoder, settings.batch_wait_ms / 1000,
                                                 settings.batch_max, gate=self._arrivals)
        self.reader, self.decision = reader, decision
        self.ranker = ranker_for(settings.ranking)  # QA_RANKING=learned: the learned re-ranking (hash-checked)
        # what answers, shown by /healthz: the reader, or the sentence rules and why
        self.answering = answering or ("reader" if reader is not None else "sentence rules")
        self.questions = questions or "the model's own vectors"  # or the tuned question tower (qa.model.tower)
        self.reloads = 0
        self.reload_error = ""  # why the newest index on disk is not served ("" when it is)
        self._reload_lock = threading.Lock()
        self._snap = self._snapshot(data, signature)

    def trace(self) -> None:
        """Swap the reader and the question encoder for their TorchScript traces, each checked equal to
        the eager network (QA_FAST_QUERY; `open_service(trace=False)` left it for now). Questions keep
        being answered meanwhile, eager until the swap; a failed trace keeps the eager path."""
        if not self.settings.model.fast_query:
            return
        for model in (self.reader, self.query_model):
            trace = getattr(model, "trace", None)
            if callable(trace):
                trace()

    def _snapshot(self, data: IndexData, signature: str) -> Snapshot:
        retriever = Retriever(data, self.query_encoder, ranker=self.ranker)
        answerer = Answerer(data, retriever, reader=self.reader, decision=self.decision)
        return Snapshot(data, answerer, signature, _now())

    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    @property
    def data(self) -> IndexData:
        return self._snap.data

    @property
    def answerer(self) -> Answerer:
        return self._snap.answerer

    def swap(self, data: IndexData, signature: str = "") -> None:
        """Serve `data` from the next request on (the answerer is built before the switch)."""
        snap = self._snapshot(data, signature)
        self._snap = snap  # one reference assignment: atomic for every reader
        self.reloads += 1
        self.reload_error = ""

    def reload(self, force: bool = False) -> bool:
        """Load the index folder again if its manifest changed (or `force`); True when a new one is served.

        A missing, half-written or damaged index, or one built with another model, leaves the
        served index in place; the reason is kept in `reload_error` (and `/healthz`).
        """
        index_dir = self.settings.index_dir
        with self._reload_lock:
            sig = manifest_signature(index_dir)
            if not sig or (sig == self._snap.signature and not force):
                return False
            try:
                data = load_index(index_dir)
            except QAError as e:
                self.reload_error = f"{e}"
                return False
            if data.manifest.model != model_fingerprint(self.encoder):
                self.reload_error = (f"the index at {index_dir} was built with {data.manifest.model.id}, but this "
                                     f"server runs {self.encoder.name}; restart the app to switch models")
                return False
            self.swap(data, sig)
            return True

    def ask(self, question: object, top_k: int = 5, history: object = None) -> Answer:
        """Validate the question (InputError for bad input) and answer it.

        `history`: the previous questions of the conversation, oldest first (at most
        MAX_HISTORY_ITEMS); a follow-up ("còn … thì sao?", "ông ấy …") is answered as the stand-alone
        question it stands for, given in `Answer.resolved`.
        """
        text = clean_question(question, self.settings.max_question_chars)
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
            raise InputError(f"top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}",
                             f"Số đoạn trả về (top_k) phải là số nguyên từ 1 đến {MAX_TOP_K}.")
        turns = self._history(history)
        self._arrivals.start()
        try:
            return self._ask(text, top_k, turns)
        finally:
            self._arrivals.arrived()  # a cached question never reaches the encoder

    def _ask(self, text: str, top_k: int, turns: list[str]) -> Answer:
        snap = self._snap  # this request's index, whatever happens meanwhile
        standalone = text
        if turns:
            def answer_of(q: str) -> str | None:
                a = snap.answerer.ask(q, top_k=3).answer
                return None if a is None else (a.phrase.text if a.phrase else a.text)

            res = resolve(text, turns, answer_of)
            if res.followup and res.question != text:
                standalone = clean_question(res.question, max(self.settings.max_question_chars, len(res.question)))
        ans = snap.answerer.ask(standalone, top_k=top_k)
        return self._present(snap, ans, text, standalone)

    def _history(self, history: object) -> list[str]:
        if history is None:
            return []
        bad = InputError(f"history must be a list of at most {MAX_HISTORY_ITEMS} previous questions (strings), "
                         f"oldest first; got {type(history).__name__}",
                         f"Lịch sử hội thoại (history) phải là danh sách tối đa {MAX_HISTORY_ITEMS} câu hỏi trước đó.")
        if not isinstance(history, list) or len(history) > MAX_HISTORY_ITEMS:
            raise bad
        out = []
        for h in history:
            if not isinstance(h, str) or len(h) > self.settings.max_question_chars:
                raise bad
            if h.strip():
                out.append(clean_question(h, self.settings.max_question_chars))
        return out

    def _present(self, snap: Snapshot, ans: Answer, asked: str, resolved: str) -> Answer:
        """The answer as shown: titles by section, rare question words underlined, the user's question."""
        typed, restored = snap.answerer.retriever.prepare.forms(resolved)
        terms = snap.data.terms
        passages = []
        for p in ans.passages:
            marks = [h for h in p.highlights if h.label != "term"]
            marks += underline_terms(p.text, p.start, typed, restored, terms.df, terms.n_chunks)
            marks.sort(key=lambda h: (h.start, _LABEL_ORDER.get(h.label, 9)))
            passages.append(replace(p, title=snap.section_title(p.doc, p.start, p.text), highlights=tuple(marks)))
        return replace(ans, question=asked, passages=tuple(passages),
                       resolved=resolved if resolved != asked else "")

    def underline(self, text: str, base: int, question: str) -> list[Highlight]:
        """The question's rare words in `text` (document offsets from `base`), as the passages mark them."""
        snap = self._snap
        try:
            q = clean_question(question, self.settings.max_question_chars)
        except InputError:
            return []
        typed, restored = snap.answerer.retriever.prepare.forms(q)
        return underline_terms(text, base, typed, restored, snap.data.terms.df, snap.data.terms.n_chunks)

    def document(self, doc_id: str) -> Document | None:
        return self._snap.data.documents.get(doc_id)

    def status(self) -> dict[str, Any]:
        snap = self._snap
        m = snap.data.manifest
        out = {
            "model": m.model.id,
            "dimension": m.model.dimension,
            "documents": m.counts.documents,
            "chunks": m.counts.chunks,
            "sentences": m.counts.sentences,
            "built_at": m.built_at,
            "dense_index": m.dense_kind,
            "loaded_at": snap.loaded_at,
            "reloads": self.reloads,
            "answering": self.answering,
            "question_vectors": self.questions,
        }
        if self.reload_error:
            out["reload_error"] = self.reload_error
        return out
