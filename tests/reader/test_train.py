"""Reader training end to end on a tiny random BERT: windows, the training loop, calibration, saved weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelError
from qa.eval.data import EvalItem
from qa.reader.data import training_windows, with_lowercase_copies
from qa.reader.model import ReaderConfig, build_net, load_weights, save_weights
from qa.reader.read import Reader
from qa.reader.train import TrainOptions, train_reader
from qa.reader.windows import WindowMaker
from tests.conftest import FakeTokenizer

PLACES = ["Huế", "Hà Nội", "Đà Nẵng", "Cần Thơ", "Hải Phòng", "Vinh", "Nha Trang", "Đà Lạt"]


def items() -> list[EvalItem]:
    out = []
    for i, p in enumerate(PLACES):
        ctx = f"Trường số {i} có nhiều lớp học. Trường số {i} nằm ở {p}. Học sinh học rất chăm."
        out.append(EvalItem(f"Trường số {i} nằm ở đâu?", (p,), context=ctx, starts=(ctx.index(p),)))
    return out


@pytest.fixture(scope="module")
def base():  # type: ignore[no-untyped-def]
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=1000, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    return BertModel(cfg).eval()


def test_windows_labels_and_case_copies() -> None:
    maker = WindowMaker(FakeTokenizer(), max_tokens=64, lowercase=False, context=0)
    data = with_lowercase_copies(items())
    assert len(data) == 2 * len(PLACES) and data[-1].context == data[len(PLACES) - 1].context.lower()
    windows = training_windows(data, maker, same=2, other=2)
    pos = [w for w in windows if w.kind == "pos"]
    assert len(pos) == len(data)  # one clean positive sentence per question
    for w in pos:
        a, b = w.label
        tokens = w.window.offsets[a - w.window.context_start : b - w.window.context_start + 1]
        text = data[w.question].context or ""
        # the fake tokenizer keeps the full stop on the last word
        assert text[tokens[0][0] : tokens[-1][1]].rstrip(".") in {p for p in PLACES} | {p.lower() for p in PLACES}
    assert {w.kind for w in windows} == {"pos", "same", "other"}
    assert all(w.label == (0, 0) for w in windows if w.kind != "pos")


def test_train_save_load_and_read(base, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tok = FakeTokenizer()
    config = ReaderConfig(frozen=1, max_tokens=64, lowercase=False, context_sentences=0)
    maker = WindowMaker(tok, config.max_tokens, config.max_question_tokens, config.lowercase, 0)
    windows = training_windows(items(), maker, same=2, other=2)
    net, config = train_reader(base, windows, config, TrainOptions(epochs=30, lr=3e-3, head_lr=1e-2,
                                                                    tokens_per_batch=512, seed=0), log=lambda m: None)
    assert config.platt[0] > 0
    saved = save_weights(net, config, tmp_path / "r")
    assert len(saved.sha256) == 64 and (tmp_path / "r" / "reader.json").is_file()
    assert (tmp_path / "r" / "reader.safetensors").stat().st_mode & 0o444 == 0o444
    again = build_net(base, saved.frozen)
    load_weights(again, tmp_path / "r", saved)
    import torch

    ids = torch.tensor([windows[0].window.ids])
    with torch.inference_mode():
        s1, e1 = net.eval()(ids, torch.ones_like(ids))
        s2, e2 = again.eval()(ids, torch.ones_like(ids))
    assert np.abs(s1.numpy() - s2.numpy()).max() < 0.05  # int8 weights: close, not equal
    text = items()[3].context or ""
    sents = [(0, 31), (32, 60), (61, len(text))]
    reader = Reader(again, tok, saved)
    readings = reader.read("Trường số 3 nằm ở đâu?", text, sents, [0, 1, 2])
    assert reader.trace() and reader.traced  # the frozen trace gives the same spans
    traced = reader.read("Trường số 3 nằm ở đâu?", text, sents, [0, 1, 2])
    assert [(r.start, r.end) for r in traced] == [(r.start, r.end) for r in readings]
    assert np.allclose([r.margin for r in traced], [r.margin for r in readings], atol=1e-2)
    assert [r.sentence for r in readings] == sents
    assert all(a <= r.start <= r.end <= b for r, (a, b) in zip(readings, sents, strict=True))
    assert max(readings, key=lambda r: r.margin).sentence == sents[1]
    assert text[readings[1].start : readings[1].end] == "Cần Thơ"


def test_damaged_weights_are_refused(base, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    net = build_net(base, 1)
    cfg = save_weights(net, ReaderConfig(frozen=1), tmp_path)
    data = bytearray((tmp_path / "reader.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / "reader.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        load_weights(build_net(base, 1), tmp_path, cfg)
    with pytest.raises(ModelError, match="does not fit a reader with 2 frozen layers"):
        cfg2 = save_weights(net, ReaderConfig(frozen=1), tmp_path / "ok")
        load_weights(build_net(base, 2), tmp_path / "ok", ReaderConfig(frozen=2, sha256=cfg2.sha256))
