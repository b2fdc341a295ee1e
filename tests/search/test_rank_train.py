"""Training the learned ranking on a tiny SQuAD-like corpus (fake encoder): groups, fit, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.eval.data import EvalItem, paragraph_key, write_paragraph_docs
from qa.index.build import build_index
from qa.index.store import load_index
from qa.search.features import FEATURES
from qa.search.hybrid import Retriever
from qa.search.rank_train import Group, TrainOptions, collect, fit_listwise, train, training_docs, variants
from tests.conftest import FakeEncoder

PARAGRAPHS = [
    "Hải Phòng là thành phố cảng lớn ở miền Bắc. Thu ngân sách năm 2017 đạt 70 nghìn tỷ đồng.",
    "Hà Nội là thủ đô của Việt Nam. Hồ Hoàn Kiếm nằm ở trung tâm thành phố.",
    "Huế là cố đô của Việt Nam. Sông Hương chảy qua thành phố Huế.",
    "Đà Nẵng có cầu Rồng bắc qua sông Hàn. Thành phố nằm ở miền Trung.",
]
QA = [(0, "Thu ngân sách năm 2017 của Hải Phòng đạt bao nhiêu?", "70 nghìn tỷ đồng"),
      (1, "Thủ đô của Việt Nam là thành phố nào?", "Hà Nội"),
      (2, "Sông nào chảy qua thành phố Huế?", "Sông Hương"),
      (3, "Cầu Rồng bắc qua sông nào?", "sông Hàn"),
      (1, "Hồ Hoàn Kiếm nằm ở đâu?", "trung tâm thành phố")]


def items() -> list[EvalItem]:
    out = []
    for p, q, a in QA:
        ctx = PARAGRAPHS[p]
        out.append(EvalItem(q, (a,), context=ctx, starts=(ctx.index(a),)))
    return out


@pytest.fixture
def retriever(tmp_path: Path) -> Retriever:
    write_paragraph_docs(items(), tmp_path / "docs")
    build_index(tmp_path / "docs", tmp_path / "index", FakeEncoder())
    return Retriever(load_index(tmp_path / "index"), FakeEncoder())


def test_variants_are_seeded() -> None:
    o = TrainOptions(questions=3, folded_share=0.5, lower_share=0.5, seed=7)
    a, b = variants(items(), o), variants(items(), o)
    assert [v.question for v in a] == [v.question for v in b]
    assert len({v.context for v in a[:3]}) >= 2 and len(a) >= 3


def test_groups_hold_one_gold_chunk_and_only_allowed_paragraphs(retriever: Retriever) -> None:
    allowed = training_docs(items()[:3])
    groups = collect(retriever, items(), top_k=10, allowed_docs=allowed)
    assert len(groups) >= 3
    for g in groups:
        assert g.x.shape == (len(g.y), len(FEATURES)) and g.y.sum() == 1 and len(g.y) >= 2
    # the Đà Nẵng paragraph is outside `allowed`: only its own question may show it (as the gold)
    danang = paragraph_key(PARAGRAPHS[3]) + ".txt"
    assert danang not in allowed


def test_fit_finds_the_informative_feature() -> None:
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(40):
        x = rng.standard_normal((6, 3))
        y = np.zeros(6, bool)
        y[int(np.argmax(x[:, 1]))] = True  # feature 1 decides
        groups.append(Group(x, y, np.zeros(6)))
    w = fit_listwise(groups, l2=0.1)
    assert w[1] > 1.0 and abs(w[0]) < 0.5 * w[1] and abs(w[2]) < 0.5 * w[1]


def test_strong_regularization_stays_with_the_hand_fusion() -> None:
    x = np.eye(3)
    g = [Group(x, np.array([False, True, False]), np.array([1.0, 0.0, -1.0]))]
    assert np.abs(fit_listwise(g, l2=1e6)).max() < 1e-4


def test_train_is_deterministic(retriever: Retriever) -> None:
    o = TrainOptions(questions=0, folded_share=1.0, lower_share=0.0, top_k=8, seed=1)
    a = train(retriever.index, FakeEncoder(), items(), o, training_docs(items()))
    b = train(retriever.index, FakeEncoder(), items(), o, training_docs(items()))
    assert a == b and a.features == FEATURES and a.top_k == 8
    assert a.meta["questions"] == 2 * len(items())
