"""Micro-batching: concurrent callers share batches and each gets exactly its own results."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.batching import Arrivals, MicroBatcher


def test_concurrent_callers_share_batches_and_get_their_own_results() -> None:
    seen: list[int] = []

    def square(xs: list[int]) -> list[int]:
        seen.append(len(xs))
        time.sleep(0.01)  # a forward pass: the others arrive meanwhile
        return [x * x for x in xs]

    b = MicroBatcher(square, max_wait=0.01, max_batch=8)
    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(lambda i: b([i, i + 1000]), range(48)))
    assert results == [[i * i, (i + 1000) ** 2] for i in range(48)]
    assert sum(seen) == 96 and max(seen) <= 8 and b.batches < 48  # batched, never over the bound


def test_a_lone_caller_waits_at_most_max_wait() -> None:
    b = MicroBatcher(lambda xs: xs, max_wait=0.02)
    t0 = time.perf_counter()
    assert b(["a"]) == ["a"]
    assert time.perf_counter() - t0 < 0.5


def test_an_error_reaches_every_caller_of_the_batch_and_the_next_batch_works() -> None:
    calls = threading.Event()

    def fn(xs: list[str]) -> list[str]:
        if "bad" in xs and not calls.is_set():
            calls.set()
            raise ValueError("boom")
        return [x.upper() for x in xs]

    b = MicroBatcher(fn, max_wait=0.05)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(b, ["bad"]), pool.submit(b, ["ok"])]
        errors = [f.exception() for f in futures]
    assert all(isinstance(e, ValueError) for e in errors if e is not None) and any(errors)
    assert b(["x"]) == ["X"]


def test_wrong_result_length_is_an_error() -> None:
    b = MicroBatcher(lambda xs: xs[:-1], max_wait=0.001)
    with pytest.raises(RuntimeError, match="returned 1 results for 2 inputs"):
        b([1, 2])


def test_no_wait_when_nobody_else_is_coming() -> None:
    gate = Arrivals()
    b = MicroBatcher(lambda xs: xs, max_wait=5.0, gate=gate)
    gate.start()
    t0 = time.perf_counter()
    assert b([1]) == [1]
    assert time.perf_counter() - t0 < 1.0  # not the 5 s max_wait
    assert gate.coming() == 0


def test_the_leader_waits_for_a_request_on_its_way() -> None:
    gate = Arrivals()
    seen: list[list[int]] = []
    b = MicroBatcher(lambda xs: seen.append(list(xs)) or xs, max_wait=5.0, gate=gate)
    late = threading.Event()

    def second() -> list[int]:
        gate.start()
        late.set()
        time.sleep(0.1)  # preparing its question: the leader should wait for it
        return b([2])

    with ThreadPoolExecutor(max_workers=2) as pool:
        f2 = pool.submit(second)
        late.wait()
        gate.start()
        f1 = pool.submit(b, [1])
        assert (f1.result(), f2.result()) == ([1], [2])
    assert seen == [[1, 2]]


def test_callers_arriving_during_a_model_call_share_the_next_batch() -> None:
    sizes: list[int] = []
    running = threading.Event()

    def slow(xs: list[int]) -> list[int]:
        sizes.append(len(xs))
        running.set()
        time.sleep(0.2)
        return xs

    b = MicroBatcher(slow, max_wait=0.0, max_batch=32)
    with ThreadPoolExecutor(max_workers=9) as pool:
        first = pool.submit(b, [0])
        running.wait()
        rest = [pool.submit(b, [i]) for i in range(1, 9)]
        assert first.result() == [0] and [f.result() for f in rest] == [[i] for i in range(1, 9)]
    assert sizes == [1, 8]  # not eight calls queueing for the model one by one


