"""The span reader's network: the embedded e5-small's lower layers, fine-tuned upper layers, a span head.

The lower `frozen` layers (and the 96 M-parameter word embeddings) are the embedding model's own,
shared with the encoder already in memory, so only the fine-tuned upper layers and the head ship
(int8 with a per-row scale: ~11 MB). Inputs are `<s> question </s></s> [heading] passage </s>`
(qa.reader.windows); the head gives a start and an end logit per token, and position 0 (`<s>`) stands
for "no answer here".

    net = build_net(base_bert, frozen=6)
    start, end = net(input_ids, attention_mask)            # [batch, tokens] each

>>> w = np.array([[0.5, -1.0, 0.3], [0.0, 0.25, -0.01]], dtype=np.float32)
>>> q, scale = quantize_rows(w)
>>> q.dtype, bool(np.abs(dequantize_rows(q, scale) - w).max() <= scale.max() / 2 + 1e-7)
(dtype('int8'), True)
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.atomic import file_sha256
from qa.errors import ModelError

WEIGHTS = "reader.safetensors"
CONFIG = "reader.json"
FORMAT_VERSION = 2  # 2: whole passages with their heading (1: one sentence per window)


@dataclass(frozen=True)
class ReaderConfig:
    """How the shipped reader was trained and how to read with it (written beside its weights)."""

    frozen: int = 6  # layers taken unchanged from the embedding model
    max_tokens: int = 320  # question + heading + passage, special tokens included
    max_question_tokens: int = 40
    max_heading_tokens: int = 24
    max_answer_tokens: int = 48
    lowercase: bool = False  # read as written; training reads a share of the questions lower-cased
    platt: tuple[float, float] = (1.0, 0.0)  # P(answer in window) = sigmoid(a * (span - null) + b)
    base_sha256: str = ""  # sha256 of the embedding model's weights it was trained on
    sha256: str = ""  # of reader.safetensors
    format_version: int = FORMAT_VERSION
    trained: dict[str, Any] = field(default_factory=dict)  # data, seed, epochs, held-out metrics

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def read(cls, folder: Path) -> ReaderConfig:
        try:
            d = json.loads((folder / CONFIG).read_text("utf-8"))
            d["platt"] = tuple(d["platt"])
            cfg = cls(**d)
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise ModelError(f"{folder / CONFIG} is unreadable ({e}); reinstall the package or retrain with "
                             "`qa reader train`") from e
        if cfg.format_version != FORMAT_VERSION:
            raise ModelError(f"{folder / CONFIG}: reader format {cfg.format_version}, this version reads "
                             f"{FORMAT_VERSION}; retrain with `qa reader train`")
        return cfg


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and one float32 scale per row (max |w| / 127): error at most half a step per weight."""
    scale = (np.maximum(np.abs(w).max(axis=1), 1e-12) / 127.0).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def dequantize_rows(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) * scale.astype(np.float32)[:, None]


def _torch() -> Any:
    import torch

    return torch


def build_net(base: Any, frozen: int) -> Any:
    """A ReaderNet over a loaded transformers BertModel (its lower layers shared, not copied)."""
    torch = _torch()
    nn = torch.nn

    class ReaderNet(nn.Module):  # type: ignore[name-defined]  # here: importing qa must not import torch
        def __init__(self) -> None:
            super().__init__()
            self.frozen = frozen
            self.embeddings = base.embeddings
            self.lower = nn.ModuleList(base.encoder.layer[:frozen])
            self.upper = nn.ModuleList([copy.deepcopy(layer) for layer in base.encoder.layer[frozen:]])
            self.head = nn.Linear(base.config.hidden_size, 2)
            nn.init.normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

        def bottom(self, ids: Any, mask: Any) -> Any:
            """Hidden states entering the first fine-tuned layer (what training caches)."""
            h = self.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
            am = additive_mask(mask)
            for layer in self.lower:
                h = _first(layer(h, attention_mask=am))
            return h

        def top(self, h: Any, mask: Any) -> tuple[Any, Any]:
            am = additive_mask(mask)
            for layer in self.upper:
                h = _first(layer(h, attention_mask=am))
            logits = self.head(h)
            return logits[..., 0], logits[..., 1]

        def forward(self, ids: Any, mask: Any) -> tuple[Any, Any]:
            return self.top(self.bottom(ids, mask), mask)

    return ReaderNet()


def _first(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out


def additive_mask(mask: Any) -> Any:
    """[batch, tokens] of 1/0 -> [batch, 1, 1, tokens] additive mask for the attention scores."""
    torch = _torch()
    return (1.0 - mask.to(torch.float32))[:, None, None, :] * torch.finfo(torch.float32).min


def trainable_state(net: Any) -> dict[str, np.ndarray]:
    """The parameters that ship: the upper layers and the head, as float32 arrays."""
    return {k: v.detach().float().cpu().numpy() for k, v in net.state_dict().items()
            if k.startswith(("upper.", "head."))}


def save_weights(net: Any, config: ReaderConfig, folder: Path) -> ReaderConfig:
    """Write reader.safetensors (matrices int8 + row scales, the rest float16) and reader.json."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    for k, v in trainable_state(net).items():
        if v.ndim == 2:
            q, scale = quantize_rows(v)
            tensors[k + ".q8"], tensors[k + ".scale"] = q, scale
        else:
            tensors[k] = v.astype(np.float16)
    save_file(tensors, str(folder / WEIGHTS))
    (folder / WEIGHTS).chmod(0o644)  # safetensors writes 0600; the weights ship and are read by anyone
    done = ReaderConfig(**{**asdict(config), "sha256": file_sha256(folder / WEIGHTS)})
    (folder / CONFIG).write_text(done.to_json(), "utf-8")
    return done


def load_weights(net: Any, folder: Path, config: ReaderConfig) -> None:
    """Fill the net's upper layers and head from `folder`, after checking the file's hash."""
    from safetensors.numpy import load_file

    path = folder / WEIGHTS
    try:
        digest = file_sha256(path)
    except OSError as e:
        raise ModelError(f"{path} is missing ({e.strerror}); reinstall the package or retrain with "
                         "`qa reader train`") from e
    if digest != config.sha256:
        raise ModelError(f"{path}: checksum mismatch (damaged or from another training run); reinstall the "
                         "package or retrain with `qa reader train`")
    raw = load_file(str(path))
    state: dict[str, np.ndarray] = {}
    for k, v in raw.items():
        if k.endswith(".q8"):
            state[k[: -len(".q8")]] = dequantize_rows(v, raw[k[: -len(".q8")] + ".scale"])
        elif not k.endswith(".scale"):
            state[k] = v.astype(np.float32)
    torch = _torch()
    missing, unexpected = net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    wrong = [k for k in missing if k.startswith(("upper.", "head."))] + list(unexpected)
    if wrong:
        raise ModelError(f"{path} does not fit a reader with {config.frozen} frozen layers ({wrong[:3]}); "
                         "retrain with `qa reader train`")
