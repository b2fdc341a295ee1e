"""Read a few windows for one question: the best answer span in each, and how likely it holds one.

    reader = load_reader(encoder)                      # the shipped weights, checked by hash
    [r] = reader.read("Hội nghị có bao nhiêu đại biểu?", doc_text, sentences, [7])
    doc_text[r.start:r.end], r.probability            # ('gần 1000 đại biểu', 0.93)

Decoding: the best (start, end) pair inside the window with end - start < max_answer_tokens; its
score minus the no-answer score (both ends at `<s>`) is the window's answer margin, turned into a
probability by the Platt scaling fitted at training time.

>>> trim_to_word("  «Lê Văn Thành», ", 0, 17)
(3, 15)
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
from qa.reader.windows import Span, Window, WindowMaker

SHIPPED = Path(__file__).resolve().parent / "weights"
_EDGE = " \t\n,;:.!?…\"'“”‘’()[]«»-–—"


@dataclass(frozen=True)
class Reading:
    """The best span of one window, in document offsets, with its margin over "no answer"."""

    start: int
    end: int
    margin: float  # best span score − no-answer score
    probability: float  # calibrated P(the window holds the answer)
    sentence: Span  # the candidate sentence the window was built around


class SpanReader(Protocol):
    """What the answerer needs from a reader (tests inject a fake)."""

    def read(self, question: str, text: str, sentences: Sequence[Span], which: Sequence[int]) -> list[Reading]: ...

    def read_many(self, question: str, passages: Sequence[tuple[str, Sequence[Span], Sequence[int]]]
                  ) -> list[list[Reading]]: ...


def trim_to_word(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past spaces, punctuation and quotes at either edge."""
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def best_span(start: np.ndarray, end: np.ndarray, first: int, last: int, max_len: int) -> tuple[int, int, float]:
    """(i, j, score) maximizing start[i] + end[j] for first <= i <= j <= last, j - i < max_len."""
    s, e = start[first : last + 1], end[first : last + 1]
    n = len(s)
    scores = s[:, None] + e[None, :]
    i, j = np.indices((n, n))
    scores = np.where((j >= i) & (j - i < max_len), scores, -np.inf)
    k = int(np.argmax(scores))
    return first + k // n, first + k % n, float(scores.flat[k])


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -50 else 0.0


class Reader:
    """The span reader over one tokenizer and network; `read` is thread-safe."""

    def __init__(self, net: Any, tokenizer: Any, config: ReaderConfig) -> None:
        self.net, self.config = net, config
        self.windows = WindowMaker(tokenizer, config.max_tokens, config.max_question_tokens, config.lowercase,
                                   config.context_sentences)
        self._lock = threading.Lock()
        self.traced = False

    def trace(self) -> bool:
        """Swap the network for a frozen TorchScript trace when it gives the same logits (a few short
        windows are dominated by per-operation overhead, which the trace removes). False: kept as is."""
        import warnings

        import torch

        sample = ["Hội nghị có bao nhiêu đại biểu dự?", "Ai chủ trì hội nghị?"]
        text = "Hội nghị có gần 1000 đại biểu dự. Đồng chí Lê Văn Thành chủ trì hội nghị cán bộ chủ chốt."
        windows = self.make_windows(sample[0], text, [(0, 33), (34, len(text))], [0, 1])
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
            self.net, self.traced = module, True
        return self.traced

    def make_windows(self, question: str, text: str, sentences: Sequence[Span], which: Sequence[int]) -> list[Window]:
        qids = self.windows.question_ids(question)
        # neighbours' lengths decide what fits; only the sentences near the candidates are tokenized
        near = sorted({j for i in which for j in range(i - self.config.context_sentences,
                                                         i + self.config.context_sentences + 1)
                       if 0 <= j < len(sentences)})
        counted = dict(zip(near, self.windows.sentence_lengths(text, [sentences[j] for j in near]), strict=True))
        lengths = [counted.get(j, 10**6) for j in range(len(sentences))]
        return [self.windows.make(qids, text, sentences, i, lengths) for i in which]

    def logits(self, windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits, [windows, tokens], padded with -inf."""
        import torch

        ids, mask = _batch(windows)
        with self._lock, torch.inference_mode():
            s, e = self.net(ids, mask)
        pad = ~mask.bool()
        return (s.masked_fill(pad, -math.inf).float().numpy(), e.masked_fill(pad, -math.inf).float().numpy())

    def read(self, question: str, text: str, sentences: Sequence[Span], which: Sequence[int]) -> list[Reading]:
        """One Reading per sentence index in `which` (a window around each), in that order."""
        return self.read_many(question, [(text, sentences, which)])[0]

    def read_many(self, question: str, passages: Sequence[tuple[str, Sequence[Span], Sequence[int]]]
                  ) -> list[list[Reading]]:
        """`read` for several passages of one question in a single forward (one batch, not one per passage)."""
        per = [self.make_windows(question, t, sp, w) if w else [] for t, sp, w in passages]
        windows = [w for ws in per for w in ws]
        if not windows:
            return [[] for _ in passages]
        s, e = self.logits(windows)
        out: list[list[Reading]] = []
        k = 0
        for (text, _, _), ws in zip(passages, per, strict=True):
            out.append(self._readings(text, ws, s[k : k + len(ws)], e[k : k + len(ws)]))
            k += len(ws)
        return out

    def _readings(self, text: str, windows: list[Window], s: np.ndarray, e: np.ndarray) -> list[Reading]:
        a, b = self.config.platt
        out = []
        for k, w in enumerate(windows):
            first, last = w.context_start, w.context_start + len(w.offsets) - 1
            if last < first:
                out.append(Reading(w.sentence[0], w.sentence[0], -math.inf, 0.0, w.sentence))
                continue
            i, j, score = best_span(s[k], e[k], first, last, self.config.max_answer_tokens)
            start, end = trim_to_word(text, w.offsets[i - first][0], w.offsets[j - first][1])
            margin = score - float(s[k, 0] + e[k, 0])
            out.append(Reading(start, end, margin, sigmoid(a * margin + b), w.sentence))
        return out


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
