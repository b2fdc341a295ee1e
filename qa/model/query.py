"""Fast question embeddings: a TorchScript-frozen copy of the loaded model's transformer.

`TracedQueryEncoder` embeds a short question in about half the time of
`SentenceTransformer.encode_query` (per-op dispatch, not arithmetic, dominates at ~15 tokens) with
the same vectors (cosine 0.9999999); documents still go through sentence-transformers. Given a
question tower (`qa.model.tower`: the top layers retrained for questions), it traces that instead,
so questions get the tuned vectors while passages keep the model's (an English question keeps the
model's own: the tower learned from Vietnamese ones). A long-running service and
`qa ask` both use it through `open_service`::

    query_encoder = fast_query_encoder(load_encoder())    # the encoder itself if tracing fails
    tuned = fast_query_encoder(encoder, load_tower(encoder))
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np

from qa.lang.text import looks_english, nfc
from qa.model.encoder import Encoder, Span, encode_with_spans, quiet_transformers
from qa.model.tower import Tower


class TracedQueryEncoder:
    """Queries through a frozen TorchScript trace of the model's transformer, documents as before.

    Only for the usual layout (transformer → mean pooling → normalize, as the default model has);
    `traced` is False when tracing fails or the trace disagrees with the model on a check batch
    (`reason` says why): queries then go through sentence-transformers, or through the eager
    tower when there is one (its vectors must not silently become the plain model's).
    `query_name` names the question vectors (the model's name, plus the tower's tag).
    """

    def __init__(self, documents: Any, tower: Tower | None = None, trace: bool = True) -> None:
        self.documents = documents
        self.name, self.dimension, self.profile = documents.name, documents.dimension, documents.profile
        self.tower = tower
        self.query_name = documents.name + (f"+{tower.config.tag}" if tower else "")
        self._prefix: str = documents.profile_info.query_prefix
        self._lock = threading.Lock()
        self._module: Any = None
        self.traced = False
        self.reason = ""
        st = self.documents.model
        mods = list(st)
        pool = mods[1] if len(mods) > 1 else None
        mean = getattr(pool, "pooling_mode", None) == "mean" or getattr(pool, "pooling_mode_mean_tokens", False)
        device = str(getattr(st, "device", "?"))
        self._normalize = len(mods) == 3
        if not (2 <= len(mods) <= 3 and hasattr(mods[0], "auto_model") and mean
                and getattr(pool, "include_prompt", True) and device == "cpu"):
            self.reason = f"unsupported layout {[type(m).__name__ for m in mods]} on {device}"
            if tower is not None:  # a tower exists only for the embedded model, whose layout this is
                raise ValueError(f"the question tower cannot run on this model: {self.reason}")
            return
        self._tokenizer, self._max_len = st.tokenizer, int(st.max_seq_length)
        if not trace:
            self.reason = "not traced (QA_FAST_QUERY=off, or not yet: see `trace`)"
            self._module = tower.net if tower is not None else None
            return
        try:
            with quiet_transformers():
                self._module = self._trace(mods)
            self.traced = True
        except Exception as e:  # tracing can fail in many ways (unsupported ops, torch versions)
            self.reason = f"{e.__class__.__name__}: {str(e)[:200]}"
            self._module = tower.net if tower is not None else None

    def trace(self) -> bool:
        """Trace now, if it was not done at construction (app.py defers it until the JSON API answers):
        the checked trace replaces the eager path between two questions; False when it fails (kept as is)."""
        if self.traced or not hasattr(self, "_tokenizer"):
            return self.traced
        try:
            with quiet_transformers():
                module = self._trace(list(self.documents.model))
        except Exception as e:  # as in __init__: the eager path keeps working
            self.reason = f"{e.__class__.__name__}: {str(e)[:200]}"
            return False
        with self._lock:
            self._module, self.traced, self.reason = module, True, ""
        return True

    def _trace(self, mods: list[Any]) -> Any:
        import torch

        class Hidden(torch.nn.Module):
            def __init__(self, model: Any) -> None:
                super().__init__()
                self.model = model

            def forward(self, ids: Any, mask: Any) -> Any:
                return self.model(input_ids=ids, attention_mask=mask).last_hidden_state

        # a padded batch of two lengths, so the trace keeps the attention-mask path
        check = ["Ai chủ trì hội nghị?", "Thành phố Hải Phòng có bao nhiêu quận, huyện vào năm 2018?"]
        batch = self._batch(check)
        eager = self.tower.net if self.tower is not None else Hidden(mods[0].auto_model).eval()
        if self.tower is not None:
            want = self._run(check, eager)  # the eager tower: what the trace must reproduce
        else:
            want = self.documents.encode_queries(check)
        # transformers' attention code turns two shape tests into constants while tracing (is the
        # mask None, does the key length exceed the mask); both hold for every padded batch we pass,
        # and the check below compares the trace with the model anyway, so the warnings are noise
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.trace(eager, batch, check_trace=False)
            module = torch.jit.optimize_for_inference(torch.jit.freeze(module))
        got = self._run(check, module)
        if float((got * want).sum(axis=1).min()) < 0.9999:
            raise ValueError("the trace disagrees with the model")
        return module

    def _batch(self, texts: list[str]) -> tuple[Any, Any]:
        enc = self._tokenizer([self._prefix + nfc(t) for t in texts], padding=True, truncation=True,
                              max_length=self._max_len, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    def _run(self, texts: list[str], module: Any = None) -> np.ndarray:
        import torch

        with self._lock, torch.inference_mode():
            ids, mask = self._batch(texts)
            hidden = (module if module is not None else self._module)(ids, mask)
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
        if self.tower is None:
            return self._run(texts)  # a question and its restored form: one padded batch
        # the tower learned from Vietnamese questions only: an English one keeps the model's own vectors
        english = [looks_english(t) for t in texts]
        if not any(english):
            return self._run(texts)
        out = np.zeros((len(texts), self.dimension), np.float32)
        plain = [i for i, e in enumerate(english) if e]
        tuned = [i for i, e in enumerate(english) if not e]
        out[plain] = self.documents.encode_queries([texts[i] for i in plain])
        if tuned:
            out[tuned] = self._run([texts[i] for i in tuned])
        return out

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.documents.encode_documents(texts, progress)

    def encode_documents_with_spans(self, texts: list[str], spans_per_text: list[list[Span]],
                                    progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        return encode_with_spans(self.documents, texts, spans_per_text, progress)


def fast_query_encoder(encoder: Encoder, tower: Tower | None = None) -> Encoder:
    """The fastest query encoder for a loaded `encoder` in a long-running process.

    A traced copy of a sentence-transformers model (same vectors), or of `tower` over it (the tuned
    question vectors; eager when tracing fails); any other encoder, or a failed trace without a
    tower, is returned unchanged. `open_service` uses it unless `ModelOptions.fast_query` is off.
    """
    if isinstance(encoder, TracedQueryEncoder):
        return encoder
    if not hasattr(encoder, "model") or not hasattr(encoder, "profile_info"):
        return encoder
    traced = TracedQueryEncoder(encoder, tower)
    return traced if traced.traced or tower is not None else encoder
