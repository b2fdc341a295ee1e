"""One contract for every registered engine (`qa.index.engines.registry.ENGINES`: in-process FAISS +
bm25s, Qdrant Edge, and a Qdrant server through qdrant-client's local mode, which speaks the server's
API). Each backend is opened the way a build opens it (`Engine.writer(...).open`), with the engine's
offline `trial` setting, so a new engine runs this suite by being registered.

Scores are checked against ground truth computed here: exact cosines from the stored vectors, and
BM25 from bm25s over the same chunks (the engine's IDF on hashed sparse weights must equal it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa.errors import ConfigError
from qa.index.catalogue.manifest import ModelFingerprint
from qa.index.engines.base import (
    BackendError,
    ChunkPoint,
    IndexBackend,
    Points,
    SearchRequest,
    chunk_points,
)
from qa.index.engines.dense import DenseParams
from qa.index.engines.inprocess import InProcessBackend
from qa.index.engines.lexical import LexicalIndex
from qa.index.engines.registry import ENGINES, KINDS, engine_for, parse_backend
from qa.index.engines.sparse import LexicalQuery, SparseParams
from qa.index.vectors import encode_chunks
from qa.ingest.chunking import ChunkingParams, chunk_document
from qa.ingest.documents import load_documents
from qa.schema import Chunk
from tests.conftest import SEED, SMALL_CORPUS, FakeEncoder

pytest.importorskip("qdrant_edge", reason="qdrant-edge-py is in the test extra: pip install -e '.[test]'")
pytest.importorskip("qdrant_client", reason="qdrant-client is in the test extra: pip install -e '.[test]'")

pytestmark = [pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
              pytest.mark.filterwarnings("ignore:Local mode performs exact")]
DIM = FakeEncoder.dimension
QUESTIONS = [("Hải Phòng là thành phố cảng", "hai phong la thanh pho cang", 0.5),
             ("thu ngân sách năm 2017", "thu ngan sach nam 2017", 1.0),
             ("Huế là cố đô", "hue la co do", 0.0),
             ("sông hương hồ hoàn kiếm", "song huong ho hoan kiem", 0.5)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Chunk], np.ndarray, np.ndarray, SparseParams]:
    """The small corpus plus the seed article, chunked small so there are many chunks, encoded by the fake."""
    d = tmp_path_factory.mktemp("docs")
    for name, text in SMALL_CORPUS.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "seed.txt").write_text(SEED.read_text("utf-8"), encoding="utf-8")
    docs = {x.doc_id: x for x in load_documents(d)}
    chunks = [c for x in docs.values() for c in chunk_document(x, ChunkingParams(max_chars=300, overlap_sentences=1))]
    cvec, svec = encode_chunks(FakeEncoder(), docs, chunks)
    return chunks, cvec, svec, SparseParams.fit(c.text for c in chunks)


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, corpus: tuple) -> Iterator[IndexBackend]:
    """An engine's backend as a build opens it, holding the corpus."""
    chunks, cvec, svec, params = corpus
    engine = engine_for(request.param)
    settings = parse_backend(engine.trial(tmp_path / "engine"))
    writer = engine.writer(settings, tmp_path / "idx", ModelFingerprint("fake-encoder", DIM, "none"), DenseParams())
    (tmp_path / "stage").mkdir()
    b = writer.open(tmp_path / "stage", chunks)
    assert b.kind == engine.kind and b.dimension == DIM and b.count() == 0
    assert writer.params in (None, params)  # the build's BM25 constants, or none (the engine's own BM25)
    b.upsert(list(chunk_points(chunks, cvec, svec, params)))
    b.optimize()
    yield b
    b.close()
    writer.abort()


def test_every_engine_has_a_scheme(tmp_path: Path) -> None:
    assert [e.kind for e in ENGINES] == list(KINDS) and len(set(KINDS)) == len(KINDS)
    for e in ENGINES:
        assert parse_backend(e.trial(tmp_path)).kind == e.kind
        assert e.usage in str(pytest.raises(ConfigError, parse_backend, "nosuch").value)


def test_points_as_columns_equal_single_points(corpus: tuple) -> None:
    chunks, cvec, svec, params = corpus
    cols = Points(chunks, cvec, svec, params)
    one = list(chunk_points(chunks, cvec, svec, params))
    assert len(cols) == len(one) and len(cols[3:9]) == 6
    for a, b in zip(cols[3:9], one[3:9], strict=True):
        assert a.id == b.id and a.chunk == b.chunk
        np.testing.assert_array_equal(a.sentences, b.sentences)
        np.testing.assert_array_equal(a.sparse.indices, b.sparse.indices)


def truth(chunks: list[Chunk], cvec: np.ndarray, svec: np.ndarray) -> tuple[dict, LexicalIndex, np.ndarray]:
    """Per point id: (chunk row, its sentence vectors); bm25s over the chunks; sentence offsets."""
    pts = list(chunk_points(chunks, cvec, svec, SparseParams()))
    return {p.id: (i, p.sentences) for i, p in enumerate(pts)}, LexicalIndex.build([c.text for c in chunks]), \
        np.array([p.id for p in pts])


def request(enc: FakeEncoder, accented: str, folded: str, w: float, **kw: object) -> SearchRequest:
    return SearchRequest(enc.encode_queries([accented, folded]), LexicalQuery(accented, folded, w), **kw)  # type: ignore[arg-type]


def test_counts_per_document(backend: IndexBackend, corpus: tuple) -> None:
    chunks = corpus[0]
    assert backend.count() == len(chunks)
    for doc in {c.doc_id for c in chunks}:
        assert backend.count(doc) == sum(c.doc_id == doc for c in chunks)


@pytest.mark.parametrize("question", QUESTIONS)
def test_scores_are_exact_cosines_and_bm25(backend: IndexBackend, corpus: tuple,
                                           question: tuple[str, str, float]) -> None:
    chunks, cvec, svec, _ = corpus
    rows, lx, _ = truth(chunks, cvec, svec)
    enc = FakeEncoder()
    req = request(enc, *question, candidates=8, exact_below=0)
    got = backend.search(req)
    assert got.ids.size and got.best_sentence is not None
    w = req.lexical.weights()
    bm25 = w["norm"] * lx.scores(req.lexical.norm_text, "norm") + w["folded"] * lx.scores(req.lexical.folded_text,
                                                                                          "folded")
    for pid, dense, lexical, best in zip(got.ids, got.dense, got.lexical, got.best_sentence, strict=True):
        row, sent = rows[int(pid)]
        assert dense == pytest.approx(float((cvec[row] @ req.vectors.T).max()), abs=1e-5)
        assert best == pytest.approx(float((sent @ req.vectors.T).max()), abs=1e-5)
        assert lexical == pytest.approx(float(bm25[row]), rel=1e-4, abs=1e-5)  # engine IDF x app weights = bm25s


def test_candidates_hold_each_retrievers_top_k(backend: IndexBackend, corpus: tuple) -> None:
    chunks, cvec, svec, _ = corpus
    rows, lx, ids = truth(chunks, cvec, svec)
    enc = FakeEncoder()
    k = 5
    for q in QUESTIONS:
        req = request(enc, *q, candidates=k, exact_below=0)
        got = set(backend.search(req).ids.tolist())
        dense = (cvec @ req.vectors.T).max(axis=1)
        w = req.lexical.weights()
        lex = w["norm"] * lx.scores(req.lexical.norm_text, "norm") + w["folded"] * lx.scores(req.lexical.folded_text,
                                                                                             "folded")
        assert set(ids[np.argsort(-dense)[:3]].tolist()) <= got  # the first few are safe from ANN misses
        top_lex = [i for i in np.argsort(-lex)[:3] if lex[i] > 0]
        assert set(ids[top_lex].tolist()) <= got


def test_sentence_cosines_for_given_points(backend: IndexBackend, corpus: tuple) -> None:
    chunks, cvec, svec, _ = corpus
    rows, _, ids = truth(chunks, cvec, svec)
    q = FakeEncoder().encode_queries(["Hồ Hoàn Kiếm nằm ở đâu", "ho hoan kiem nam o dau"])
    pick = ids[[0, 3, len(ids) - 1]]
    for pid, cos in zip(pick, backend.sentence_cosines(pick, q), strict=True):
        row, sent = rows[int(pid)]
        assert cos.shape == (len(chunks[row].sentences),)
        np.testing.assert_allclose(cos, (sent @ q.T).max(axis=1), atol=1e-5)


def test_filter_by_document(backend: IndexBackend, corpus: tuple) -> None:
    chunks = corpus[0]
    rows, _, _ = truth(chunks, corpus[1], corpus[2])
    got = backend.search(request(FakeEncoder(), "thành phố", "thanh pho", 0.5, doc_ids=frozenset({"hanoi.md"})))
    assert got.ids.size == sum(c.doc_id == "hanoi.md" for c in chunks)
    assert {chunks[rows[int(i)][0]].doc_id for i in got.ids} == {"hanoi.md"}


def test_question_without_known_words_still_gets_dense_candidates(backend: IndexBackend) -> None:
    got = backend.search(request(FakeEncoder(), "zzqx wvvk", "zzqx wvvk", 0.5, candidates=4, exact_below=0))
    assert 0 < got.ids.size and not got.lexical.any()


def test_upsert_replaces_and_delete_removes_a_document(backend: IndexBackend, corpus: tuple) -> None:
    chunks, cvec, svec, params = corpus
    pts = list(chunk_points(chunks, cvec, svec, params))
    first = pts[0]
    flipped = ChunkPoint(first.id, first.chunk, -first.vector, first.sentences, first.sparse)
    backend.upsert([flipped])
    assert backend.count() == len(chunks)  # same id: replaced, not added
    q = first.vector[None, :].astype(np.float32)
    got = backend.search(SearchRequest(q, LexicalQuery("", "", 0.5), candidates=len(chunks), exact_below=0))
    assert float(got.dense[list(got.ids).index(first.id)]) == pytest.approx(-1.0, abs=1e-5)

    backend.delete_documents(["seed.txt"])
    backend.optimize()
    rest = [c for c in chunks if c.doc_id != "seed.txt"]
    assert backend.count() == len(rest) and backend.count("seed.txt") == 0
    # BM25 statistics follow the remaining chunks: deleted points no longer count in the IDF
    kept = {p.id: p for p in pts if p.chunk.doc_id != "seed.txt"}
    req = request(FakeEncoder(), "Hà Nội là thủ đô", "ha noi la thu do", 0.5, candidates=len(rest), exact_below=0)
    got = backend.search(req)
    assert got.ids.size and all(int(i) in kept for i in got.ids)
    if isinstance(backend, InProcessBackend):  # bm25s is rebuilt over what is left (its avgdl too)
        lx = LexicalIndex.build([c.text for c in rest])
        w = req.lexical.weights()
        bm25 = w["norm"] * lx.scores(req.lexical.norm_text, "norm") + w["folded"] * lx.scores(
            req.lexical.folded_text, "folded")
        want = {pid: float(bm25[n]) for n, pid in enumerate(kept)}
    else:  # an engine: IDF over what is left, times the weights stored at upsert (the build's avgdl)
        want = {pid: engine_bm25(req.lexical, [p.sparse for p in kept.values()], p.sparse) for pid, p in kept.items()}
    for pid, lexical in zip(got.ids, got.lexical, strict=True):
        assert lexical == pytest.approx(want[int(pid)], rel=1e-4, abs=1e-5)


def engine_bm25(query: LexicalQuery, corpus: list, doc: object) -> float:
    """Σ query weight · ln(1 + (N - df + 0.5) / (df + 0.5)) · document weight, over shared term ids."""
    df = Counter(i for v in corpus for i in v.indices.tolist())
    n = len(corpus)
    d = dict(zip(doc.indices.tolist(), doc.values.tolist(), strict=True))  # type: ignore[attr-defined]
    q = query.vector()
    return sum(qv * math.log(1 + (n - df[i] + 0.5) / (df[i] + 0.5)) * d[i]
               for i, qv in zip(q.indices.tolist(), q.values.tolist(), strict=True) if i in d)


def test_wrong_dimension_is_a_clear_error(backend: IndexBackend) -> None:
    with pytest.raises(BackendError, match="another model") as ei:
        backend.search(SearchRequest(np.ones((1, DIM * 2), np.float32), LexicalQuery("a", "a", 0.5)))
    assert "\n" not in str(ei.value) and "qa index build" in str(ei.value)


def test_edge_shard_persists_and_reopens(tmp_path: Path, corpus: tuple) -> None:
    from qa.index.engines.qdrant_edge import QdrantEdgeBackend

    chunks, cvec, svec, params = corpus
    b = QdrantEdgeBackend(tmp_path / "s", DIM, create=True)
    b.upsert(list(chunk_points(chunks, cvec, svec, params)))
    b.optimize()
    req = request(FakeEncoder(), *QUESTIONS[0], candidates=6, exact_below=0)
    before = b.search(req)
    b.close()
    again = QdrantEdgeBackend(tmp_path / "s", DIM)
    also = QdrantEdgeBackend(tmp_path / "s", DIM)  # a second process (app worker) may read the same shard
    after = again.search(req)
    assert again.count() == also.count() == len(chunks)
    np.testing.assert_array_equal(before.ids, after.ids)
    np.testing.assert_allclose(before.lexical, after.lexical, rtol=1e-6)
    again.close()
    also.close()
    with pytest.raises(BackendError, match="qa index build"):
        QdrantEdgeBackend(tmp_path / "s", DIM * 2)  # a shard of other vectors is refused, not reused
