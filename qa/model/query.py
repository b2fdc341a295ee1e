"""Fast question embeddings: a TorchScript-frozen copy of the loaded model's transformer.

`TracedQueryEncoder` embeds a short question in about half the time of
`SentenceTransformer.encode_query` (per-op dispatch, not arithmetic, dominates at ~15 tokens) with
the same vectors (cosine 0.9999999); documents still go through sentence-transformers. A
long-running service and `qa ask` both use it through `open_service`::

    query_encoder = fast_query_encoder(load_encoder())    # the encoder itself if tracing fails
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np

from qa.lang.text import nfc
from qa.model.encoder import Encoder, Span, encode_with_spans, quiet_transformers


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
            with quiet_transformers():
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

    A traced copy of a sentence-transformers model; any other encoder (or a failed trace) is
    returned unchanged. `open_service` uses it unless `ModelOptions.fast_query` is off.
    """
    if isinstance(encoder, TracedQueryEncoder):
        return encoder
    if not hasattr(encoder, "model") or not hasattr(encoder, "profile_info"):
        return encoder
    traced = TracedQueryEncoder(encoder)
    return traced if traced.traced else encoder
