"""Configuration, read once at the edge: every `QA_*` variable becomes a typed, frozen setting.

The CLI and `app.py` call `Settings.from_env()` and pass the result (or the parts each layer needs)
down; nothing below this module reads the environment.

>>> s = Settings.from_env({"QA_DOCS_DIR": "docs", "QA_ENCODE": "both", "QA_PORT": "8000"})
>>> str(s.docs_dir), s.build.encode, s.web.port, s.model.model
('docs', 'both', 8000, 'default')
>>> Settings.from_env({"QA_ENCODE": "pooled"})
Traceback (most recent call last):
qa.errors.ConfigError: QA_ENCODE='pooled'; use one of sentences, both, chunks
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from qa.errors import ConfigError
from qa.index.build import BuildOptions
from qa.index.engines.base import QUANTIZATIONS
from qa.index.engines.dense import DenseKind
from qa.index.engines.registry import parse_backend
from qa.index.vectors import EncodeMode
from qa.model.encoder import ModelOptions
from qa.search.learned import RANKINGS, RankingSettings
from qa.web.security import DEFAULT_ORIGINS, parse_origins

AutoBuild = Literal["never", "missing", "stale"]  # what a start does with a missing or stale index
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class WebSettings:
    """The web server: where it listens, who may embed it, how hard clients may push."""

    host: str = "127.0.0.1"
    port: int = 7860
    allowed_origins: tuple[str, ...] = DEFAULT_ORIGINS
    rate_limit: int = 60  # requests per minute per client on /api/* (0 = off)
    rate_limit_burst: int = 10
    rate_limit_loopback: bool = False  # loopback clients are exempt unless this is set
    reload_interval: int = 2  # seconds between checks for a new index on disk (0 = never)
    admin_token: str = field(default="", repr=False)  # the operator page is off unless this is set
    admin_max_upload_mb: int = 20  # largest document the operator page accepts


@dataclass(frozen=True)
class Settings:
    """Everything configurable, grouped by the layer that uses it."""

    docs_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    auto_build: AutoBuild = "stale"  # missing: build when missing or damaged; stale: also update when out of date
    max_question_chars: int = 1000
    reader: str = "default"  # the span reader: "default" (shipped), "off", or a folder from `qa reader train`
    batch_wait_ms: int = 4  # concurrent questions wait up to this long to share one encoder pass (0 = off)
    batch_max: int = 32  # most questions in one shared encoder pass
    model: ModelOptions = field(default_factory=ModelOptions)
    build: BuildOptions = field(default_factory=BuildOptions)
    web: WebSettings = field(default_factory=WebSettings)
    ranking: RankingSettings = field(default_factory=RankingSettings)
    force_color: bool = False  # FORCE_COLOR: colour terminal output even when not a TTY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read `QA_*` from `env` (default: the process environment); ConfigError names a bad value."""
        e = _Env(os.environ if env is None else env)
        d, m, b, w = cls(), ModelOptions(), BuildOptions(), WebSettings()
        cache = e.text("QA_MODEL_CACHE", "")
        ranker = e.text("QA_RANKER", "")
        return cls(
            docs_dir=Path(e.text("QA_DOCS_DIR", str(d.docs_dir))),
            index_dir=Path(e.text("QA_INDEX_DIR", str(d.index_dir))),
            auto_build=e.choice("QA_AUTO_BUILD", d.auto_build, get_args(AutoBuild)),
            max_question_chars=e.number("QA_MAX_QUESTION_CHARS", d.max_question_chars, low=1),
            reader=e.text("QA_READER", d.reader),
            batch_wait_ms=e.number("QA_BATCH_WAIT_MS", d.batch_wait_ms, low=0, high=1000),
            batch_max=e.number("QA_BATCH_MAX", d.batch_max, low=1, high=1024),
            model=ModelOptions(
                model=e.text("QA_MODEL", m.model),
                cache_dir=Path(cache).expanduser() if cache else None,
                threads=e.number("QA_THREADS", m.threads, low=0),
                fast_query=e.flag("QA_FAST_QUERY", m.fast_query),
                query_tower=e.text("QA_QUERY_TOWER", m.query_tower),
                offline=e.flag("HF_HUB_OFFLINE", m.offline),
            ),
            build=replace(
                b,
                encode=e.choice("QA_ENCODE", b.encode, get_args(EncodeMode)),
                dense=replace(
                    b.dense,
                    kind=e.choice("QA_DENSE_KIND", b.dense.kind, get_args(DenseKind)),
                    hnsw_from=e.number("QA_HNSW_FROM", b.dense.hnsw_from, low=0),
                    ivf_from=e.number("QA_IVF_FROM", b.dense.ivf_from, low=0),
                ),
                backend=parse_backend(
                    e.text("QA_BACKEND", "faiss"),
                    api_key=e.env.get("QA_QDRANT_API_KEY", "").strip(),
                    collection=e.text("QA_QDRANT_COLLECTION", b.backend.collection),
                    timeout_s=e.number("QA_QDRANT_TIMEOUT", b.backend.timeout_s, low=1),
                    shards=e.number("QA_QDRANT_SHARDS", b.backend.shards, low=0),
                    replication=e.number("QA_QDRANT_REPLICATION", b.backend.replication, low=1),
                    on_disk=e.flag("QA_QDRANT_ON_DISK", b.backend.on_disk),
                    quantization=e.choice("QA_QDRANT_QUANTIZATION", b.backend.quantization, QUANTIZATIONS),
                ),
            ),
            web=WebSettings(
                host=e.text("QA_HOST", w.host),
                port=e.number("QA_PORT", w.port, low=1, high=65535),
                allowed_origins=tuple(parse_origins(e.text("QA_ALLOWED_ORIGINS", ""))),
                rate_limit=e.number("QA_RATE_LIMIT", w.rate_limit, low=0),
                rate_limit_burst=e.number("QA_RATE_LIMIT_BURST", w.rate_limit_burst, low=0),
                rate_limit_loopback=e.flag("QA_RATE_LIMIT_LOOPBACK", w.rate_limit_loopback),
                reload_interval=e.number("QA_RELOAD_INTERVAL", w.reload_interval, low=0, high=3600),
                admin_token=_admin_token(e.env.get("QA_ADMIN_TOKEN", "")),
                admin_max_upload_mb=e.number("QA_ADMIN_MAX_UPLOAD_MB", w.admin_max_upload_mb, low=1, high=1024),
            ),
            ranking=RankingSettings(ranking=e.choice("QA_RANKING", RankingSettings().ranking, RANKINGS),
                                    folder=Path(ranker).expanduser() if ranker else None),
            force_color=bool(e.text("FORCE_COLOR", "")),
        )

    def override(self, *, docs: str | Path | None = None, index: str | Path | None = None,
                 model: str | None = None, device: str | None = None, auto_build: str | None = None,
                 host: str | None = None, port: int | None = None) -> Settings:
        """Command-line flags win over the environment; None leaves a setting as it is.

        >>> Settings().override(index="/tmp/i", model="intfloat/multilingual-e5-base").model.model
        'intfloat/multilingual-e5-base'
        """
        s = self
        if docs is not None:
            s = replace(s, docs_dir=Path(docs))
        if index is not None:
            s = replace(s, index_dir=Path(index))
        if model is not None or device is not None:
            s = replace(s, model=replace(s.model, model=model or s.model.model, device=device or s.model.device))
        if auto_build is not None:
            _Env.check_choice("auto_build", auto_build, get_args(AutoBuild))
            s = replace(s, auto_build=auto_build)  # type: ignore[arg-type]
        if host is not None or port is not None:
            if port is not None and not 1 <= port <= 65535:
                raise ConfigError(f"port {port} is out of range; use a number from 1 to 65535")
            s = replace(s, web=replace(s.web, host=host or s.web.host, port=port or s.web.port))
        return s


MIN_ADMIN_TOKEN = 16


def _admin_token(raw: str) -> str:
    """QA_ADMIN_TOKEN: empty (operator page off) or a secret of at least MIN_ADMIN_TOKEN characters."""
    token = raw.strip()
    if token and (len(token) < MIN_ADMIN_TOKEN or not token.isprintable()):
        raise ConfigError(f"QA_ADMIN_TOKEN is too short or has control characters; use at least {MIN_ADMIN_TOKEN} "
                          "printable characters, e.g. the output of "
                          "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`")
    return token


class _Env:
    """Typed reads from a mapping; every error names the variable, the bad value and what to use."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str) -> str:
        return self.env.get(name, "").strip() or default

    def number(self, name: str, default: int, low: int | None = None, high: int | None = None) -> int:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a whole number; the default is {default}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low}" + (f" to {high}" if high is not None else " up")
            raise ConfigError(f"{name}={value} is out of range; use a number {bounds} (default {default})")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in _TRUE or raw in _FALSE:
            return raw in _TRUE
        raise ConfigError(f"{name}={raw!r}; use 1 or 0 (also true/false, yes/no, on/off)")

    def choice(self, name: str, default: str, options: tuple[Any, ...]) -> Any:
        value = self.env.get(name, "").strip() or default
        self.check_choice(name, value, options)
        return value

    @staticmethod
    def check_choice(name: str, value: str, options: tuple[Any, ...]) -> None:
        if value not in options:
            raise ConfigError(f"{name}={value!r}; use one of {', '.join(options)}")
