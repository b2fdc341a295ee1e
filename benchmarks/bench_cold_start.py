"""Cold start: process start to first answer, with and without a prepared model cache (a benchmark).

    python benchmarks/bench_cold_start.py [--docs seeds] [--repeat 2]

Every run is a fresh Python process, timed from spawn until its answer line arrives on stdout
(peak RSS from the kernel's accounting). Scenarios:
  cli, cache ready           `qa ask --json Q` with the converted model cached and the index built
  cli, no cache              the same with an empty model cache (convert, then load)
  service, cache ready       `load_encoder()` + `open_service(query_encoder=fast_query_encoder(enc))`:
                             what a long-running service pays (model load + the 0.5 s trace)
  cli, no cache, no index    first run ever: convert, load, build the index, answer
  bare sentence-transformers `import sentence_transformers`, load the same converted model, embed one
                             query: the floor every start pays (the yardstick below)
  app.py, page up            `python app.py` until GET / answers 200 (the starting page)
  app.py, questions taken    ... until /healthz says "api_ready": the JSON API answers, and the
                             starting page opens its question box (the widget) for a chat user
  app.py, first answer       ... until POST /api/ask returns an answer (asked then)
  app.py, chat ready         ... until /healthz says "ok": the chat (Gradio) is mounted too, and the
                             starting page turns into it
Target: ≤ 15 s with a prepared cache; app.py's page up ≤ 3 s and its first answer ≤ 1.2× the bare
load, both measured in the same run (`--app-only` runs just these).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTION = "Ai chủ trì hội nghị cán bộ chủ chốt thành phố?"

SERVICE = """
import json, sys
from qa.config import Settings
from qa.model.encoder import load_encoder
from qa.model.query import fast_query_encoder
from qa.startup import open_service
enc = load_encoder(Settings.from_env().model)
svc = open_service(Settings.from_env().override(auto_build="missing"), encoder=enc,
                   query_encoder=fast_query_encoder(enc),
                   progress=False, log=lambda m: None)
print(json.dumps(svc.ask(sys.argv[1]).to_dict(), ensure_ascii=False), flush=True)
"""


BARE = """
import sys
from sentence_transformers import SentenceTransformer
from qa.model.cache import prepare_default_model
m = SentenceTransformer(str(prepare_default_model()), device="cpu")
m.encode(["query: " + sys.argv[1]])
print("{}", flush=True)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_app(env: dict[str, str], timeout: float = 600.0) -> tuple[float, float, float, float, float]:
    """(seconds to the page, to questions taken, to the first answer, to the chat, peak RSS MB) of one
    fresh `python app.py`."""
    import json
    import urllib.error
    import urllib.request

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], env=env, cwd=REPO,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    page = taken = answer = chat = -1.0
    try:
        while page < 0:
            if p.poll() is not None or time.perf_counter() - t0 > timeout:
                raise SystemExit(f"app.py did not come up: {p.stderr.read()[-2000:] if p.stderr else ''}")
            try:
                with urllib.request.urlopen(url + "/", timeout=5) as r:
                    if r.status == 200:
                        page = time.perf_counter() - t0
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        while taken < 0:  # what the starting page polls: once the API answers it opens the widget
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
                    taken = time.perf_counter() - t0  # 200: the chat is up already
            except urllib.error.HTTPError as e:
                if e.code != 503 or p.poll() is not None or time.perf_counter() - t0 > timeout:
                    raise SystemExit(f"app.py: /healthz {e.code}") from e
                if json.loads(e.read()).get("api_ready"):
                    taken = time.perf_counter() - t0
                else:
                    time.sleep(0.05)
        body = json.dumps({"question": QUESTION}).encode()
        while answer < 0:
            req = urllib.request.Request(url + "/api/ask", body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    if json.loads(r.read()).get("passages") is not None:
                        answer = time.perf_counter() - t0
            except urllib.error.HTTPError as e:
                if e.code != 503 or time.perf_counter() - t0 > timeout:
                    raise SystemExit(f"app.py: /api/ask {e.code}") from e
                time.sleep(0.1)  # still starting after the request's wait: ask again
        while chat < 0:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
                    if json.loads(r.read()).get("status") == "ok":
                        chat = time.perf_counter() - t0
            except urllib.error.HTTPError as e:
                if e.code != 503 or time.perf_counter() - t0 > timeout:
                    raise SystemExit(f"app.py: /healthz {e.code}") from e
                time.sleep(0.05)
    finally:
        p.terminate()
        _, status, usage = os.wait4(p.pid, 0)
        if p.stderr is not None:
            p.stderr.close()
    return page, taken, answer, chat, usage.ru_maxrss / 1024


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds to the first stdout line, peak RSS MB, stderr tail) of one fresh process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO, text=True)
    assert p.stdout is not None and p.stderr is not None
    line = p.stdout.readline()
    first = time.perf_counter() - t0
    p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0 or not line.startswith("{"):
        raise SystemExit(f"{cmd} failed ({p.returncode}): {err[-2000:]}")
    return first, usage.ru_maxrss / 1024, err.strip().splitlines()[-1] if err.strip() else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", default="seeds")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--app-only", action="store_true", help="only the bare load and python app.py")
    ap.add_argument("--repo", type=Path, default=None,
                    help="run another checkout's code (a before/after comparison, e.g. the main branch)")
    args = ap.parse_args()
    global REPO
    REPO = (args.repo or REPO).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="qa-bench-cold-"))
    base = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QA_DOCS_DIR=str(Path(args.docs).resolve()),
                PYTHONPATH=str(REPO))
    base.pop("QA_MODEL", None)
    ready_cache, index = tmp / "cache", tmp / "index"
    cli = [sys.executable, "-m", "qa.cli.main", "ask", "--json", QUESTION]
    service = [sys.executable, "-c", SERVICE, QUESTION]
    # prepare once: a converted model and a built index
    warm = dict(base, QA_MODEL_CACHE=str(ready_cache), QA_INDEX_DIR=str(index))
    # `qa ask` no longer builds a missing index (it names the build command): build it here
    subprocess.run([sys.executable, "-m", "qa.cli.main", "index", "build", "--docs", str(Path(args.docs).resolve()),
                    "--index", str(index), "--quiet"], env=warm, cwd=REPO, check=True, capture_output=True)
    run(cli, warm)
    results: dict[str, list[tuple[float, float, str]]] = {}
    for r in range(args.repeat):
        def fresh(name: str, r: int = r) -> str:  # an empty cache / index folder per run
            return str(tmp / f"{name}-{r}")

        scenarios = {
            "cli, cache ready": (cli, warm),
            "cli, no cache": (cli, dict(warm, QA_MODEL_CACHE=fresh("c1"))),
            "service, cache ready": (service, warm),
            "cli, no cache, no index": (cli, dict(warm, QA_MODEL_CACHE=fresh("c3"), QA_INDEX_DIR=fresh("i3"))),
        }
        if args.app_only:
            scenarios = {}
        scenarios["bare sentence-transformers"] = ([sys.executable, "-c", BARE, QUESTION], warm)
        for name, (cmd, env) in scenarios.items():
            results.setdefault(name, []).append(run(cmd, env))
        page, taken, answer, chat, rss = run_app(warm)
        results.setdefault("app.py, page up", []).append((page, rss, ""))
        results.setdefault("app.py, questions taken", []).append((taken, rss, ""))
        results.setdefault("app.py, first answer", []).append((answer, rss, ""))
        results.setdefault("app.py, chat ready", []).append((chat, rss, ""))
    print(f"process start -> first answer, median of {args.repeat} fresh processes each "
          f"({os.cpu_count()} cores):")
    print(f"  {'scenario':26}{'seconds':>9}{'peak RSS MB':>13}")
    for name, rows in results.items():
        print(f"  {name:26}{statistics.median(x[0] for x in rows):9.1f}{statistics.median(x[1] for x in rows):13.0f}"
              )
    bare = statistics.median(x[0] for x in results["bare sentence-transformers"])
    first = statistics.median(x[0] for x in results["app.py, first answer"])
    page = statistics.median(x[0] for x in results["app.py, page up"])
    print(f"app.py: page up {page:.1f} s (target ≤ 3 s); first answer {first / bare:.2f}× the bare load "
          "(target ≤ 1.2×)")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
