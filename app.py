"""Web app: Gradio chat, HTTP API and embeddable widget on one loopback server.

    python app.py                          # http://127.0.0.1:7860/ over ./seeds, index in ./index
    python app.py --port 8000 --docs my_docs --index my_index

Flags win over QA_HOST, QA_PORT, QA_DOCS_DIR, QA_INDEX_DIR, QA_MODEL; QA_ALLOWED_ORIGINS lists the
origins that may embed the chat or call the API from a browser. Nothing heavy happens at import.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from qa.web.chat import build_demo

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.service import QAService

__all__ = ["build_demo", "create_app", "main"]


def create_app(service: QAService, allowed_origins: list[str] | None = None) -> FastAPI:
    """The FastAPI app (chat at /, /api/ask, /healthz, /doc, /widget.js) for a loaded service."""
    from qa.web.app import create_app as _create

    return _create(service, allowed_origins=allowed_origins)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(prog="app.py", description="Vietnamese document QA: web chat + HTTP API")
    p.add_argument("--host", default=env.get("QA_HOST") or "127.0.0.1",
                   help="interface to bind (default: QA_HOST or 127.0.0.1; use 0.0.0.0 only behind a proxy)")
    p.add_argument("--port", default=env.get("QA_PORT") or "7860", help="port (default: QA_PORT or 7860)")
    p.add_argument("--docs", help="documents folder (default: QA_DOCS_DIR or ./seeds)")
    p.add_argument("--index", help="index folder (default: QA_INDEX_DIR or ./index)")
    p.add_argument("--model", help="sentence-transformers model id or local path (default: QA_MODEL or the "
                                   "embedded multilingual-e5-small)")
    p.add_argument("--device", help="torch device for the model, e.g. cpu or cuda")
    return p.parse_args(argv)


def _port_problem(host: str, port: int) -> str | None:
    import socket

    try:
        with socket.create_server((host, port)):
            return None
    except OSError as e:
        return e.strerror or str(e)


def main(argv: list[str] | None = None) -> int:
    from qa.errors import QAError

    args = parse_args(argv)
    try:
        port = int(args.port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        print(f"error: port {args.port!r} is not a number from 1 to 65535; fix --port or QA_PORT",
              file=sys.stderr)
        return 2
    busy = _port_problem(args.host, port)
    if busy:  # say so before spending seconds on loading the model
        print(f"error: cannot listen on {args.host}:{port}: {busy}; change --host/--port (QA_HOST/QA_PORT)",
              file=sys.stderr)
        return 2
    try:
        from qa.service import Settings, open_service
        from qa.web.app import parse_origins

        origins = parse_origins(os.environ.get("QA_ALLOWED_ORIGINS"))
        settings = Settings.from_env(docs_dir=args.docs, index_dir=args.index, model=args.model,
                                     device=args.device)
        service = open_service(settings)
        app = create_app(service, allowed_origins=origins)
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    import uvicorn

    print(f"Hỏi đáp tài liệu: http://{args.host}:{port}/  (API: POST /api/ask, widget: /widget.js)",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
