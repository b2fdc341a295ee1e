"""Load test: concurrent clients through POST /api/ask and the Gradio `/ask` endpoint, loopback only.

    python benchmarks/load_test.py                    # starts `python app.py` on a free loopback port
    python benchmarks/load_test.py --encoder fake     # fast: the tests' fake encoder instead of the model
    python benchmarks/load_test.py --url http://127.0.0.1:7860   # an already running local server

32 clients x 20 questions per phase by default (questions from tests/data/seed_dev.json, each made
unique so the query-embedding cache does not hide the model's cost). Bounded: stops issuing requests
at --time-limit seconds, always stops the server it started, exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
QUIET_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
             "QA_RATE_LIMIT": "0"}

# Serves the app over the tests' FakeEncoder (no model load): for a quick check of the plumbing.
FAKE_SERVER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import uvicorn
from tests.conftest import FakeEncoder
from qa.web.app import create_app
from qa.config import Settings
from qa.startup import open_service
svc = open_service(Settings(docs_dir=Path(sys.argv[2]), index_dir=Path(sys.argv[3])), encoder=FakeEncoder(),
                   progress=False)
uvicorn.run(create_app(svc), host="127.0.0.1", port=int(sys.argv[4]), log_level="warning")
"""


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float | None, error: str | None = None) -> None:
        with self.lock:
            if error is None and seconds is not None:
                self.latencies.append(seconds)
            else:
                self.errors.append(error or "unknown error")

    def report(self, expected: int) -> str:
        lat = sorted(self.latencies)
        done = len(lat)
        missing = expected - done - len(self.errors)
        if not lat:
            return f"{self.name}: 0 ok, {len(self.errors)} errors, {missing} not sent"
        p50 = statistics.median(lat)
        p95 = lat[min(done - 1, int(round(0.95 * done)) - 1)]
        return (f"{self.name:>14}: {done} ok, {len(self.errors)} errors, {missing} not sent | "
                f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms | "
                f"throughput {done / self.wall:.1f} req/s over {self.wall:.1f} s")


def questions(n_clients: int, per_client: int) -> list[list[str]]:
    """Per client, `per_client` distinct questions; every question of the run is unique."""
    base = [q["question"] for q in json.loads((REPO / "tests/data/seed_dev.json").read_text("utf-8"))]
    out = []
    for c in range(n_clients):
        ks = range(c * per_client, (c + 1) * per_client)
        out.append([f"{base[k % len(base)]} (#{k})" for k in ks])
    return out


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        addrs = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        sys.exit(f"error: cannot resolve {host!r}")
    if not addrs or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        sys.exit(f"error: {url} is not a loopback address; this load test only targets local servers")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, deadline: float) -> dict[str, object]:
    import httpx

    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            r = httpx.get(url + "/healthz", timeout=5)
            if r.status_code == 200:
                return dict(r.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server at {url} not healthy before the time limit")


def run_phase(phase: Phase, qs: list[list[str]], deadline: float,
              make_worker: Callable[[list[str], Phase, float], None]) -> None:
    threads = [threading.Thread(target=make_worker, args=(client_qs, phase, deadline), daemon=True)
               for client_qs in qs]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 5)
    phase.wall = time.perf_counter() - t0


def api_worker(url: str, top_k: int) -> Callable[[list[str], Phase, float], None]:
    import httpx

    def work(qs: list[str], phase: Phase, deadline: float) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            for q in qs:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    r = client.post("/api/ask", json={"question": q, "top_k": top_k})
                    body = r.json()
                    ok = r.status_code == 200 and isinstance(body.get("passages"), list)
                    err = None if ok else f"HTTP {r.status_code}: {r.text[:200]}"
                    phase.record(time.perf_counter() - t0, err)
                except Exception as e:  # any failure is an error of the run, never a crash of the test
                    phase.record(None, f"{type(e).__name__}: {e}")

    return work


def gradio_worker(url: str, top_k: int) -> Callable[[list[str], Phase, float], None]:
    from gradio_client import Client

    def work(qs: list[str], phase: Phase, deadline: float) -> None:
        try:
            client = Client(url, verbose=False, analytics_enabled=False, download_files=False,
                            httpx_kwargs={"timeout": 120})
        except Exception as e:
            for _ in qs:
                phase.record(None, f"Client: {type(e).__name__}: {e}")
            return
        for q in qs:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            t0 = time.perf_counter()
            try:
                out = client.submit(q, top_k, api_name="/ask").result(timeout=remaining + 60)
                ok = isinstance(out, dict) and isinstance(out.get("passages"), list)
                phase.record(time.perf_counter() - t0, None if ok else f"unexpected result {str(out)[:200]}")
            except Exception as e:
                phase.record(None, f"{type(e).__name__}: {e}")

    return work


def start_server(args: argparse.Namespace, work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    docs = Path(args.docs).resolve()
    index = Path(args.index).resolve() if args.index else work / "index"
    log = open(work / "server.log", "wb")  # the child keeps it; closed when this process exits
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(REPO)}
    if args.encoder == "fake":
        cmd = [sys.executable, "-c", FAKE_SERVER, str(REPO), str(docs), str(index), str(port)]
    else:
        cmd = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), "--docs", str(docs),
               "--index", str(index)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    return f"http://127.0.0.1:{port}", proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", help="a running server on this machine (default: start app.py)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--questions", type=int, default=20, help="questions per client per phase")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--time-limit", type=float, default=300,
                   help="seconds for the whole run, startup included")
    p.add_argument("--docs", default=str(REPO / "seeds"))
    p.add_argument("--index", help="index folder for the started server (default: a temporary one)")
    p.add_argument("--encoder", choices=["model", "fake"], default="model",
                   help="the started server's encoder: the real model or the tests' fake one")
    p.add_argument("--phases", default="api,gradio", help="comma-separated: api, gradio")
    args = p.parse_args(argv)
    started = time.monotonic()
    deadline = started + args.time_limit
    proc = None
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        try:
            if args.url:
                url = args.url.rstrip("/")
                require_loopback(url)
            else:
                url, proc = start_server(args, Path(tmp))
            print(f"server: {url} (waiting for /healthz)", flush=True)
            status = wait_healthy(url, proc, deadline)
            print(f"ready after {time.monotonic() - started:.1f} s: {status}", flush=True)
            qs = questions(args.clients, args.questions)
            expected = args.clients * args.questions
            failed = False
            for name in [s.strip() for s in args.phases.split(",") if s.strip()]:
                phase = Phase("/api/ask" if name == "api" else "gradio /ask")
                worker = api_worker(url, args.top_k) if name == "api" else gradio_worker(url, args.top_k)
                run_phase(phase, qs, deadline, worker)
                print(phase.report(expected), flush=True)
                for err in sorted(set(phase.errors))[:5]:
                    print(f"    error: {err}", flush=True)
                failed |= bool(phase.errors) or len(phase.latencies) != expected
            return 1 if failed else 0
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            log = Path(tmp) / "server.log"
            if log.exists():
                print(log.read_text("utf-8", "replace")[-3000:], file=sys.stderr)
            return 2
        finally:
            if proc is not None:
                stop_server(proc)


if __name__ == "__main__":
    sys.exit(main())
