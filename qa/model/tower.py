"""The question tower: the embedded model's top layers retrained for questions only.

Passages, and so every index already built, keep the embedded model's vectors; only a question goes
through the tuned copy of the top `tuned` transformer layers (trained on question → paragraph pairs,
`qa.model.tower_train`). The word embeddings and the lower layers are the loaded encoder's own
(shared, not copied: the 96 M-parameter embedding table is not held twice); the tuned layers ship
in `weights/query_tower.safetensors` (float16, ~14 MB, sha256 in `query_tower.json`, model card
beside them). `TracedQueryEncoder` traces it like the plain model::

    tower = load_tower(encoder)                       # ModelError when missing, damaged or for another model
    query_encoder = fast_query_encoder(encoder, tower)

>>> TowerConfig(tuned=4, sha256="0123456789abcdef").tag
'qt4-0123456789'
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

SHIPPED = Path(__file__).resolve().parent / "weights"
WEIGHTS = "query_tower.safetensors"
CONFIG = "query_tower.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TowerConfig:
    """What the tower continues and how it was trained (written beside its weights)."""

    tuned: int = 4  # top transformer layers replaced by tuned copies
    base_sha256: str = ""  # sha256 of the embedding model's weights it was trained on
    sha256: str = ""  # of query_tower.safetensors
    format_version: int = FORMAT_VERSION
    trained: dict[str, Any] = field(default_factory=dict)  # data, recipe, seed, held-out figures

    @property
    def tag(self) -> str:
        """Names the question vectors it makes (caches of question vectors must not mix towers)."""
        return f"qt{self.tuned}-{self.sha256[:10]}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def read(cls, folder: Path) -> TowerConfig:
        try:
            cfg = cls(**json.loads((folder / CONFIG).read_text("utf-8")))
        except (OSError, ValueError, TypeError) as e:
            raise ModelError(f"{folder / CONFIG} is unreadable ({e}); reinstall the package, retrain with "
                             "`qa tower train`, or set QA_QUERY_TOWER=off") from e
        if cfg.format_version != FORMAT_VERSION:
            raise ModelError(f"{folder / CONFIG}: tower format {cfg.format_version}, this version reads "
                             f"{FORMAT_VERSION}; retrain with `qa tower train`")
        return cfg


@dataclass(frozen=True)
class Tower:
    """A loaded tower: the network (embeddings → shared lower layers → tuned layers) and its config."""

    net: Any
    config: TowerConfig


def additive(mask: Any) -> Any:
    """[batch, tokens] of 1/0 -> [batch, 1, 1, tokens] additive mask for the attention scores."""
    import torch

    return (1.0 - mask.to(torch.float32))[:, None, None, :] * torch.finfo(torch.float32).min


def build_tower(bert: Any, tuned: int) -> Any:
    """A QueryTower over a loaded transformers BertModel: the top `tuned` layers copied, the rest shared.

    `bottom` gives the hidden states entering the first tuned layer (training caches them: the lower
    layers never change), `top` the last hidden state from there; `forward` both.
    """
    import torch

    nn = torch.nn
    layers = bert.encoder.layer
    if not 0 < tuned <= len(layers):
        raise ModelError(f"a tower of {tuned} tuned layers does not fit a model of {len(layers)} layers")

    class QueryTower(nn.Module):  # here: importing qa must not import torch
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = bert.embeddings
            self.lower = nn.ModuleList(layers[: len(layers) - tuned])
            self.upper = nn.ModuleList([copy.deepcopy(layer) for layer in layers[len(layers) - tuned:]])

        def bottom(self, ids: Any, mask: Any) -> Any:
            h = self.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
            am = additive(mask)
            for layer in self.lower:
                h = first(layer(h, attention_mask=am))
            return h

        def top(self, h: Any, mask: Any) -> Any:
            am = additive(mask)
            for layer in self.upper:
                h = first(layer(h, attention_mask=am))
            return h

        def forward(self, ids: Any, mask: Any) -> Any:
            return self.top(self.bottom(ids, mask), mask)

    return QueryTower()


def first(out: Any) -> Any:
    """A transformers layer returns a tensor or (tensor, ...) depending on the version."""
    return out[0] if isinstance(out, tuple) else out


def save_tower(net: Any, config: TowerConfig, folder: Path) -> TowerConfig:
    """Write the tuned layers (float16) and the config with their hash."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().cpu().numpy().astype(np.float16) for k, v in net.state_dict().items()
               if k.startswith("upper.")}
    save_file(tensors, str(folder / WEIGHTS))
    (folder / WEIGHTS).chmod(0o644)  # safetensors writes 0600; the weights ship and are read by anyone
    done = TowerConfig(**{**asdict(config), "sha256": file_sha256(folder / WEIGHTS)})
    (folder / CONFIG).write_text(done.to_json(), "utf-8")
    return done


def load_tower(encoder: Any, folder: Path = SHIPPED, base_sha256: str | None = None) -> Tower:
    """The tower in `folder` over the loaded encoder's transformer, hash-checked.

    `base_sha256` (the converted default model's digest, when known) must match the one the tower
    was trained on: tuned layers continue exactly those lower layers.
    """
    import torch
    from safetensors.numpy import load_file

    config = TowerConfig.read(folder)
    if base_sha256 and config.base_sha256 and base_sha256 != config.base_sha256:
        raise ModelError(f"{folder}: the question tower was trained on another build of the embedded model; "
                         "retrain it with `qa tower train` or set QA_QUERY_TOWER=off")
    try:
        bert = encoder.model[0].auto_model
    except (TypeError, AttributeError, IndexError) as e:
        raise ModelError("the question tower needs the embedded multilingual-e5-small as a sentence-transformers "
                         "model; load it with the default QA_MODEL or set QA_QUERY_TOWER=off") from e
    path = folder / WEIGHTS
    try:
        digest = file_sha256(path)
    except OSError as e:
        raise ModelError(f"{path} is missing ({e.strerror}); reinstall the package or set QA_QUERY_TOWER=off") from e
    if digest != config.sha256:
        raise ModelError(f"{path}: checksum mismatch (damaged or from another training run); reinstall the "
                         "package, retrain with `qa tower train`, or set QA_QUERY_TOWER=off")
    net = build_tower(bert, config.tuned)
    state = {k: torch.from_numpy(v.astype(np.float32)) for k, v in load_file(str(path)).items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    wrong = [k for k in missing if k.startswith("upper.")] + list(unexpected)
    if wrong:
        raise ModelError(f"{path} does not fit a tower of {config.tuned} tuned layers ({wrong[:3]}); "
                         "retrain with `qa tower train`")
    net.eval()
    for p in net.upper.parameters():
        p.requires_grad_(False)
    return Tower(net, config)
