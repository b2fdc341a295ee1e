"""Micro-batching: calls arriving within a few milliseconds from different threads share one batch.

A model's forward pass on 8 short inputs costs little more than on one, so when several users ask
at once their questions (and the reader's windows) go through the model together: the first caller
waits at most `max_wait` seconds for company, a batch holds at most `max_batch` items, and every
caller gets exactly its own results back. With an `Arrivals` gate (the requests that have started
but not yet reached the batcher) the first caller stops waiting as soon as nobody else is on the
way, so a lone caller does not wait at all, and a busy server waits only for questions that are
about to arrive, not for requests still busy after their own encoding.

>>> double = MicroBatcher(lambda xs: [2 * x for x in xs], max_wait=0.001)
>>> double([1, 2, 3])
[2, 4, 6]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

X = TypeVar("X")
Y = TypeVar("Y")


class _Request(Generic[X, Y]):
    def __init__(self, items: Sequence[X]) -> None:
        self.items = list(items)
        self.result: list[Y] | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class Arrivals:
    """Counts requests on their way to a batcher: `start()` when a request begins, `arrived()` when it
    reaches the batcher or ends without it (only the first call per request counts; one request per thread).

    >>> gate = Arrivals(); gate.start(); gate.coming()
    1
    >>> gate.arrived(); gate.arrived(); gate.coming()
    0
    """

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()
        self._mine = threading.local()

    def start(self) -> None:
        with self._lock:
            self._n += 1
        self._mine.on_way = True

    def arrived(self) -> None:
        if getattr(self._mine, "on_way", False):
            self._mine.on_way = False
            with self._lock:
                self._n -= 1

    def coming(self) -> int:
        return self._n


class MicroBatcher(Generic[X, Y]):
    """Wraps `fn(list) -> list` (same length, same order) so concurrent calls are batched together."""

    def __init__(self, fn: Callable[[list[X]], Sequence[Y]], max_wait: float = 0.004, max_batch: int = 32,
                 gate: Arrivals | None = None) -> None:
        self.fn, self.max_wait, self.max_batch, self.gate = fn, max_wait, max_batch, gate
        self._lock = threading.Lock()
        self._pending: list[_Request[X, Y]] = []
        self._leader_busy = False
        self.batches = 0  # how many times fn ran (for tests and benchmarks)

    def __call__(self, items: Sequence[X]) -> list[Y]:
        req: _Request[X, Y] = _Request(items)
        if self.gate is not None:
            self.gate.arrived()
        with self._lock:
            self._pending.append(req)
            lead = not self._leader_busy
            if lead:
                self._leader_busy = True
        if lead:
            self._lead()
        req.done.wait()
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _lead(self) -> None:
        """Gather for up to max_wait, run one batch, then hand the leadership on while requests remain.

        The leadership is held through the model call: questions arriving meanwhile queue up and go
        together in the next batch, instead of each starting its own call that waits for the model.
        """
        deadline = time.monotonic() + self.max_wait
        while True:
            with self._lock:
                size = sum(len(r.items) for r in self._pending)
            if size >= self.max_batch or time.monotonic() >= deadline:
                break
            if self.gate is not None and self.gate.coming() == 0:
                break  # nobody else is on the way
            time.sleep(min(0.0005, max(0.0, deadline - time.monotonic())))
        with self._lock:
            batch: list[_Request[X, Y]] = []
            taken = 0
            while self._pending and (not batch or taken + len(self._pending[0].items) <= self.max_batch):
                r = self._pending.pop(0)
                batch.append(r)
                taken += len(r.items)
        self._run(batch)
        with self._lock:
            more = bool(self._pending)
            if not more:
                self._leader_busy = False
        if more:  # this caller has its answer; another thread leads the next batch
            threading.Thread(target=self._lead, daemon=True).start()

    def _run(self, batch: list[_Request[X, Y]]) -> None:
        flat = [x for r in batch for x in r.items]
        try:
            out = list(self.fn(flat)) if flat else []
            if len(out) != len(flat):
                raise RuntimeError(f"batched function returned {len(out)} results for {len(flat)} inputs")
            self.batches += 1
            pos = 0
            for r in batch:
                r.result = out[pos : pos + len(r.items)]
                pos += len(r.items)
        except BaseException as e:  # every waiting caller must wake up, with the error
            for r in batch:
                r.error = e
        for r in batch:
            r.done.set()
