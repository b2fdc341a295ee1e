"""The traced query path and span pooling, without the real model (tests/model/test_model.py has both real)."""

from __future__ import annotations

import numpy as np

from qa.model.encoder import encode_with_spans
from qa.model.query import TracedQueryEncoder, fast_query_encoder


def test_fast_query_encoder_leaves_other_encoders_alone(fake_encoder) -> None:
    assert fast_query_encoder(fake_encoder) is fake_encoder  # nothing to trace


def test_untraceable_layout_falls_back_to_the_model(fake_encoder) -> None:
    from types import SimpleNamespace

    from qa.model.encoder import profile_for

    st_like = SimpleNamespace(model=[object()], profile_info=profile_for("default"), name="default",
                              dimension=64, profile="e5", encode_queries=fake_encoder.encode_queries,
                              encode_documents=fake_encoder.encode_documents)
    traced = TracedQueryEncoder(st_like)
    assert not traced.traced and "unsupported layout" in traced.reason
    np.testing.assert_array_equal(traced.encode_queries(["Huế"]), fake_encoder.encode_queries(["Huế"]))
    assert fast_query_encoder(st_like) is st_like  # a failed trace is not worth wrapping


def test_encode_with_spans_falls_back_to_separate_encoding(fake_encoder) -> None:
    texts = ["Hà Nội là thủ đô. Hồ Gươm ở giữa.", "Huế là cố đô."]
    spans = [[(0, 17), (18, 33)], [(0, 13)]]
    docs, per = encode_with_spans(fake_encoder, texts, spans)
    np.testing.assert_array_equal(docs, fake_encoder.encode_documents(texts))
    assert [p.shape for p in per] == [(2, 64), (1, 64)]
    want = fake_encoder.encode_documents(["Hà Nội là thủ đô.", "Hồ Gươm ở giữa.", "Huế là cố đô."])
    np.testing.assert_array_equal(np.concatenate(per), want)
