"""The question-answering service the CLI, the Gradio app and the HTTP API share.

>>> svc = open_service(Settings.from_env())     # loads the model, builds the index if missing
>>> svc.ask("Ai chủ trì hội nghị?").to_dict()["answer"]["text"]
'Đồng chí Lê Văn Thành, ...'
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qa.answer.answerer import Answerer
from qa.errors import IndexCorruptError, IndexMissingError, InputError, QAError
from qa.index.build import build_index, model_fingerprint, staleness, update_index
from qa.index.store import IndexData, load_index
from qa.model.encoder import Encoder, load_encoder, resolve_model_id
from qa.schema import Answer, Document
from qa.search.hybrid import Retriever
from qa.search.inputs import clean_question

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Where things are and what to do when the index is missing or stale."""

    docs_dir: Path
    index_dir: Path
    model: str | None = None
    auto_build: str = "stale"  # never | missing | stale (rebuild when missing, damaged or out of date)
    device: str | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """`QA_DOCS_DIR`, `QA_INDEX_DIR`, `QA_MODEL`, `QA_AUTO_BUILD`; explicit values win when not None."""
        s = cls(
            docs_dir=Path(os.environ.get("QA_DOCS_DIR") or "seeds"),
            index_dir=Path(os.environ.get("QA_INDEX_DIR") or "index"),
            model=os.environ.get("QA_MODEL") or None,
            auto_build=os.environ.get("QA_AUTO_BUILD", "stale"),
        )
        clean: dict[str, Any] = {
            k: (Path(v) if k.endswith("_dir") else v) for k, v in overrides.items() if v is not None
        }
        s = replace(s, **clean)
        if s.auto_build not in ("never", "missing", "stale"):
            raise QAError(f"QA_AUTO_BUILD={s.auto_build!r}; use never, missing or stale")
        return s


class QAService:
    """Answers questions over one loaded index; `ask` is thread-safe."""

    def __init__(self, data: IndexData, encoder: Encoder, settings: Settings,
                 query_encoder: Encoder | None = None) -> None:
        self.data = data
        self.encoder = encoder
        self.settings = settings
        self.answerer = Answerer(Retriever(data, encoder, query_encoder=query_encoder))
        self._lock = threading.Lock()

    def ask(self, question: object, top_k: int = 5) -> Answer:
        """Validate the question (InputError for bad input) and answer it."""
        text = clean_question(question)
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 50:
            raise InputError(f"top_k must be an integer from 1 to 50, got {top_k!r}",
                             "Số đoạn trả về (top_k) phải là số nguyên từ 1 đến 50.")
        return self.answerer.ask(text, top_k=top_k)

    def document(self, doc_id: str) -> Document | None:
        return self.data.documents.get(doc_id)

    def status(self) -> dict[str, Any]:
        m = self.data.manifest
        return {
            "model": m["model"]["id"],
            "dimension": m["model"]["dimension"],
            "documents": m["counts"]["documents"],
            "chunks": m["counts"]["chunks"],
            "sentences": m["counts"]["sentences"],
            "built_at": m.get("built_at"),
            "dense_index": m.get("dense", {}).get("kind"),
        }

    def example_questions(self, n: int = 4) -> list[str]:
        """Questions made from the documents themselves: about the people they name most, then headings.

        >>> svc.example_questions(2)
        ['Lê Văn Thành giữ chức vụ gì?', 'le van thanh giu chuc vu gi?']
        """
        from qa.lang.text import fold

        names: Counter[str] = Counter()
        headings: list[str] = []
        for doc in self.data.documents.values():
            for s, e in doc.spans:
                block = doc.text[s:e]
                for m in _PERSON.finditer(block):
                    words = m.group().split()
                    k = next((i for i, w in enumerate(words) if not w[0].isupper()), len(words))
                    if k >= 3:  # family name + at least two given/middle names
                        names[" ".join(words[:k])] += 1
                line = block.strip()
                if 12 <= len(line) <= 90 and "\n" not in line and line[-1] not in ".!?…:;,":
                    headings.append(line[0].upper() + line[1:] + " như thế nào?")
        people = [f"{name} giữ chức vụ gì?" for name, _ in names.most_common(2)]
        out = people[:1] + headings[:1] + people[1:2]
        if people:  # show off typing without diacritics
            out.append(fold(people[0]))
        out += headings[1:]
        return list(dict.fromkeys(out))[:n]


# A Vietnamese full name: a common family name followed by one to three capitalised syllables.
_PERSON = re.compile(
    r"\b(?:Nguyễn|Trần|Lê|Phạm|Hoàng|Huỳnh|Phan|Vũ|Võ|Đặng|Bùi|Đỗ|Hồ|Ngô|Dương|Lý|Đinh|Trương|Mai|Trịnh)"
    r"(?: \w+){1,3}"
)


def _log_default(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr, flush=True)


def open_service(settings: Settings, encoder: Encoder | None = None,
                 log: Callable[[str], None] = _log_default, progress: bool = True,
                 query_encoder: Encoder | None = None) -> QAService:
    """Load the model and the index, building or refreshing the index as `settings.auto_build` allows."""
    if encoder is None:
        log(f"Loading embedding model {resolve_model_id(settings.model)}…")
        encoder = load_encoder(settings.model, device=settings.device)
    data = ensure_index(settings, encoder, log, progress)
    if query_encoder is None:
        # a traced copy of the same model embeds questions ~2x faster (identical vectors); a no-op
        # for other encoders or with QA_FAST_QUERY=0
        from qa.model.query import fast_query_encoder

        query_encoder = fast_query_encoder(encoder)
    return QAService(data, encoder, settings, query_encoder=query_encoder)


def ensure_index(settings: Settings, encoder: Encoder, log: Callable[[str], None] = _log_default,
                 progress: bool = True) -> IndexData:
    """Load the index; build it if missing/damaged, update it if stale or made by another model."""
    from qa.cli.progress import bar

    idx, docs = settings.index_dir, settings.docs_dir
    try:
        data = load_index(idx)
    except (IndexMissingError, IndexCorruptError) as e:
        if settings.auto_build == "never":
            raise
        log(f"{e} — building the index from {docs}…")
        with bar(progress, "Đang tạo chỉ mục") as cb:
            build_index(docs, idx, encoder, progress=cb)
        return load_index(idx)
    if settings.auto_build != "stale":
        return data
    stale = staleness(docs, idx) if docs.is_dir() else {"added": [], "changed": [], "removed": []}
    wrong_model = data.manifest.get("model") != model_fingerprint(encoder)
    if wrong_model or any(stale.values()):
        reason = "model changed" if wrong_model else ", ".join(f"{k}: {len(v)}" for k, v in stale.items() if v)
        log(f"Index at {idx} is out of date ({reason}) — updating…")
        try:
            with bar(progress, "Đang cập nhật chỉ mục") as cb:
                update_index(docs, idx, encoder, progress=cb)
        except QAError as e:
            # keep serving the index we have rather than failing (and crash-looping under a supervisor)
            log(f"Index update failed, serving the previous index: {e}")
            return data
        data = load_index(idx)
    return data
