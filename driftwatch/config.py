"""YAML configuration -> validated pydantic models.

Loading happens in three steps so that every problem can be reported at once,
each with its path (``collections[0].schedule.probe: invalid duration '5x'``):

1. read and parse YAML;
2. interpolate ``${VAR}`` / ``${VAR:-default}`` from the environment in every
   string value (a missing variable is a problem naming the variable and path);
3. validate with pydantic, then check cross references (stores, embedders).

Secrets (API keys, webhook URLs) are ``SecretStr``: their values never appear
in ``repr``, error messages or ``driftwatch config validate`` output.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from driftwatch.errors import ConfigError

DEFAULT_CONFIG_FILE = "driftwatch.yaml"
CONFIG_ENV_VAR = "DRIFTWATCH_CONFIG"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """``30s``, ``5m``, ``1h30m``, ``7d`` or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"invalid duration {value!r}: must be positive")
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        text = value.strip().lower()
        pos, total = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text and pos == len(text) and total > 0:
            return timedelta(seconds=total)
    raise ValueError(f"invalid duration {value!r} (use e.g. 30s, 5m, 1h, 7d)")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- embedders ---------------------------------------------------------------


class OnnxEmbedderConfig(_Strict):
    kind: Literal["onnx"]
    model: str = Field(min_length=1, description="name recorded in baselines and metrics")
    path: str | None = Field(
        default=None,
        description="model file, or a preset name (all-MiniLM-L6-v2, paraphrase-MiniLM-L3-v2)",
    )
    tokenizer: str | None = None
    # batch_size and threads: fastest measured by benchmarks/onnx_embedder.py (docs/embedders.md)
    batch_size: int = Field(default=8, ge=1, le=1024)
    max_length: int = Field(default=256, ge=8, le=8192)
    # Padded tokens per batch (batch_size x longest text): bounds the working memory.
    max_batch_tokens: int = Field(default=512, ge=8, le=1_000_000)
    threads: int = Field(default=2, ge=1, le=64, description="onnxruntime intra-op threads")
    # speed: onnxruntime's constant folding dequantizes an int8 model's weights once at
    # load (all-MiniLM-L6-v2 int8: +97 MB resident). memory: they stay int8 (+33 MB) but
    # are dequantized again on every batch: a ~90 MB transient and ~2.8x the CPU time.
    # Same vectors either way (docs/embedders.md has the measurements).
    optimize_for: Literal["speed", "memory"] = "speed"


class OpenAIEmbedderConfig(_Strict):
    kind: Literal["openai"]
    model: str = Field(min_length=1)
    base_url: str = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    dimensions: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=64, ge=1, le=2048)
    timeout: Duration = timedelta(seconds=30)
    connect_timeout: Duration = timedelta(seconds=5)
    max_retries: int = Field(default=4, ge=0, le=20)
    retry_backoff: Duration = Field(
        default=timedelta(milliseconds=500), description="first retry delay; doubles, jittered"
    )


class ChromaEmbedderConfig(_Strict):
    """The collection's own embedding function, as the application configured it."""

    kind: Literal["chroma"]
    model: str = Field(min_length=1)


EmbedderConfig = Annotated[
    OnnxEmbedderConfig | OpenAIEmbedderConfig | ChromaEmbedderConfig,
    Field(discriminator="kind"),
]


# --- stores ------------------------------------------------------------------


class ChromaStoreConfig(_Strict):
    kind: Literal["chroma"] = "chroma"
    path: str | None = None
    url: str | None = None
    tenant: str = "default_tenant"
    database: str = "default_database"
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: Duration = timedelta(seconds=30)
    page_size: int = Field(default=5000, ge=1, le=32_766)  # Chroma: "too many SQL variables" above

    @model_validator(mode="after")
    def _one_location(self) -> ChromaStoreConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of 'path' (embedded) or 'url' (server)")
        return self


StoreConfig = Annotated[ChromaStoreConfig, Field(discriminator="kind")]


# --- collections -------------------------------------------------------------


class CanaryConfig(_Strict):
    query: str = Field(min_length=1)
    expect: list[str] = Field(default_factory=list)


class ScheduleConfig(_Strict):
    probe: Duration = timedelta(minutes=5)
    version_mix: Duration = timedelta(hours=1)
    jitter: Duration = timedelta(seconds=10)


class ThresholdsConfig(_Strict):
    """Verdict thresholds; defaults are calibrated on real model pairs (see README)."""

    fingerprint_identical: float = Field(default=0.9999, gt=0, le=1)
    fingerprint_replaced: float = Field(default=0.80, gt=-1, le=1)
    consistency_match: float = Field(default=0.75, gt=-1, le=1)
    consistency_min_ratio: float = Field(default=0.95, ge=0, le=1)
    consistency_warn_ratio: float = Field(default=0.99, ge=0, le=1)
    canary_min_overlap: float = Field(default=0.5, ge=0, le=1)
    canary_min_rbo: float = Field(default=0.5, ge=0, le=1)
    canary_min_recall: float = Field(default=0.5, ge=0, le=1)
    canary_max_similarity_drop: float = Field(
        default=0.25, ge=0, le=1, description="relative drop of mean top-k canary similarity"
    )
    score_ks_pvalue: float = Field(default=0.001, gt=0, lt=1)
    score_psi: float = Field(default=0.25, gt=0)
    score_min_samples: int = Field(default=50, ge=5)
    unexpected_model_share: float = Field(default=0.0, ge=0, le=1)


class CollectionConfig(_Strict):
    store: str
    name: str = Field(min_length=1)
    embedder: str
    model_key: str = "embedding_model"
    version_key: str = "embedding_version"
    expected_model: str | None = None
    canaries: list[CanaryConfig] = Field(default_factory=list)
    fingerprint_texts: list[str] = Field(default_factory=list)
    top_k: int = Field(default=10, ge=1, le=100)
    sample_size: int = Field(default=300, ge=10, le=100_000)
    score_window: int = Field(default=12, ge=1, le=1000, description="probes in the window")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    thresholds: ThresholdsConfig = Field(default_factory=ThresholdsConfig)
    checks: list[str] | None = Field(
        default=None, description="run only these checks (default: all that apply)"
    )


# --- deprecation feeds -------------------------------------------------------


class ModelConfig(_Strict):
    id: str = Field(min_length=1)
    provider: str = "unknown"
    aliases: list[str] = Field(default_factory=list)


class FeedConfig(_Strict):
    url: str = Field(min_length=1)
    name: str | None = None
    provider: str | None = None
    interval: Duration = timedelta(hours=6)
    timeout: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    @property
    def label(self) -> str:
        """Low-cardinality name used in metrics and logs."""
        return self.name or _feed_label_from_url(self.url)


def _feed_label_from_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.hostname or "feed") + (parts.path.rstrip("/") or "")


# --- alerting ----------------------------------------------------------------

Severity = Literal["info", "warning", "critical"]


class SlackConfig(_Strict):
    webhook_url: SecretStr
    min_severity: Severity = "warning"
    renotify: Duration = timedelta(hours=4)
    timeout: Duration = timedelta(seconds=10)
    max_attempts: int = Field(default=12, ge=1, description="then kept as undeliverable")
    channel_name: str = Field(default="slack", description="label in metrics")


class AlertsConfig(_Strict):
    slack: SlackConfig | None = None
    runbook_base_url: str = "https://github.com/driftwatch/driftwatch/blob/main/alerts/runbook.md"


# --- top level ---------------------------------------------------------------


class Config(_Strict):
    state_url: str = "sqlite:///driftwatch.db"
    listen: str = "127.0.0.1:9464"
    retention: Duration = timedelta(days=30)
    embedders: dict[str, EmbedderConfig] = Field(default_factory=dict)
    stores: dict[str, StoreConfig] = Field(default_factory=dict)
    collections: list[CollectionConfig] = Field(default_factory=list)
    models: list[ModelConfig] = Field(default_factory=list)
    feeds: list[FeedConfig] = Field(default_factory=list)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

    @field_validator("listen")
    @classmethod
    def _listen_is_host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"invalid listen address {value!r} (expected host:port)")
        return value

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def collection(self, name: str) -> CollectionConfig:
        for coll in self.collections:
            if coll.name == name:
                return coll
        known = ", ".join(c.name for c in self.collections) or "none"
        raise ConfigError([f"collections: no collection named {name!r} (configured: {known})"])


# --- loading -----------------------------------------------------------------

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_PLACEHOLDER = re.compile(r"__dwenv(\d+)__")


def _protect_references(text: str) -> tuple[str, list[tuple[str | None, str | None]]]:
    """Swap each ${VAR} for a plain token before YAML parsing.

    ``{webhook_url: ${SLACK_WEBHOOK_URL}}`` is not valid YAML as written (the
    braces end the flow mapping), yet it is the natural way to write it. Tokens
    are substituted after parsing, so a value is never parsed as YAML itself and
    a missing variable can be reported with its config path.
    """
    refs: list[tuple[str | None, str | None]] = []

    def token(match: re.Match[str]) -> str:
        refs.append((None, None) if match.group(0) == "$$" else (match.group(1), match.group(2)))
        return f"__dwenv{len(refs) - 1}__"

    return _ENV_REF.sub(token, text), refs


def _interpolate(
    value: Any,
    path: str,
    env: Mapping[str, str],
    refs: list[tuple[str | None, str | None]],
    problems: list[str],
) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = refs[int(match.group(1))]
            if name is None:
                return "$"
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(f"{path or '<root>'}: environment variable {name} is not set")
            return ""

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, dict):
        return {
            k: _interpolate(v, _join(path, str(k)), env, refs, problems) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", env, refs, problems) for i, v in enumerate(value)]
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_UNION_TAGS = {"onnx", "openai", "chroma"}


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # Discriminated unions put the tag into the location
        # (embedders.live.onnx.path); users never wrote that level.
        if i == 2 and part in _UNION_TAGS and loc[0] in ("embedders", "stores"):
            continue
        out = _join(out, part)
    return out or "<root>"


def _format_validation_error(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        msg = str(err["msg"])
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        problems.append(f"{_format_loc(tuple(err['loc']))}: {msg}")
    return problems


def _cross_references(cfg: Config) -> list[str]:
    problems = []
    stores, embedders = sorted(cfg.stores), sorted(cfg.embedders)
    seen: set[tuple[str, str]] = set()
    for i, coll in enumerate(cfg.collections):
        if coll.store not in cfg.stores:
            known = ", ".join(stores) or "none configured"
            problems.append(
                f"collections[{i}].store: unknown store {coll.store!r} (known: {known})"
            )
        if coll.embedder not in cfg.embedders:
            known = ", ".join(embedders) or "none configured"
            problems.append(
                f"collections[{i}].embedder: unknown embedder {coll.embedder!r} (known: {known})"
            )
        key = (coll.store, coll.name)
        if key in seen:
            problems.append(f"collections[{i}].name: collection {coll.name!r} listed twice")
        seen.add(key)
        if coll.checks is not None:
            from driftwatch.checks.registry import CHECKS

            for j, name in enumerate(coll.checks):
                if name not in CHECKS:
                    problems.append(
                        f"collections[{i}].checks[{j}]: unknown check {name!r} "
                        f"(known: {', '.join(sorted(CHECKS))})"
                    )
    return problems


def parse_config(
    data: Any,
    env: Mapping[str, str] | None = None,
    source: str | None = None,
    refs: list[tuple[str | None, str | None]] | None = None,
) -> Config:
    """Validate parsed YAML; raises ConfigError listing every problem.

    ``refs`` comes from parsing text with ``_protect_references``; without it,
    ``${VAR}`` in plain (already parsed) data is interpolated directly.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["<root>: expected a mapping of settings"], source)
    if refs is None:
        protected, refs = _protect_references(json.dumps(data))
        data = json.loads(protected)
    problems: list[str] = []
    data = _interpolate(data, "", os.environ if env is None else env, refs, problems)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems + _format_validation_error(exc), source) from None
    problems += _cross_references(cfg)
    if problems:
        raise ConfigError(problems, source)
    return cfg


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    """--config, then $DRIFTWATCH_CONFIG, then ./driftwatch.yaml."""
    if path:
        return Path(path)
    env_path = os.environ.get(CONFIG_ENV_VAR)
    return Path(env_path) if env_path else Path(DEFAULT_CONFIG_FILE)


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Read, interpolate and validate a config file; raises ConfigError."""
    cfg_path = resolve_config_path(path)
    source = str(cfg_path)
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"<file>: config file {source} does not exist"], source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"<file>: cannot read {source}: {exc}"], source) from None
    protected, refs = _protect_references(text)
    try:
        data = yaml.safe_load(protected)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: YAML syntax error: {problem}"], source) from None
    return parse_config(data, env, source, refs)
