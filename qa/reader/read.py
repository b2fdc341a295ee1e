"""Read passages for one question: the best answer span in each, and how likely it holds one.

    reader = reader_for(encoder)                       # the shipped weights, checked by hash
    [r] = reader.read("Hội nghị có bao nhiêu đại biểu?", [Passage(doc_text, sentences)])
    doc_text[r.start:r.end], r.probability            # ('gần 1000 đại biểu', 0.93)

Decoding: in every window of a passage, the best (start, end) pair of tokens of one segment (the
heading or the passage) with end - start < max_answer_tokens; its score minus the window's
no-answer score (both ends at `<s>`) is the margin, turned into a probability by the Platt scaling
fitted at training time. A passage's reading is its window with the largest margin; the span is
then widened to whole words and its brackets and quotes balanced (qa.reader.phrase).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.errors import ModelError
from qa.reader.model import ReaderConfig, build_net, load_weights
from qa.reader.phrase import tidy_phrase
from qa.reader.windows import Passage, Span, Window, WindowMaker

SHIPPED = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Reading:
    """The best span of one passage, in document offsets, with its scores."""

    start: int
    end: int  # start == end: no span could be read (an empty passage)
    score: float  # start + end logit of the span
    null: float  # start + end logit at <s> ("no answer here") in the span's window
    probability: float  # calibrated P(the passage holds the answer), from the margin
    window: Span  # document range of the passage text the span's window covered

    @property
    def margin(self) -> float:
        return self.score - self.null


class SpanReader(Protocol):
    """What the answerer needs from a reader (tests inject a fake)."""

    def read(self, question: str, passages: Sequence[Passage]) -> list[Reading]: ...


def best_span(start: np.ndarray, end: np.ndarray, segments: np.ndarray, max_len: int) -> tuple[int, int, float]:
    """(i, j, score) maximizing start[i] + end[j] for i <= j < i + max_len within one segment.

    >>> best_span(np.array([0., 5, 0, 9]), np.array([7., 0, 6, 0]), np.array([1, 1, 1, 1]), 10)
    (1, 2, 11.0)
    >>> best_span(np.array([0., 5, 0, 9]), np.array([7., 0, 6, 0]), np.array([0, 0, 1, 1]), 10)
    (3, 3, 9.0)
    """
    n = len(start)
    scores = start[:, None] + end[None, :]
    i, j = np.indices((n, n))
    ok = (j >= i) & (j - i < max_len) & (segments[:, None] == segments[None, :])
    scores = np.where(ok, scores, -np.inf)
    k = int(np.argmax(scores))
    return k // n, k % n, float(scores.flat[k])


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -50 else 0.0


class Reader:
    """The span reader over one tokenizer and network; `read` is thread-safe."""

    def __init__(self, net: Any, tokenizer: Any, config: ReaderConfig) -> None:
        self.net, self.config = net, config
        self.windows = WindowMaker(tokenizer, config.max_tokens, config.max_question_tokens, config.lowercase,
                                   config.max_heading_tokens)
        self._lock = threading.Lock()
        self.traced = False

    def trace(self) -> bool:
        """Swap the network for a frozen TorchScript trace when it gives the same logits (per-operation
        overhead is a large part of a short forward, which the trace removes). False: kept as is."""
        import warnings

        import torch

        if self.traced:
            return True
        text = "Hội nghị có gần 1000 đại biểu dự. Đồng chí Lê Văn Thành chủ trì hội nghị cán bộ chủ chốt."
        windows = [w for q in ("Hội nghị có bao nhiêu đại biểu dự?", "Ai chủ trì hội nghị?")
                   for w in self.windows.make(q, Passage(text, ((0, 33), (34, len(text)))))]
        ids, mask = _batch(windows)
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # shape checks traced as constants hold for padded batches
                module = torch.jit.optimize_for_inference(torch.jit.freeze(
                    torch.jit.trace(self.net.eval(), (ids, mask), check_trace=False)))
                want, got = self.net(ids, mask), module(ids, mask)
                close = all(bool(torch.allclose(a[m.bool()], b[m.bool()], atol=1e-3))
                            for a, b, m in ((want[0], got[0], mask), (want[1], got[1], mask)))
        except Exception:  # tracing fails in many ways across torch versions; the eager net still works
            return False
        if close:
            with self._lock:  # a service may trace after it started answering (app.py)
                self.net, self.traced = module, True
        return self.traced

    def logits(self, windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits, [windows, tokens], padded with -inf."""
        import torch

        ids, mask = _batch(windows)
        with self._lock, torch.inference_mode():
            s, e = self.net(ids, mask)
        pad = ~mask.bool()
        return (s.masked_fill(pad, -math.inf).float().numpy(), e.masked_fill(pad, -math.inf).float().numpy())

    def read(self, question: str, passages: Sequence[Passage]) -> list[Reading]:
        """One Reading per passage, all windows of all passages in a single forward."""
        qids = self.windows.question_ids(question)
        per = [self.windows.windows(qids, self.windows.tokenize(p)) for p in passages]
        flat = [w for ws in per for w in ws]
        if not flat:
            return [_empty(p) for p in passages]
        s, e = self.logits(flat)
        out, k = [], 0
        for p, ws in zip(passages, per, strict=True):
            readings = [self._reading(p.text, w, s[k + i], e[k + i]) for i, w in enumerate(ws)]
            k += len(ws)
            out.append(max(readings, key=lambda r: r.margin) if readings else _empty(p))
        return out

    def _reading(self, text: str, w: Window, s: np.ndarray, e: np.ndarray) -> Reading:
        a, b = self.config.platt
        first, n = w.context_start, len(w.offsets)
        i, j, score = best_span(s[first : first + n], e[first : first + n], np.array(w.segments),
                                self.config.max_answer_tokens)
        start, end = tidy_phrase(text, w.offsets[i][0], w.offsets[j][1])
        null = float(s[0] + e[0])
        passage = [o for o, seg in zip(w.offsets, w.segments, strict=True) if seg == 1]
        covered = (passage[0][0], passage[-1][1]) if passage else (start, end)
        return Reading(start, end, score, null, sigmoid(a * (score - null) + b), covered)


def _empty(p: Passage) -> Reading:
    at = p.sentences[0][0] if p.sentences else 0
    return Reading(at, at, -math.inf, 0.0, 0.0, (at, at))


def _batch(windows: list[Window]) -> tuple[Any, Any]:
    """Padded token ids and attention mask of the windows (<pad> is 1)."""
    import torch

    n = max(len(w.ids) for w in windows)
    ids = torch.ones((len(windows), n), dtype=torch.long)
    mask = torch.zeros((len(windows), n), dtype=torch.long)
    for k, w in enumerate(windows):
        ids[k, : len(w.ids)] = torch.tensor(w.ids)
        mask[k, : len(w.ids)] = 1
    return ids, mask


def load_reader(base: Any, tokenizer: Any, folder: Path = SHIPPED, threads: int | None = None) -> Reader:
    """The reader in `folder` (default: the weights shipped in the package) over a loaded BertModel."""
    import torch

    config = ReaderConfig.read(folder)
    if threads:
        torch.set_num_threads(threads)
    net = build_net(base, config.frozen)
    load_weights(net, folder, config)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return Reader(net, tokenizer, config)


def reader_for(encoder: Any, folder: Path = SHIPPED) -> Reader:
    """The reader sharing the loaded default encoder's transformer (its embeddings and lower layers)."""
    model = getattr(encoder, "model", None)
    try:
        bert = model[0].auto_model  # type: ignore[index]
        tokenizer = model.tokenizer  # type: ignore[union-attr]
    except (TypeError, AttributeError, IndexError) as e:
        raise ModelError("the reader needs the embedded multilingual-e5-small as a sentence-transformers "
                         "model; load it with the default QA_MODEL") from e
    return load_reader(bert, tokenizer, folder)
