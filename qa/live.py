"""The running app follows its index: a watcher that reloads it when it changes on disk, and index jobs
(build, update) run in the background with their progress, for the operator page.

    watcher = IndexWatcher(service, interval=2.0).start()   # `qa index update` elsewhere -> served in ~2 s
    jobs = IndexJobs(service)
    jobs.submit("update")                                    # re-encodes new/changed documents, then reloads
    jobs.state()["progress"]                                 # {'phase': 'encoding', 'done': 40, 'total': 102}

Loading happens beside the served index and is switched in between requests (`QAService.reload`),
so questions keep being answered, each by one index, while a new one is built and loaded. A build
that fails leaves both the index on disk and the served one as they were.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from qa.errors import QAError

if TYPE_CHECKING:
    from qa.service import QAService

log = logging.getLogger("qa.live")

JobKind = Literal["update", "build"]
Phase = Literal["queued", "reading", "encoding", "saving", "loading", "done", "failed"]


class IndexWatcher:
    """A daemon thread that calls `service.reload()` every `interval` seconds (cheap when nothing changed:
    one read of manifest.json)."""

    def __init__(self, service: QAService, interval: float = 2.0) -> None:
        self.service = service
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""

    def start(self) -> IndexWatcher:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="qa-index-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def check(self) -> bool:
        """One look at the index folder; True when a new index is now served."""
        try:
            swapped = self.service.reload()
        except Exception:  # a bug must not kill the watcher: keep serving, say why in the log
            log.exception("reloading the index failed")
            return False
        if swapped:
            s = self.service.status()
            log.info("index reloaded: %s documents, built %s", s["documents"], s["built_at"])
        err = self.service.reload_error
        if err and err != self._last_error:
            log.warning("a new index on disk is not served: %s", err)
        self._last_error = err
        return swapped

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()


@dataclass
class Job:
    """One build or update, as the operator page shows it."""

    id: int
    kind: JobKind
    phase: Phase = "queued"
    done: int = 0
    total: int = 0
    started: float = 0.0
    finished: float = 0.0
    error: str = ""  # why it failed (the served index is unchanged)
    skipped: list[str] = field(default_factory=list)  # documents that could not be read
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class IndexJobs:
    """Runs index builds/updates one at a time in a background thread, then reloads the service.

    Submitting while a job runs queues one more (a full build wins over an update), so several
    uploads in a row end in one index holding all of them.
    """

    def __init__(self, service: QAService, history: int = 20) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._jobs: list[Job] = []
        self._pending: Job | None = None
        self._running: Job | None = None
        self._next_id = 1
        self._history = history
        self._thread: threading.Thread | None = None

    def submit(self, kind: JobKind) -> Job:
        """Queue a job (or fold it into the one already queued); returns it."""
        if kind not in ("update", "build"):
            raise QAError(f"unknown index job {kind!r}; use update or build")
        with self._lock:
            if self._pending is not None:
                if kind == "build":
                    self._pending.kind = "build"
                return self._pending
            job = Job(self._next_id, kind)
            self._next_id += 1
            self._jobs.append(job)
            del self._jobs[: -self._history]
            self._pending = job
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="qa-index-jobs", daemon=True)
                self._thread.start()
            return job

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until no job is queued or running (tests, scripts); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending is None and self._running is None:
                    return True
            time.sleep(0.02)
        return False

    def state(self) -> dict[str, Any]:
        """{"running": job|None, "queued": job|None, "last": the newest finished job|None, "jobs": [...]}."""
        with self._lock:
            finished = [j for j in self._jobs if j.phase in ("done", "failed")]
            return {
                "running": self._running.to_dict() if self._running else None,
                "queued": self._pending.to_dict() if self._pending else None,
                "last": finished[-1].to_dict() if finished else None,
                "jobs": [j.to_dict() for j in reversed(self._jobs)],
            }

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._pending
                self._pending = None
                self._running = job
                if job is None:
                    return
            try:
                self._run(job)
            except Exception as e:  # any failure: the served index stays; the page says why
                if not isinstance(e, QAError):
                    log.exception("index job %s failed", job.id)
                job.error = str(e) or type(e).__name__
                job.phase = "failed"
            finally:
                job.finished = time.time()
                with self._lock:
                    self._running = None

    def _run(self, job: Job) -> None:
        from qa.index.build import build_index, update_index

        svc = self.service
        s = svc.settings
        job.started = time.time()
        job.phase = "reading"

        def progress(done: int, total: int) -> None:
            job.phase = "encoding" if done < total else "saving"
            job.done, job.total = done, total

        fn = build_index if job.kind == "build" else update_index
        report = fn(s.docs_dir, s.index_dir, svc.encoder, s.build, progress=progress)
        job.phase = "loading"
        job.skipped = list(report.errors)
        job.summary = {"documents": report.documents, "chunks": report.chunks, "added": report.added,
                       "changed": report.changed, "removed": report.removed, "seconds": round(report.seconds, 2)}
        if not svc.reload() and svc.reload_error:
            raise QAError(f"the new index was written but could not be loaded: {svc.reload_error}")
        job.phase = "done"
