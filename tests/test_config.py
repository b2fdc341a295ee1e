"""Configuration (qa.config): every QA_* variable read once into typed settings; bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import ConfigError
from qa.index.engines.dense import DenseParams


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert (s.docs_dir, s.index_dir, s.auto_build) == (Path("seeds"), Path("index"), "stale")
    assert s.max_question_chars == 1000
    assert (s.model.model, s.model.cache_dir, s.model.threads, s.model.fast_query) == ("default", None, 0, True)
    assert (s.build.encode, s.build.dense) == ("sentences", DenseParams())
    w = s.web
    assert (w.host, w.port, w.rate_limit, w.rate_limit_burst) == ("127.0.0.1", 7860, 60, 10)
    assert not w.rate_limit_loopback
    assert w.allowed_origins == ("http://localhost:*", "http://127.0.0.1:*")


def test_every_variable_is_read() -> None:
    env = {
        "QA_DOCS_DIR": "my_docs", "QA_INDEX_DIR": "my_index", "QA_AUTO_BUILD": "never",
        "QA_MAX_QUESTION_CHARS": "20", "QA_MODEL": "intfloat/multilingual-e5-base", "QA_MODEL_CACHE": "/tmp/m",
        "QA_THREADS": "1", "QA_FAST_QUERY": "off", "HF_HUB_OFFLINE": "1", "QA_ENCODE": "both",
        "QA_DENSE_KIND": "hnsw", "QA_HNSW_FROM": "10", "QA_IVF_FROM": "100", "QA_HOST": "0.0.0.0", "QA_PORT": "8000",
        "QA_ALLOWED_ORIGINS": "https://*.example.com", "QA_RATE_LIMIT": "0", "QA_RATE_LIMIT_BURST": "3",
        "QA_RATE_LIMIT_LOOPBACK": "yes", "FORCE_COLOR": "1",
    }
    s = Settings.from_env(env)
    assert (s.docs_dir, s.index_dir, s.auto_build, s.max_question_chars) == (Path("my_docs"), Path("my_index"),
                                                                          "never", 20)
    m = s.model
    assert (m.model, m.cache_dir, m.threads, m.fast_query, m.offline) == ("intfloat/multilingual-e5-base",
                                                                          Path("/tmp/m"), 1, False, True)
    assert s.build.encode == "both"
    assert (s.build.dense.kind, s.build.dense.hnsw_from, s.build.dense.ivf_from) == ("hnsw", 10, 100)
    w = s.web
    assert (w.host, w.port, w.allowed_origins) == ("0.0.0.0", 8000, ("https://*.example.com",))
    assert (w.rate_limit, w.rate_limit_burst, w.rate_limit_loopback, s.force_color) == (0, 3, True, True)


@pytest.mark.parametrize(("env", "message"), [
    ({"QA_ENCODE": "pooled"}, "QA_ENCODE='pooled'; use one of sentences, both, chunks"),
    ({"QA_AUTO_BUILD": "maybe"}, "QA_AUTO_BUILD='maybe'; use one of never, missing, stale"),
    ({"QA_DENSE_KIND": "annoy"}, "QA_DENSE_KIND='annoy'; use one of auto, flat, hnsw, ivf"),
    ({"QA_PORT": "http"}, "QA_PORT='http' is not a whole number; the default is 7860"),
    ({"QA_PORT": "70000"}, "QA_PORT=70000 is out of range; use a number from 1 to 65535 (default 7860)"),
    ({"QA_RATE_LIMIT": "lots"}, "QA_RATE_LIMIT='lots' is not a whole number; the default is 60"),
    ({"QA_RATE_LIMIT": "-5"}, "QA_RATE_LIMIT=-5 is out of range; use a number from 0 up (default 60)"),
    ({"QA_MAX_QUESTION_CHARS": "0"}, "QA_MAX_QUESTION_CHARS=0 is out of range; use a number from 1 up"),
    ({"QA_FAST_QUERY": "maybe"}, "QA_FAST_QUERY='maybe'; use 1 or 0"),
    ({"QA_ALLOWED_ORIGINS": "example.com"}, "allowed origin 'example.com' (QA_ALLOWED_ORIGINS) is not an origin"),
])
def test_bad_values_name_the_variable_and_the_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as ei:
        Settings.from_env(env)
    assert str(ei.value).startswith(message)


def test_flags_win_over_the_environment() -> None:
    s = Settings.from_env({"QA_INDEX_DIR": "a", "QA_MODEL": "m1", "QA_PORT": "8000"})
    o = s.override(index="b", model="m2", device="cuda", port=9000, auto_build="missing")
    assert (o.index_dir, o.model.model, o.model.device, o.web.port, o.auto_build) == (Path("b"), "m2", "cuda", 9000,
                                                                                     "missing")
    assert s.override() == s  # None leaves every setting alone
    with pytest.raises(ConfigError, match="port 0 is out of range"):
        s.override(port=0)


def test_library_reads_no_environment() -> None:
    """Only qa/config.py touches os.environ; everything below gets typed settings."""
    root = Path(__file__).resolve().parents[1] / "qa"
    readers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "os.environ" in p.read_text("utf-8"))
    assert readers == ["config.py"]
