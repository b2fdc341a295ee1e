"""Web app: Gradio chat, HTTP API and embeddable widget on one loopback server.

    python app.py                          # http://127.0.0.1:7860/ over ./seeds, index in ./index
    python app.py --port 8000 --docs my_docs --index my_index

Configuration is read here, once (qa.config: QA_HOST, QA_PORT, QA_DOCS_DIR, QA_INDEX_DIR, QA_MODEL,
QA_ALLOWED_ORIGINS, QA_RATE_LIMIT, ...), and flags win over it. Nothing heavy happens at import.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.config import Settings
    from qa.service import QAService
    from qa.web.ratelimit import RateLimiter
    from qa.web.starting import Starting


def create_app(service: QAService, settings: Settings, chat: bool = True,
               limiter: RateLimiter | None = None) -> FastAPI:
    """The FastAPI app (chat at /, /api/ask, /healthz, /doc, /widget.js) for a loaded service;
    `chat=False`: without the chat (no Gradio import); `limiter`: one shared by both apps."""
    from qa.web.app import create_app as _create

    return _create(service, allowed_origins=list(settings.web.allowed_origins),
                   rate_limiter=limiter if limiter is not None else rate_limiter(settings), chat=chat)


def rate_limiter(settings: Settings) -> RateLimiter:
    """The /api/* limiter the settings ask for (QA_RATE_LIMIT, QA_RATE_LIMIT_BURST, QA_RATE_LIMIT_LOOPBACK)."""
    from qa.web.ratelimit import RateLimiter

    w = settings.web
    return RateLimiter(w.rate_limit, w.rate_limit_burst, exempt_loopback=not w.rate_limit_loopback)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="app.py", description="Vietnamese document QA: web chat + HTTP API")
    p.add_argument("--host", help="interface to bind (default: QA_HOST or 127.0.0.1; use 0.0.0.0 only behind a proxy)")
    p.add_argument("--port", help="port (default: QA_PORT or 7860)")
    p.add_argument("--docs", help="documents folder (default: QA_DOCS_DIR or ./seeds)")
    p.add_argument("--index", help="index folder (default: QA_INDEX_DIR or ./index)")
    p.add_argument("--model", help="sentence-transformers model id or local path (default: QA_MODEL or the "
                                   "embedded multilingual-e5-small)")
    p.add_argument("--device", help="torch device for the model, e.g. cpu or cuda")
    return p.parse_args(argv)


def _settings_problem(settings: Settings, device: str | None) -> str | None:
    """What is wrong with the folders or flags, before anything heavy loads; None when all is well."""
    import argparse

    from qa.cli.main import _device, check_docs, check_index_target
    from qa.errors import QAError
    from qa.index.catalogue.manifest import MANIFEST

    try:
        if device is not None:
            _device(device)
        check_index_target(settings.index_dir)
        if not (settings.index_dir / MANIFEST).is_file():
            if settings.auto_build == "never":
                return (f"no index at {settings.index_dir} and QA_AUTO_BUILD=never; build it with "
                        f"`qa index build --index {settings.index_dir}`")
            check_docs(settings.docs_dir)  # the first start builds the index from them
    except (QAError, argparse.ArgumentTypeError) as e:
        return f"{e}" if not isinstance(e, argparse.ArgumentTypeError) else f"--device: {e}"
    return None


def _port_problem(host: str, port: int) -> str | None:
    import socket

    try:
        with socket.create_server((host, port)):
            return None
    except OSError as e:
        return e.strerror or str(e)


def main(argv: list[str] | None = None) -> int:
    from qa.config import Settings
    from qa.errors import QAError

    args = parse_args(argv)
    try:
        port = None if args.port is None else int(args.port)
    except ValueError:
        print(f"error: port {args.port!r} is not a number from 1 to 65535; fix --port or QA_PORT", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env().override(docs=args.docs, index=args.index, model=args.model,
                                                device=args.device, host=args.host, port=port)
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    host, port = settings.web.host, settings.web.port
    problem = _settings_problem(settings, args.device)
    if problem:  # checked before the model loads (seconds to minutes)
        print(f"error: {problem}", file=sys.stderr)
        return 2
    busy = _port_problem(host, port)
    if busy:  # say so before spending seconds on loading the model
        print(f"error: cannot listen on {host}:{port}: {busy}; change --host/--port (QA_HOST/QA_PORT)",
              file=sys.stderr)
        return 2
    import logging
    import threading

    import uvicorn

    from qa.cli.progress import bar
    from qa.web.starting import Starting

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    # the page is up at once and says it is getting ready; the model, the index, the reader and
    # Gradio load meanwhile (questions wait for them, or get "đang khởi động")
    starting = Starting(log_line=lambda m: print(m, file=sys.stderr, flush=True), terminal_bar=bar)
    server = uvicorn.Server(uvicorn.Config(starting, host=host, port=port, log_level="info", lifespan="on"))

    def failed(e: BaseException) -> None:  # as before the page existed: one line (a bug: the traceback), exit 2
        if isinstance(e, QAError):
            print(f"error: {e}", file=sys.stderr, flush=True)
        else:
            logging.getLogger("app").error("start-up failed", exc_info=e)
        server.should_exit = True

    threading.Thread(target=starting.load, args=(lambda progress: _build(settings, progress), failed),
                     name="qa-startup", daemon=True).start()
    admin = f", operator page: http://{host}:{port}/admin/" if settings.web.admin_token else ""
    reload = (f"; a new index on disk is picked up within {settings.web.reload_interval} s"
              if settings.web.reload_interval else "")
    print(f"Vietnamese document QA: http://{host}:{port}/  (API: POST /api/ask, widget: /widget.js{admin}){reload}"
          " — starting; the page shows the progress", file=sys.stderr, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        return 130
    return 2 if starting.failed else 0


def _build(settings: Settings, progress: Starting) -> FastAPI:
    """The real app, built in the start-up thread: the JSON API answers as soon as the service is
    loaded (its networks eager), and only then is Gradio imported for the chat; the networks are
    traced after that (`_trace`). (Imported in a thread beside the model load, Gradio's 1.6 s of
    pure-Python imports held the interpreter lock the load needed: nothing overlapped, and every
    answer waited for both.)"""
    import logging

    from qa.startup import open_service

    service = open_service(settings, bar=progress.bar, log=progress.log, trace=False)
    limiter = rate_limiter(settings)  # one for both apps: a client's count carries over
    progress.serve_api(create_app(service, settings, chat=False, limiter=limiter))
    progress.after_ready(lambda: _trace(service))
    progress.log("Building the web interface…")
    with progress.questions_first() as gate:  # Gradio's imports pause while an early question runs
        app = create_app(service, settings, limiter=limiter)
    if gate.paused_s:
        logging.getLogger("app").info("the chat's imports paused %.1f s for questions", gate.paused_s)
    return app


def _trace(service: QAService) -> None:
    """The traces make every later question faster (~1 s to make them): once the chat is up, so
    that neither the first answer nor the chat waits for them."""
    import logging
    import time

    t0 = time.perf_counter()
    service.trace()
    logging.getLogger("app").info("reader and question encoder traced in %.1f s", time.perf_counter() - t0)


if __name__ == "__main__":
    sys.exit(main())
