"""Features of the learned ranking: term coverage and per-question normalization (tiny inline corpora)."""

from __future__ import annotations

import numpy as np

from qa.schema import Chunk
from qa.search.features import FEATURES, ChunkTerms, Pool, QuestionTerms, TermCache, candidate_features, coverage

CHUNKS = [
    Chunk("hp.txt", "Hải Phòng", "Hải Phòng là thành phố cảng lớn.", 0, 32, ((0, 32),)),
    Chunk("hn.txt", "Hà Nội", "Hà Nội là thủ đô của Việt Nam.", 0, 30, ((0, 30),)),
    Chunk("hue.txt", "Huế", "Huế là cố đô, sông Hương chảy qua.", 0, 34, ((0, 34),)),
]
IDF = {"ha": 1.0, "noi": 1.0, "thu": 2.0, "do": 1.0, "la": 0.1, "hai": 2.0, "phong": 2.0}


def feats(question: str, restored: str, scores: np.ndarray, accent: float = 1.0) -> dict[str, np.ndarray]:
    rows = np.arange(len(CHUNKS))
    x = candidate_features(rows, hand=scores, chunk_cos=scores, sent_cos=scores, lexical=np.maximum(scores, 0),
                           chunk_terms=[ChunkTerms.of(c) for c in CHUNKS],
                           question=QuestionTerms.of(restored, question), idf=IDF, accent_ratio=accent)
    return {name: x[:, i] for i, name in enumerate(FEATURES)}


def test_coverage_weights_rare_words_and_ignores_repeats() -> None:
    assert coverage(["thu", "do", "thu"], {"thu"}, IDF) == 2.0 / 3.0
    assert coverage([], {"thu"}, IDF) == 0.0
    assert coverage(["xyz"], {"xyz"}, IDF) == 1.0  # an unseen word counts with the default weight


def test_question_words_found_in_text_and_title() -> None:
    f = feats("thu do ha noi", "thủ đô hà nội", np.array([0.1, 0.5, 0.2]))
    assert f["cov_folded"].round(3).tolist() == [0.0, 1.0, 0.2]  # Huế's "đô" (do, idf 1) of 5
    assert f["cov_norm"].round(3).tolist() == [0.0, 1.0, 0.2]
    assert f["cov_folded_gap"].round(3).tolist() == [-1.0, 0.0, -0.8]
    assert f["cov_title"].round(3).tolist() == [0.0, 0.4, 0.0]  # "Hà Nội": ha + noi of 5
    # pairs thu_do (idf 3), do_ha (2), ha_noi (2): Hà Nội's text has the first and the last
    assert f["cov_pairs"].round(3).tolist() == [0.0, round(5 / 7, 3), 0.0]
    assert f["rank_hand"].tolist() == [1 / 3, 1.0, 0.5]


def test_features_do_not_depend_on_the_scale_of_a_question_s_scores() -> None:
    """Per-question normalization: a seed article's scores and a large corpus's land on one scale."""
    s = np.array([0.2, 0.9, 0.4])
    a, b = feats("ha noi", "hà nội", s), feats("ha noi", "hà nội", 3.0 * s + 7.0)
    for name in ("hand_z", "chunk_cos_z", "sent_cos_z", "rank_hand", "rank_dense", "rank_lex", "cov_folded"):
        np.testing.assert_allclose(a[name], b[name], err_msg=name)


def test_plain_questions_carry_the_lexical_interaction() -> None:
    s = np.array([0.2, 0.9, 0.4])
    typed, plain = feats("ha noi", "hà nội", s, accent=1.0), feats("ha noi", "hà nội", s, accent=0.0)
    assert not typed["plain_lex_z"].any()
    np.testing.assert_allclose(plain["plain_lex_z"], plain["lex_z"])


def test_equal_scores_give_zero_z_not_nan() -> None:
    f = feats("ha noi", "hà nội", np.zeros(3))
    assert not np.isnan(np.stack(list(f.values()))).any()
    assert f["hand_z"].tolist() == [0.0, 0.0, 0.0]
    assert Pool.of(np.zeros(0)).z().size == 0


def test_term_cache_keeps_the_most_recent_chunks() -> None:
    cache = TermCache(CHUNKS, size=2)
    first = cache[0]
    assert cache[0] is first
    cache[1], cache[2]
    assert cache[0] is not first and cache[0] == first  # evicted, then made again equal
    assert first.title == frozenset({"hai", "phong"})
