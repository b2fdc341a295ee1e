"""Concurrent callers of BatchingEncoder / QAService.ask each get their own results."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from qa.model.batched import BatchingEncoder


class CountingEncoder:
    """A deterministic fake that records how many texts each forward pass saw."""

    name, dimension, profile = "counting", 3, "none"

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(len(texts))
        return np.array([[len(t), sum(map(ord, t)) % 97, hash(t) % 13] for t in texts], dtype=np.float32)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


def test_each_caller_gets_its_own_rows_and_calls_are_shared() -> None:
    inner = CountingEncoder()
    enc = BatchingEncoder(inner, max_wait=0.05, max_batch=64)
    questions = [[f"câu hỏi số {i}", f"hỏi lại {i * 7}"] for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(enc.encode_queries, questions))
    for qs, rows in zip(questions, got, strict=True):
        np.testing.assert_array_equal(rows, CountingEncoder().encode_queries(qs))
    assert sum(inner.calls) == 80
    assert len(inner.calls) < 40  # shared forward passes, not one per caller


def test_documents_pass_through_unbatched() -> None:
    inner = CountingEncoder()
    enc = BatchingEncoder(inner)
    assert enc.encode_documents(["a", "bb"]).shape == (2, 3)
    assert (enc.name, enc.dimension) == ("counting", 3)
    assert enc.encode_queries([]).shape[0] == 0


def test_service_answers_concurrent_users_as_one_at_a_time(  # type: ignore[no-untyped-def]
        small_docs, tmp_path, fake_encoder) -> None:
    from dataclasses import replace

    from qa.config import Settings
    from qa.index.build import build_index
    from qa.index.store import load_index
    from qa.service import QAService

    build_index(small_docs, tmp_path / "i", fake_encoder)
    data = load_index(tmp_path / "i")
    settings = Settings(small_docs, tmp_path / "i")
    questions = ["Chùa Thiên Mụ ở đâu?", "Hồ Hoàn Kiếm nằm ở đâu?", "thu ngan sach nam 2017", "Huế là gì?",
                 "Phố cổ Hà Nội có bao nhiêu phố phường?", "Sông Hương chảy qua đâu?", "Hải Phòng ở miền nào?",
                 "Thủ đô của Việt Nam là gì?"] * 3
    alone = QAService(data, fake_encoder, replace(settings, batch_wait_ms=0))
    expected = [alone.ask(q).to_dict() for q in questions]
    class Slow:  # the fake's vectors after a forward pass's worth of time: callers pile up meanwhile
        name, dimension, profile = fake_encoder.name, fake_encoder.dimension, fake_encoder.profile

        def encode_queries(self, texts: list[str]) -> np.ndarray:
            time.sleep(0.05)
            return fake_encoder.encode_queries(texts)

        def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
            return fake_encoder.encode_documents(texts, progress)

    shared = QAService(data, fake_encoder, replace(settings, batch_wait_ms=50), query_encoder=Slow())
    assert isinstance(shared.query_encoder, BatchingEncoder)
    start = threading.Barrier(8)  # the eight distinct questions are asked at the same moment

    def ask(i: int) -> dict[str, object]:
        if i < 8:
            start.wait(timeout=30)
        return shared.ask(questions[i]).to_dict()

    with ThreadPoolExecutor(12) as pool:
        got = list(pool.map(ask, range(len(questions))))
    assert got == expected
    assert 0 < shared.query_encoder.batcher.batches < len(set(questions))
