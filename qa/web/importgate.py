"""Let questions go first while the chat's imports run: pause one thread's imports while a question is
being answered.

Why: app.py answers `/api/ask` as soon as the service is loaded and imports Gradio after that, in the
start-up thread, while the first questions already run. Both need the interpreter lock, and an answer
releases it for every torch operation (hundreds per question) while the import holds it for up to the
switch interval each time, or longer in C code: measured on the 2-core machine, a first answer took
0.2 s alone and 1.7–2.2 s beside `import gradio`. So the importing thread waits, with the lock
released, before each module it imports while a question is in flight::

    idle = threading.Event(); idle.set()          # cleared while a question is answered
    with ImportGate(idle):
        import gradio                              # pauses between modules while `idle` is clear

How: the "import" audit event (`sys.addaudithook`), raised for every import before any import lock
is taken (a finder on `sys.meta_path` runs under the global import lock: a question that imported
anything, as its first request does, would wait for the paused import, and that for the question).
A paused import still holds the locks of the modules it is in the middle of; a question needing one
of those would wait for it: `max_pause_s` bounds that, and after one such timeout the gate stays open.
`importlib.import_module` raises no such event (import statements and `__import__` do: 2,201 events
for the 2,066 modules `import gradio` loads), so a module loaded that way does not pause; the ones it
imports do. Only the thread that entered the gate ever waits; the hook, once added, stays (audit hooks cannot be
removed) and does nothing while no gate is entered.

>>> idle = threading.Event(); idle.set()
>>> with ImportGate(idle) as gate:
...     import json.tool
>>> gate.paused_s
0.0
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

log = logging.getLogger("qa.web.importgate")
_entered: list[ImportGate] = []  # the gate in force (at most one); read by the audit hook
_hooked = False


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    # called for every audit event of the process: keep the common case to two comparisons
    if event == "import" and _entered:
        gate = _entered[-1]
        if gate.owner == threading.get_ident():
            gate.before_import(str(args[0]))


class ImportGate:
    """While entered, imports made by the entering thread wait whenever `idle` is clear."""

    def __init__(self, idle: threading.Event, max_pause_s: float = 2.0) -> None:
        self.idle = idle
        self.max_pause_s = max_pause_s
        self.paused_s = 0.0  # time the imports spent waiting for questions (for the log)
        self.gave_up = False
        self.owner: int | None = None

    def before_import(self, name: str) -> None:
        if self.gave_up or self.idle.is_set():
            return
        t0 = time.perf_counter()
        if not self.idle.wait(self.max_pause_s):
            # a question may be waiting for a module this import holds: never pause again
            self.gave_up = True
            log.info("import of %s waited %.1f s for a question; no more pauses", name, self.max_pause_s)
        self.paused_s += time.perf_counter() - t0

    def __enter__(self) -> ImportGate:
        global _hooked
        if not _hooked:
            sys.addaudithook(_on_audit)
            _hooked = True
        self.owner = threading.get_ident()
        _entered.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.owner = None
        if self in _entered:
            _entered.remove(self)
