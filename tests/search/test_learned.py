"""The learned ranking's model file: round trip, hash check, the shipped weights, and the retriever's use."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.errors import ConfigError, ModelError
from qa.index.build import build_index
from qa.index.store import load_index
from qa.model.tower import SHIPPED as TOWER
from qa.model.tower import TowerConfig
from qa.search.features import FEATURES
from qa.search.hybrid import Retriever
from qa.search.learned import WEIGHTS, RankingSettings, RankModel, load_ranker, ranker_for, save_ranker
from tests.conftest import FakeEncoder

N = len(FEATURES)


def model(weights: dict[str, float] | None = None, blend: float = 1.0) -> RankModel:
    w = np.array([(weights or {}).get(f, 0.0) for f in FEATURES])
    return RankModel(FEATURES, np.zeros(N), np.ones(N), w, top_k=10, blend=blend, meta={"note": "test"})


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    m = model({"cov_title": 2.0})
    save_ranker(m, tmp_path)
    assert load_ranker(tmp_path) == m
    assert load_ranker(tmp_path).meta == {"note": "test"}


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    save_ranker(model(), tmp_path)
    d = json.loads((tmp_path / WEIGHTS).read_text("utf-8"))
    d["weights"][0] = 5.0
    (tmp_path / WEIGHTS).write_text(json.dumps(d), "utf-8")
    with pytest.raises(ModelError, match="sha256"):
        load_ranker(tmp_path)


def test_missing_malformed_or_other_features_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no ranking model"):
        load_ranker(tmp_path)
    other = RankModel(("a", "b"), np.zeros(2), np.ones(2), np.zeros(2))
    save_ranker(other, tmp_path)
    with pytest.raises(ModelError, match="retrain"):
        load_ranker(tmp_path)
    with pytest.raises(ModelError, match="malformed"):
        RankModel.from_dict({"format": 1, "features": ["a"], "mean": [0], "scale": [0], "weights": [1], "top_k": 3})


def test_learned_ranking_without_a_model_names_the_fix(tmp_path: Path) -> None:
    # no ranker is shipped yet (its training has not been measured against the hand fusion):
    # asking for one is a clear error, never a silent fallback
    with pytest.raises(ModelError, match="qa rank train"):
        ranker_for(RankingSettings("learned", tmp_path))
    assert ranker_for(RankingSettings("hand")) is None


def test_settings_choose_the_ranking() -> None:
    s = Settings.from_env({"QA_RANKING": "learned", "QA_RANKER": "/tmp/r"})
    assert s.ranking == RankingSettings("learned", Path("/tmp/r"))
    assert Settings.from_env({}).ranking.ranking in ("hand", "learned")
    with pytest.raises(ConfigError, match="QA_RANKING"):
        Settings.from_env({"QA_RANKING": "fancy"})


@pytest.fixture
def retriever(small_docs: Path, tmp_path: Path) -> Retriever:
    build_index(small_docs, tmp_path / "index", FakeEncoder())
    return Retriever(load_index(tmp_path / "index"), FakeEncoder())


def ids(r: Retriever, q: str) -> list[int]:
    return [h.chunk_id for h in r.search(q, k=5).hits]


def test_zero_weights_keep_the_hand_order(retriever: Retriever) -> None:
    questions = ["Thủ đô của Việt Nam là gì?", "song huong chay qua dau", "Thu ngân sách năm 2017"]
    hand = [ids(retriever, q) for q in questions]
    retriever.ranker = model()
    assert [ids(retriever, q) for q in questions] == hand


def test_the_model_reorders_the_top_candidates(retriever: Retriever) -> None:
    q = "Hồ Hoàn Kiếm nằm ở đâu?"
    hand = retriever.search(q, k=5).hits
    chunks = retriever.index.chunks
    assert "Hoàn Kiếm" in chunks[hand[0].chunk_id].text
    # a model that prefers the least lexically matching chunk turns the order around
    retriever.ranker = replace(model({"cov_folded": -50.0}), blend=0.0)
    learned = retriever.search(q, k=5).hits
    assert {h.chunk_id for h in learned} == {h.chunk_id for h in hand}
    assert "Hoàn Kiếm" not in chunks[learned[0].chunk_id].text
    assert learned[0].score == next(h.score for h in hand if h.chunk_id == learned[0].chunk_id)  # hand score kept


def test_an_english_question_keeps_the_hand_order(retriever: Retriever) -> None:
    # the model learned from Vietnamese questions only; an English one (or one typed without
    # diacritics, which is Vietnamese) is told apart by the shape of its words
    reverse = replace(model({"cov_folded": -50.0}), blend=0.0)
    english, plain = "Where is Hoan Kiem Lake?", "ho hoan kiem nam o dau"
    hand = {q: ids(retriever, q) for q in (english, plain)}
    retriever.ranker = reverse
    assert ids(retriever, english) == hand[english]
    assert ids(retriever, plain) != hand[plain]


def test_shipped_ranker_loads_and_was_fitted_on_the_shipped_question_vectors() -> None:
    model = load_ranker()  # hash-checked, features as computed today
    assert model.features == FEATURES and model.top_k == 20
    # its cosine features were learned on the tower's vectors: a retrained tower needs a retrained ranker
    assert model.meta["question_vectors"] == f"question tower {TowerConfig.read(TOWER).tag}"
