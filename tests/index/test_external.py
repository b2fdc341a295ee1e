"""Whole indexes on each backend: build, answers, incremental update, atomicity, bad input, Ray builds."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from qa.answer.answerer import Answerer
from qa.errors import QAError
from qa.index.build import BuildOptions, build_index, update_index
from qa.index.catalogue.manifest import read_manifest
from qa.index.engines.base import BackendError, BackendMismatchError, BackendSettings
from qa.index.engines.qdrant_edge import QdrantEdgeBackend
from qa.index.engines.registry import KINDS, engine_for, parse_backend
from qa.index.store import IndexData, load_index
from qa.search.hybrid import Retriever
from tests.conftest import SEED, FakeEncoder

pytest.importorskip("qdrant_edge", reason="qdrant-edge-py is in the test extra: pip install -e '.[test]'")
pytest.importorskip("qdrant_client", reason="qdrant-client is in the test extra: pip install -e '.[test]'")

ENGINE_KINDS = [k for k in KINDS if k != "faiss"]  # compared with the in-process index
QUESTIONS = ["Ai chủ trì hội nghị?", "bi thu thanh uy la ai", "Năm 2017 thu ngân sách đạt bao nhiêu?",
             "Hồ Hoàn Kiếm nằm ở đâu", "song huong chay qua dau", "what is the capital of Vietnam"]


def backend(kind: str, tmp_path: Path) -> BackendSettings:
    """The engine's offline setting (the server engine: qdrant-client's local mode, same API, no server)."""
    return parse_backend(engine_for(kind).trial(tmp_path / "qdrant-storage"))


def close(data: IndexData) -> None:
    if data.backend is not None:
        data.backend.close()


@pytest.fixture
def docs(small_docs: Path) -> Path:
    shutil.copy(SEED, small_docs / "seed.txt")
    return small_docs


def answers(data: IndexData, enc: FakeEncoder) -> list[dict]:
    """`qa ask --json` objects, scores rounded to 3 decimals (the engines' float32 sums differ in the 7th)."""
    def rounded(x: object) -> object:
        if isinstance(x, dict):
            return {k: round(v, 3) if k == "score" and isinstance(v, float) else rounded(v) for k, v in x.items()}
        return [rounded(v) for v in x] if isinstance(x, list) else x

    a = Answerer(data, Retriever(data, enc))
    return [rounded(a.ask(q, top_k=5).to_dict()) for q in QUESTIONS]  # type: ignore[misc]


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_engine_backends_answer_like_the_in_process_index(kind: str, docs: Path, tmp_path: Path,
                                                         fake_encoder: FakeEncoder) -> None:
    build_index(docs, tmp_path / "ref", fake_encoder)
    ref = load_index(tmp_path / "ref")
    s = backend(kind, tmp_path)
    rep = build_index(docs, tmp_path / "idx", fake_encoder, BuildOptions(backend=s))
    data = load_index(tmp_path / "idx", s)
    assert data.backend is not None and data.backend.kind == kind and data.dense is None
    assert (rep.documents, rep.chunks, rep.sentences) == (4, len(ref.chunks), len(ref.sentence_vectors))
    assert data.chunks == ref.chunks and data.terms == ref.terms
    r0, r1 = Retriever(ref, fake_encoder), Retriever(data, fake_encoder)
    for q in QUESTIONS:
        a, b = r0.search(q, k=8), r1.search(q, k=8)
        assert [h.chunk_id for h in a.hits] == [h.chunk_id for h in b.hits], q
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-4)
        for h in a.hits:
            np.testing.assert_allclose(a.sentence_cos[h.chunk_id], b.sentence_cos[h.chunk_id], atol=1e-5)
    assert answers(ref, fake_encoder) == answers(data, fake_encoder)
    m = read_manifest(tmp_path / "idx")
    assert m.backend.kind == kind and m.backend.sparse["avgdl_norm"] > 0
    assert (tmp_path / "idx" / "qdrant_edge").is_dir() == (kind == "qdrant-edge")
    close(data)


@pytest.mark.parametrize("kind", KINDS)
def test_update_equals_a_full_build(kind: str, docs: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    s = backend(kind, tmp_path)
    o = BuildOptions(backend=s)
    build_index(docs, tmp_path / "idx", fake_encoder, o)
    (docs / "hue.txt").unlink()
    (docs / "hanoi.md").write_text("# Hà Nội\n\nHà Nội là thủ đô. Văn Miếu là trường đại học đầu tiên.", "utf-8")
    (docs / "dalat.txt").write_text("Đà Lạt là thành phố ngàn hoa trên cao nguyên Lâm Viên.", "utf-8")
    rep = update_index(docs, tmp_path / "idx", fake_encoder, o)
    assert not rep.full and (rep.added, rep.changed, rep.removed) == (["dalat.txt"], ["hanoi.md"], ["hue.txt"])
    assert rep.reused_documents == 2
    build_index(docs, tmp_path / "full", fake_encoder, o)
    questions = ["Đà Lạt là thành phố ngàn hoa", "Văn Miếu", "Sông Hương"] + QUESTIONS
    got = {}
    for name in ("idx", "full"):  # one at a time: qdrant-client's local mode locks its folder
        data = load_index(tmp_path / name, s)
        r = Retriever(data, fake_encoder)
        ranks = [[h.chunk_id for h in r.search(q, k=5).hits] for q in questions]
        got[name] = (data.chunks, sorted(data.documents), ranks)
        assert data.backend is None or data.backend.count() == len(data.chunks)  # type: ignore[attr-defined]
        close(data)
    (chunks, names, ranks), (f_chunks, f_names, f_ranks) = got["idx"], got["full"]
    assert chunks == f_chunks and names == f_names and "hue.txt" not in names
    assert [r[0] for r in ranks] == [r[0] for r in f_ranks]  # same best chunk (avgdl is the build's in an update)
    assert chunks[ranks[0][0]].doc_id == "dalat.txt"


def test_a_failed_update_leaves_the_live_edge_index_as_it_was(docs: Path, tmp_path: Path, fake_encoder: FakeEncoder,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    s = backend("qdrant-edge", tmp_path)
    build_index(docs, tmp_path / "idx", fake_encoder, BuildOptions(backend=s))
    before = (tmp_path / "idx" / "manifest.json").read_bytes()
    (docs / "hue.txt").unlink()
    (docs / "dalat.txt").write_text("Đà Lạt là thành phố ngàn hoa.", "utf-8")

    def boom(*a: object, **k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(QdrantEdgeBackend, "upsert", boom)
    with pytest.raises(OSError):
        update_index(docs, tmp_path / "idx", fake_encoder, BuildOptions(backend=s))
    assert (tmp_path / "idx" / "manifest.json").read_bytes() == before
    data = load_index(tmp_path / "idx", s)  # the deletes went to a staged copy of the shard, not the live one
    assert "hue.txt" in data.documents and data.backend is not None and data.backend.count() == len(data.chunks)
    assert not list(tmp_path.glob(".idx.new-*"))
    close(data)


def test_switching_backend_rebuilds_and_loading_names_the_mismatch(docs: Path, tmp_path: Path,
                                                                  fake_encoder: FakeEncoder) -> None:
    build_index(docs, tmp_path / "idx", fake_encoder)
    edge = backend("qdrant-edge", tmp_path)
    with pytest.raises(BackendMismatchError, match="built for backend faiss but QA_BACKEND is qdrant-edge"):
        load_index(tmp_path / "idx", edge)
    rep = update_index(docs, tmp_path / "idx", fake_encoder, BuildOptions(backend=edge))
    assert rep.full and read_manifest(tmp_path / "idx").backend.kind == "qdrant-edge"
    rep = update_index(docs, tmp_path / "idx", fake_encoder, BuildOptions())  # and back to in-process
    assert rep.full and read_manifest(tmp_path / "idx").backend.kind == "faiss"
    assert load_index(tmp_path / "idx").backend is None


def test_a_server_build_keeps_one_previous_collection(docs: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    from qa.index.engines.qdrant_server import connect

    s = backend("qdrant", tmp_path)
    names = []
    for _ in range(3):
        build_index(docs, tmp_path / "idx", fake_encoder, BuildOptions(backend=s))
        names.append(read_manifest(tmp_path / "idx").backend.collection)
    client = connect(s)
    have = {c.name for c in client.get_collections().collections}
    client.close()
    assert len(set(names)) == 3 and have == {names[1], names[2]}  # replicas on the old folder keep working
    assert read_manifest(tmp_path / "idx").backend.previous == names[1]


# --- bad input: one line naming the fix, the served index untouched --------------------------------

def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text and len(text) < 400
    return text


def test_unreachable_server_fails_before_any_work(docs: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    build_index(docs, tmp_path / "idx", fake_encoder)
    before = (tmp_path / "idx" / "manifest.json").read_bytes()
    bad = parse_backend("qdrant+http://127.0.0.1:9", timeout_s=2)
    enc = FakeEncoder()
    with pytest.raises(BackendError) as ei:
        build_index(docs, tmp_path / "idx", enc, BuildOptions(backend=bad))
    assert one_line(ei.value).startswith("cannot reach Qdrant at http://127.0.0.1:9") and "QA_BACKEND" in str(ei.value)
    assert enc.encoded == 0  # nothing was encoded
    assert (tmp_path / "idx" / "manifest.json").read_bytes() == before and load_index(tmp_path / "idx").chunks


class _Refuses(BaseHTTPRequestHandler):
    """Answers like a Qdrant server given a wrong API key."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"status": {"error": "Invalid api-key"}, "time": 0}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def test_wrong_api_key_names_the_setting(docs: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = parse_backend(f"qdrant+http://127.0.0.1:{server.server_port}", api_key="wrong")
        with pytest.raises(BackendError) as ei:
            build_index(docs, tmp_path / "idx", fake_encoder, BuildOptions(backend=s))
    finally:
        server.shutdown()
    assert "refused the API key (HTTP 403); set QA_QDRANT_API_KEY" in one_line(ei.value)
    assert not (tmp_path / "idx").exists()


def test_a_collection_of_another_model_is_refused(docs: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    class Small(FakeEncoder):
        name, dimension = "another-model", 32

    s = backend("qdrant", tmp_path)
    build_index(docs, tmp_path / "a", fake_encoder, BuildOptions(backend=s))
    build_index(docs, tmp_path / "b", Small(), BuildOptions(backend=s))
    # index a's folder now names b's collection (say, a cluster rebuilt by another deployment)
    m = json.loads((tmp_path / "a" / "manifest.json").read_text("utf-8"))
    m["backend"]["collection"] = read_manifest(tmp_path / "b").backend.collection
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(m), "utf-8")
    with pytest.raises(BackendError) as ei:
        load_index(tmp_path / "a", s)
    text = one_line(ei.value)
    assert "holds vectors of model another-model (dim 32)" in text and "run `qa index build`" in text
    # asking with another model than the index was built with is refused the same way
    data = load_index(tmp_path / "b", s)
    with pytest.raises(BackendError, match="use the model the index was built with"):
        Retriever(data, fake_encoder).search("Hà Nội")
    close(data)


def test_cli_reports_a_bad_backend_in_one_line(docs: Path, tmp_path: Path, fake_encoder: FakeEncoder,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import qa.model.encoder
    from qa.cli.main import main

    loads: list[int] = []
    monkeypatch.setattr(qa.model.encoder, "load_encoder", lambda *a, **k: loads.append(1) or fake_encoder)
    monkeypatch.setenv("QA_MODEL", "fake-encoder")
    monkeypatch.setenv("QA_BACKEND", "qdrant+http://127.0.0.1:9")
    monkeypatch.setenv("QA_QDRANT_TIMEOUT", "2")
    assert main(["index", "build", "--docs", str(docs), "--index", str(tmp_path / "idx"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot reach Qdrant at http://127.0.0.1:9")
    assert not loads  # refused before the model loads (seconds to minutes)
    monkeypatch.setenv("QA_BACKEND", "qdrant-edge")
    assert main(["index", "build", "--docs", str(docs), "--index", str(tmp_path / "idx"), "--quiet"]) == 0
    assert main(["index", "info", "--docs", str(docs), "--index", str(tmp_path / "idx")]) == 0
    out = capsys.readouterr().out
    assert "(ok)" in out and "backend:    qdrant-edge: shard" in out


# --- Ray: the same index as a local build -------------------------------------------------------------

_RAY_PROBE: list[str] = []


def _ray_starts_here(timeout: float = 180) -> None:
    """Skip (with the reason) when a local Ray cannot start on this machine at all: `ray.init` has no
    timeout of its own and waits forever for a GCS server that a starved or sandboxed machine never
    brings up. Probed once, in a child process, so a hang cannot take the suite with it."""
    import subprocess
    import sys

    if not _RAY_PROBE:
        code = "import ray; ray.init(include_dashboard=False, log_to_driver=False); ray.shutdown(); print('ok')"
        try:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
            _RAY_PROBE.append("ok" if out.stdout.strip().endswith("ok") else out.stderr.strip()[-300:])
        except subprocess.TimeoutExpired:
            _RAY_PROBE.append(f"ray.init did not finish in {timeout:.0f} s")
    if _RAY_PROBE[0] != "ok":
        pytest.skip(f"a local Ray does not start on this machine: {_RAY_PROBE[0]}")

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["faiss", "qdrant-edge"])
def test_ray_build_equals_a_local_build(kind: str, docs: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    pytest.importorskip("ray.data", reason="Ray Data is in the test extra: pip install -e '.[test]'")
    _ray_starts_here()
    from qa.index.build import RayOptions

    s = backend(kind, tmp_path)
    seen: list[tuple[int, int]] = []
    build_index(docs, tmp_path / "local", fake_encoder, BuildOptions(backend=s))
    rep = build_index(docs, tmp_path / "ray", fake_encoder, BuildOptions(backend=s, ray=RayOptions(batch_size=16)),
                      progress=lambda d, n: seen.append((d, n)))
    assert seen and seen[-1][0] == seen[-1][1] == rep.encoded_texts  # progress reached the end
    a, b = load_index(tmp_path / "local", s), load_index(tmp_path / "ray", s)
    assert a.chunks == b.chunks
    if kind == "faiss":
        np.testing.assert_array_equal(a.chunk_vectors, b.chunk_vectors)
        np.testing.assert_array_equal(a.sentence_vectors, b.sentence_vectors)
    assert answers(a, fake_encoder) == answers(b, fake_encoder)
    close(a)
    close(b)


def test_ray_refuses_workers_with_another_model(docs: Path, tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    from qa.index.build import RayOptions
    from qa.model.encoder import ModelOptions

    with pytest.raises(QAError, match="pass the same --model"):
        build_index(docs, tmp_path / "i", fake_encoder,
                    BuildOptions(ray=RayOptions(model=ModelOptions(model="intfloat/multilingual-e5-base"))))
