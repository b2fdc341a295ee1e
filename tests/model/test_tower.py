"""The question tower with the real embedded model (offline): shipped weights, tracing, fallbacks, training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.errors import ModelError
from qa.eval.data import EvalItem, heldout, write_paragraph_docs
from qa.index.build import build_index
from qa.index.store import load_index
from qa.model.encoder import load_encoder
from qa.model.query import TracedQueryEncoder, fast_query_encoder
from qa.model.tower import SHIPPED, TowerConfig, build_tower, load_tower, save_tower
from qa.search.stored_queries import StoredQueries
from qa.search.tower_train import TowerOptions, examples, train_tower
from qa.startup import load_query_encoder, open_service

pytestmark = pytest.mark.model

QUESTIONS = ["Ai chủ trì hội nghị?", "hai phong co bao nhieu quan huyen", "What did the city collect in 2017?"]


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]
    return load_encoder(Settings.from_env().model)


def test_shipped_tower_traces_to_its_own_vectors(encoder) -> None:
    tower = load_tower(encoder)
    traced = TracedQueryEncoder(encoder, tower)
    eager = TracedQueryEncoder(encoder, tower, trace=False)
    assert traced.traced and not eager.traced
    got, want = traced.encode_queries(QUESTIONS), eager.encode_queries(QUESTIONS)
    assert float((got * want).sum(axis=1).min()) > 0.9999
    plain = encoder.encode_queries(QUESTIONS)
    # tuned: not the model's own vectors, but still near them (only the top layers moved); the English
    # question keeps the model's own (the tower learned from Vietnamese), in a batch or alone
    cos = (got * plain).sum(axis=1)
    assert cos[:2].max() < 0.999 and cos[:2].min() > 0.5 and cos[2] > 0.9999
    alone = traced.encode_queries(QUESTIONS[2:])
    assert float((alone * plain[2:]).sum()) > 0.9999
    # passages are untouched, and the vectors carry the tower's name (caches must not mix them)
    np.testing.assert_array_equal(traced.encode_documents(["Hải Phòng."]), encoder.encode_documents(["Hải Phòng."]))
    assert traced.name == encoder.name and traced.query_name == f"{encoder.name}+{tower.config.tag}"


def test_stored_question_vectors_are_kept_apart_per_tower(encoder, tmp_path: Path) -> None:
    path = tmp_path / "q.npz"
    tuned = StoredQueries(fast_query_encoder(encoder, load_tower(encoder)), path)
    a = tuned.encode_queries(QUESTIONS[:1])
    tuned.save()
    plain = StoredQueries(fast_query_encoder(encoder), path)
    assert not plain.table  # the file holds another tower's vectors: not reused
    b = plain.encode_queries(QUESTIONS[:1])
    assert float((a * b).sum()) < 0.999


def test_damaged_tower_is_refused_and_the_default_falls_back(encoder, tmp_path: Path) -> None:
    bad = tmp_path / "tower"
    shutil.copytree(SHIPPED, bad)
    data = bytearray((bad / "query_tower.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (bad / "query_tower.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        load_tower(encoder, bad)
    settings = Settings.from_env({"QA_QUERY_TOWER": str(bad)})
    with pytest.raises(ModelError, match="checksum"):  # a folder the operator named must load
        load_query_encoder(settings, encoder, log=lambda m: None)
    logged: list[str] = []
    off, why = load_query_encoder(Settings.from_env({"QA_QUERY_TOWER": "off"}), encoder, log=logged.append)
    assert "QA_QUERY_TOWER=off" in why and logged == [f"Questions: {why}"]
    assert getattr(off, "tower", None) is None


def test_default_uses_the_shipped_tower(encoder) -> None:
    query, why = load_query_encoder(Settings.from_env({}), encoder, log=lambda m: None)
    assert why.startswith("question tower qt") and getattr(query, "tower", None) is not None


def test_the_sentence_rules_get_the_models_own_vectors(encoder) -> None:
    """Without a reader the rules answer, by cosine thresholds set on the model's own vectors."""
    logged: list[str] = []
    query, why = load_query_encoder(Settings.from_env({}), encoder, log=logged.append, rules=True)
    assert getattr(query, "tower", None) is None and "sentence rules" in why and logged == [f"Questions: {why}"]
    q = "Thủ thư trưởng là ai?"
    assert float(query.encode_queries([q])[0] @ encoder.encode_queries([q])[0]) > 0.9999


def test_training_moves_questions_toward_their_paragraphs(encoder, tmp_path: Path) -> None:
    paragraphs = {
        "Thư viện quận Lê Chân mở cửa từ 7 giờ 30. Thủ thư trưởng là bà Phạm Thu Hằng.": [
            ("Thủ thư trưởng thư viện là ai?", "bà Phạm Thu Hằng"), ("Thư viện mở cửa lúc mấy giờ?", "7 giờ 30")],
        "Cảng Hải Phòng đón 100 triệu tấn hàng năm 2017, tăng 12 phần trăm.": [
            ("Cảng đón bao nhiêu tấn hàng?", "100 triệu tấn"), ("Sản lượng hàng tăng bao nhiêu?", "12 phần trăm")],
        "Lễ hội chọi trâu Đồ Sơn diễn ra vào ngày 9 tháng 8 âm lịch.": [
            ("Chọi trâu Đồ Sơn vào ngày nào?", "ngày 9 tháng 8 âm lịch")],
    }
    items = [EvalItem(q, (a,), context=c, starts=(c.index(a),)) for c, qa in paragraphs.items() for q, a in qa]
    write_paragraph_docs(items, tmp_path / "docs")
    build_index(tmp_path / "docs", tmp_path / "index", encoder, Settings().build)
    index = load_index(tmp_path / "index")
    options = TowerOptions(tuned=1, epochs=2, lr=1e-4, batch=4, folded_share=1.0, lower_share=0.0, casual_share=0.0)
    texts = examples(index, items, options)
    assert {e.text for e in texts} >= {"Thủ thư trưởng thư viện là ai?", "thu thu truong thu vien la ai?"}
    net = build_tower(encoder.model[0].auto_model, options.tuned)
    # a fixed hash holds out a fifth of the paragraphs for validation: these three are all trained on
    assert not any(heldout(c) for c in paragraphs)
    trained = train_tower(net, encoder.model.tokenizer, "query: ", index, items, options, tmp_path)
    losses = [e["loss"] for e in trained["epochs"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    config = save_tower(net, TowerConfig(tuned=1, trained=trained), tmp_path / "out")
    assert json.loads((tmp_path / "out" / "query_tower.json").read_text("utf-8"))["sha256"] == config.sha256
    again = load_tower(encoder, tmp_path / "out")
    a = TracedQueryEncoder(encoder, again, trace=False).encode_queries(QUESTIONS[:1])
    assert a.shape == (1, encoder.dimension)
    # resuming a finished run with the same options trains nothing more and keeps the figures
    resumed = train_tower(build_tower(encoder.model[0].auto_model, 1), encoder.model.tokenizer, "query: ", index,
                          items, options, tmp_path, resume=True)
    assert resumed["epochs"] == trained["epochs"]


def test_a_service_answering_by_the_rules_asks_with_the_models_own_vectors(encoder, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thu-vien.md").write_text("# Thư viện quận Lê Chân\n\nThủ thư trưởng là bà Phạm Thu Hằng.\n", "utf-8")
    settings = Settings(docs_dir=docs, index_dir=tmp_path / "index", reader="off")
    svc = open_service(settings, encoder=encoder, log=lambda m: None, progress=False)
    status = svc.status()
    assert status["answering"] == "sentence rules: QA_READER=off" and "sentence rules" in status["question_vectors"]
    assert svc.ask("Thủ thư trưởng là ai?").answer is not None
