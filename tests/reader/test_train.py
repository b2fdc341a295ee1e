"""Reader training end to end on a tiny random BERT: windows, the loop, checkpoints and resume, saved weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelError
from qa.eval.data import EvalItem
from qa.reader.data import DataOptions, training_windows
from qa.reader.model import ReaderConfig, build_net, load_weights, save_weights
from qa.reader.read import Reader
from qa.reader.train import TrainOptions, train_reader
from qa.reader.windows import Passage, WindowMaker
from tests.conftest import FakeTokenizer

PLACES = ["Huế", "Hà Nội", "Đà Nẵng", "Cần Thơ", "Hải Phòng", "Vinh", "Nha Trang", "Đà Lạt"]
NO_VARIANTS = DataOptions(lowercase_share=0.0, folded_share=0.0)


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


def test_windows_labels_and_hard_negatives() -> None:
    maker = WindowMaker(FakeTokenizer(), max_tokens=64)
    data = items()
    windows = training_windows(data, maker, NO_VARIANTS)
    pos = [w for w in windows if w.kind == "pos"]
    assert len(pos) == len(data)  # each paragraph is one window holding the answer
    for w in pos:
        a, b = w.label
        tokens = w.window.offsets[a - w.window.context_start : b - w.window.context_start + 1]
        text = data[w.question].context or ""
        # the fake tokenizer keeps the full stop on the last word
        assert text[tokens[0][0] : tokens[-1][1]].rstrip(".") == data[w.question].answers[0]
    others = [w for w in windows if w.kind == "other"]
    assert len(others) == len(data) and all(w.label == (0, 0) for w in others)
    # a hard negative is another paragraph, never one holding the answer
    own = {w.question: w.window.ids for w in pos}
    tok = FakeTokenizer()
    for w in others:
        assert w.window.ids != own[w.question]
        assert not set(tok(data[w.question].answers[0] + ".")["input_ids"]) <= set(w.window.ids)


def test_question_variants_are_seeded() -> None:
    maker = WindowMaker(FakeTokenizer(), max_tokens=64)
    opts = DataOptions(lowercase_share=0.5, folded_share=0.5, seed=3)
    a = training_windows(items(), maker, opts)
    b = training_windows(items(), maker, opts)
    assert [w.window.ids for w in a] == [w.window.ids for w in b]
    plain = training_windows(items(), maker, NO_VARIANTS)
    assert [w.window.ids for w in a] != [w.window.ids for w in plain]


def test_train_save_load_read_and_resume(base, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tok = FakeTokenizer()
    config = ReaderConfig(frozen=1, max_tokens=64)
    windows = training_windows(items(), WindowMaker(tok, 64), NO_VARIANTS)
    options = TrainOptions(epochs=30, lr=3e-3, head_lr=1e-2, tokens_per_batch=512, negatives=1.0, seed=0)
    shots: list[int] = []
    net, config = train_reader(base, windows, config, options, tmp_path / "work", log=lambda m: None,
                               snapshot=lambda n, seen: shots.append(seen), snapshot_at=(20,))
    assert config.platt[0] > 0 and 20 in shots and shots[-1] == 30 * len(PLACES)
    assert (tmp_path / "work" / "checkpoint.pt").is_file() and (tmp_path / "work" / "frozen-cache.json").is_file()
    saved = save_weights(net, config, tmp_path / "r")
    assert len(saved.sha256) == 64 and (tmp_path / "r" / "reader.safetensors").stat().st_mode & 0o444 == 0o444
    again = build_net(base, saved.frozen)
    load_weights(again, tmp_path / "r", saved)
    reader = Reader(again.eval(), tok, saved)
    text = items()[3].context or ""
    passage = Passage(text, ((0, 31), (32, 60), (61, len(text))))
    unrelated = "Trời hôm nay mưa to. Đường phố vắng người qua lại."
    [r, u] = reader.read("Trường số 3 nằm ở đâu?", [passage, Passage(unrelated, ((0, 20), (21, 51)))])
    # a 3-layer random BERT learns where the answer is, if not always its exact ends
    assert "Cần" in text[r.start : r.end] and 32 <= r.start < r.end <= 60 and r.margin > u.margin
    assert reader.trace() and reader.traced  # the frozen trace gives the same span
    [t] = reader.read("Trường số 3 nằm ở đâu?", [passage])
    assert (t.start, t.end) == (r.start, r.end) and abs(t.margin - r.margin) < 1e-2
    # resuming a finished run changes nothing: same weights from the checkpoint, no step run again
    net2, config2 = train_reader(base, windows, ReaderConfig(frozen=1, max_tokens=64), options, tmp_path / "work",
                                 log=lambda m: None, resume=True)
    a, b = net.state_dict(), net2.state_dict()
    assert all(np.allclose(a[k].numpy(), b[k].numpy()) for k in a if k.startswith(("upper.", "head.")))
    assert config2.platt == pytest.approx(config.platt)


def test_a_run_cut_off_mid_epoch_resumes_to_the_same_weights(base, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tok = FakeTokenizer()
    windows = training_windows(items(), WindowMaker(tok, 64), NO_VARIANTS)
    opts = TrainOptions(epochs=2, lr=3e-3, tokens_per_batch=128, max_batch=2, seed=5, checkpoint_minutes=0.0,
                        platt_sample=0)
    whole, _ = train_reader(base, windows, ReaderConfig(frozen=1, max_tokens=64), opts, tmp_path / "a",
                            log=lambda m: None)

    class Cut(Exception):
        pass

    def cut(done: int, total: int) -> None:
        if done == 5:
            raise Cut

    with pytest.raises(Cut):
        train_reader(base, windows, ReaderConfig(frozen=1, max_tokens=64), opts, tmp_path / "b", log=lambda m: None,
                     progress=cut)
    resumed, _ = train_reader(base, windows, ReaderConfig(frozen=1, max_tokens=64), opts, tmp_path / "b",
                              log=lambda m: None, resume=True)
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-5) for k in a if k.startswith(("upper.", "head.")))


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


def test_continued_training_starts_from_the_given_reader(base, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    windows = training_windows(items(), WindowMaker(FakeTokenizer(), 64), NO_VARIANTS)
    opts = TrainOptions(epochs=3, lr=3e-3, head_lr=1e-2, tokens_per_batch=512, seed=0, platt_sample=0)
    first, cfg = train_reader(base, windows, ReaderConfig(frozen=1, max_tokens=64), opts, tmp_path / "a",
                              log=lambda m: None)
    saved = save_weights(first, cfg, tmp_path / "r")
    # at a vanishing rate, one more epoch leaves the saved (int8) weights as they were: it started from them
    more = TrainOptions(epochs=1, lr=1e-12, head_lr=1e-12, tokens_per_batch=512, seed=1, platt_sample=0,
                        init=str(tmp_path / "r"))
    cont, _ = train_reader(base, windows, ReaderConfig(frozen=1, max_tokens=64), more, tmp_path / "b",
                           log=lambda m: None)
    fresh = build_net(base, 1)
    load_weights(fresh, tmp_path / "r", saved)
    a, b = fresh.state_dict(), cont.state_dict()
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-6) for k in a if k.startswith(("upper.", "head.")))
    with pytest.raises(ModelError, match="keeps 1 frozen layers, not 2; leave out --frozen"):
        train_reader(base, windows, ReaderConfig(frozen=2, max_tokens=64), more, tmp_path / "c", log=lambda m: None)
