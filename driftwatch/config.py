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

import difflib
import json
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from driftwatch.errors import ConfigError, StateError
from driftwatch.redact import register_secret, register_url_password, userinfo_unencoded

if TYPE_CHECKING:
    from driftwatch.stores.base import CollectionOptions

DEFAULT_CONFIG_FILE = "driftwatch.yaml"
CONFIG_ENV_VAR = "DRIFTWATCH_CONFIG"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object, *, allow_zero: bool = False) -> timedelta:
    """``30s``, ``5m``, ``1h30m``, ``7d`` or a number of seconds -> timedelta.

    Intervals and timeouts must be positive; ``allow_zero`` admits ``0s`` where
    nothing is a valid amount (a jitter).
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if value < 0 or (value == 0 and not allow_zero):
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
        if text and pos == len(text) and (total > 0 or allow_zero):
            return timedelta(seconds=total)
    raise ValueError(f"invalid duration {value!r} (use e.g. 30s, 5m, 1h, 7d)")


def _parse_duration_or_zero(value: object) -> timedelta:
    return parse_duration(value, allow_zero=True)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
# A duration where zero is meaningful (no jitter).
DurationOrZero = Annotated[timedelta, BeforeValidator(_parse_duration_or_zero)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- embedders ---------------------------------------------------------------


def _encoded_userinfo(url: str, instead: str) -> str:
    """``url``, if its user and password are percent-encoded (message without the url)."""
    if userinfo_unencoded(url):
        raise ValueError(
            "the user or password in this URL holds '@', '/', '?' or '#' unencoded: write "
            f"them percent-encoded (%40, %2F, %3F, %23), or {instead}"
        )
    return url


# A server's URL: credentials in it percent-encoded, or none (api_key and headers
# carry them as secrets).
ServerUrl = Annotated[
    str, AfterValidator(lambda url: _encoded_userinfo(url, "set 'api_key' or 'headers'"))
]


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
    # speed: the int8 weight patterns that onnxruntime's constant folding would expand
    # to float32 are rewritten first, so the weights stay int8 (embedders/onnx_weights.py;
    # all-MiniLM-L6-v2 int8: +29 MB resident instead of +93 MB, ~1.25x the CPU time of
    # float32 weights). memory: no constant folding: the same resident size, but every
    # batch dequantizes all weights again (~2x the CPU, a 40-120 MB higher peak).
    # throughput: the model as exported, folded to float32 weights at load: the least
    # CPU per text for +64 MB. Same vectors each way (docs/embedders.md has the numbers).
    optimize_for: Literal["speed", "memory", "throughput"] = "speed"
    price_per_million_tokens: float | None = Field(
        default=None, ge=0, description="what the provider charges (migrate plan's cost)"
    )


class OpenAIEmbedderConfig(_Strict):
    kind: Literal["openai"]
    model: str = Field(min_length=1)
    base_url: ServerUrl = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    dimensions: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=64, ge=1, le=2048)
    timeout: Duration = timedelta(seconds=30)
    connect_timeout: Duration = timedelta(seconds=5)
    max_retries: int = Field(default=4, ge=0, le=20)
    retry_backoff: Duration = Field(
        default=timedelta(milliseconds=500), description="first retry delay; doubles, jittered"
    )
    price_per_million_tokens: float | None = Field(
        default=None, ge=0, description="what the provider charges (migrate plan's cost)"
    )


class ChromaEmbedderConfig(_Strict):
    """The collection's own embedding function, as the application configured it."""

    kind: Literal["chroma"]
    model: str = Field(min_length=1)
    price_per_million_tokens: float | None = Field(
        default=None, ge=0, description="what the provider charges (migrate plan's cost)"
    )


EmbedderConfig = Annotated[
    OnnxEmbedderConfig | OpenAIEmbedderConfig | ChromaEmbedderConfig,
    Field(discriminator="kind"),
]


# --- stores ------------------------------------------------------------------


class ChromaStoreConfig(_Strict):
    kind: Literal["chroma"] = "chroma"
    path: str | None = None
    url: ServerUrl | None = None
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

    def place(self) -> tuple[str, ...]:
        """Where its collections live, whoever connects (see ``_same_place``)."""
        if self.url is None:
            return ("chroma", _directory(self.path))
        return ("chroma", *_server(self.url), self.tenant, self.database)


_KB_PER_UNIT = {"kB": 1, "MB": 1024, "GB": 1024**2, "TB": 1024**3}
_MAINTENANCE_WORK_MEM_KB = (64, 2_147_483_647)  # what PostgreSQL accepts


class PgvectorStoreConfig(_Strict):
    """PostgreSQL with pgvector. The password is kept apart from ``url`` so it
    can be a secret: it is merged into the connection only, never shown."""

    kind: Literal["pgvector"]
    url: str = Field(min_length=1, description="postgresql://user@host:port/dbname")
    password: SecretStr | None = None
    connect_timeout: Duration = timedelta(seconds=10)
    # Per SQL statement (a scan is many FETCH statements, each bounded by this).
    statement_timeout: Duration = timedelta(seconds=60)
    page_size: int = Field(default=5000, ge=1, le=1_000_000)
    # PostgreSQL's maintenance_work_mem for building a migration green's HNSW index:
    # a graph that fits is built in memory, several times faster. Unset: the server's.
    maintenance_work_mem: str | None = None

    @field_validator("maintenance_work_mem", mode="before")
    @classmethod
    def _memory_size(cls, value: object) -> object:
        """PostgreSQL's own syntax (a number is kB) and range, so that a run does not
        embed for hours and then fail at the index build on a value the server refuses."""
        if value is None:
            return None
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        match = re.fullmatch(r"([0-9]+)\s*(kB|MB|GB|TB)?", text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{value!r} is not a PostgreSQL memory size such as 512MB or 1GB")
        kilobytes = int(match[1]) * _KB_PER_UNIT[match[2] or "kB"]
        if not _MAINTENANCE_WORK_MEM_KB[0] <= kilobytes <= _MAINTENANCE_WORK_MEM_KB[1]:
            raise ValueError(
                f"{value!r} is outside the range PostgreSQL accepts (64kB to 2147483647kB)"
            )
        return text

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "url must start with postgresql:// (e.g. postgresql://app@db:5432/rag)"
            )
        return _encoded_userinfo(value, "leave the password out and set 'password'")

    def place(self) -> tuple[str, ...]:
        """Where its tables live, whoever connects (see ``_same_place``). Settings the
        URL leaves out come from the same environment for every entry."""
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        try:
            parts = conninfo_to_dict(self.url)
        except ProgrammingError:  # reported when it connects; no other entry is this place
            return ("pgvector", "unparsed", self.url)
        database = parts.get("dbname") or parts.get("user") or ""  # libpq's default
        host = str(parts.get("host") or "").lower()
        return ("pgvector", host, str(parts.get("port") or 5432), str(database))


class QdrantStoreConfig(_Strict):
    """Qdrant: a server (``url`` + secret ``api_key``) or local mode (``path``)."""

    kind: Literal["qdrant"]
    url: ServerUrl | None = None
    path: str | None = None
    api_key: SecretStr | None = None
    timeout: Duration = timedelta(seconds=30)
    page_size: int = Field(default=1000, ge=1, le=100_000)

    @model_validator(mode="after")
    def _one_location(self) -> QdrantStoreConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of 'path' (local mode) or 'url' (server)")
        return self

    def place(self) -> tuple[str, ...]:
        """Where its collections live, whoever connects (see ``_same_place``)."""
        if self.url is None:
            return ("qdrant", _directory(self.path))
        return ("qdrant", *_server(self.url))


def _directory(path: str | None) -> str:
    return str(Path(path or "").expanduser().resolve())


def _server(url: str) -> tuple[str, str, str]:
    """Scheme, host and port (the scheme's default if none is given) of a server URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a number: reported by the store when it connects
        port = None
    default = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), str(port or default or "")


StoreConfig = Annotated[
    ChromaStoreConfig | PgvectorStoreConfig | QdrantStoreConfig, Field(discriminator="kind")
]
_STORE_ADAPTER: TypeAdapter[StoreConfig] = TypeAdapter(StoreConfig)


# --- collections -------------------------------------------------------------


def _record_id(value: object) -> object:
    """A record id as the stores give it: text (Qdrant's integer ids too)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class CanaryConfig(_Strict):
    query: str = Field(min_length=1)
    expect: list[Annotated[str, BeforeValidator(_record_id)]] = Field(default_factory=list)


class ScheduleConfig(_Strict):
    probe: Duration = timedelta(minutes=5)
    version_mix: Duration = timedelta(hours=1)
    jitter: DurationOrZero = timedelta(seconds=10)
    # The population check compares stored vectors only (no embedding cost); hourly
    # keeps its per-run alpha at 1 h / expected_time_between_false_alarms.
    population: Duration = timedelta(hours=1)


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
    score_ks_pvalue: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="KS p-value below it: shifted (default: calibrated, see "
        "expected_time_between_false_alarms)",
    )
    score_psi: float = Field(default=0.25, gt=0)
    score_min_samples: int = Field(default=50, ge=5)
    unexpected_model_share: float = Field(default=0.0, ge=0, le=1)
    # Checks that turn a statistic into a verdict on a schedule (population,
    # score_distribution) test at alpha = schedule interval / this (stats.calibration).
    expected_time_between_false_alarms: Duration = Field(
        default=timedelta(days=365),
        description="mean time between false alarms of a statistical check when nothing changed",
    )


class PopulationConfig(_Strict):
    """The population (content-drift) check's samples (checks/population.py)."""

    sample_size: int = Field(default=200, ge=20, le=5000, description="recent records compared")
    reference_size: int = Field(
        default=300, ge=20, le=5000, description="stored vectors kept with the baseline"
    )
    min_samples: int = Field(default=50, ge=10, description="fewer on either side: unavailable")
    permutations: int = Field(default=500, ge=50, le=20_000)
    # since_baseline: the records written after the baseline where the store keeps
    # a write log (embedded Chroma) and enough were written; a uniform sample of the
    # collection otherwise. uniform: always the whole collection.
    recent: Literal["since_baseline", "uniform"] = Field(
        default="since_baseline", description="how the compared sample is drawn"
    )


class ColumnsConfig(_Strict):
    """pgvector: which columns hold a record's parts (defaults: id/embedding/content/metadata)."""

    id: str = Field(default="id", min_length=1)
    vector: str = Field(default="embedding", min_length=1)
    text: str | None = Field(default="content", min_length=1)
    metadata: str | None = Field(default="metadata", min_length=1)

    def mapping(self) -> dict[str, str]:
        """Role -> column, leaving out the roles the table has no column for."""
        return {role: col for role, col in self.model_dump().items() if col is not None}


class MigrationConfig(_Strict):
    """A planned move of a collection to another embedder (DESIGN.md "Migration").

    Blue is the collection itself, which driftwatch never writes; green is
    ``target`` in ``target_store`` (default: the collection's store).
    """

    to: str = Field(min_length=1, description="the embedder the collection moves to")
    target: str = Field(min_length=1, description="green collection, created by migrate run")
    target_store: str | None = None
    version: str | None = Field(default=None, description="version tag written on green")
    cutover_tolerance: float = Field(
        default=0.05, ge=0, le=1, description="candidate canary recall may be this much lower"
    )
    batch_size: int = Field(default=256, ge=1, le=10_000, description="records per write")
    concurrency: int = Field(
        default=4, ge=1, le=64, description="embed requests in flight (HTTP embedders)"
    )
    evaluate_sample: int = Field(default=1000, ge=10, le=100_000)
    status_every: Duration = Field(
        default=timedelta(minutes=10), description="how often the daemon measures the migration"
    )


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
    population: PopulationConfig = Field(default_factory=PopulationConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    thresholds: ThresholdsConfig = Field(default_factory=ThresholdsConfig)
    checks: list[str] | None = Field(
        default=None, description="run only these checks (default: all that apply)"
    )
    migration: MigrationConfig | None = None
    # --- store-specific (each adapter reads what applies to it) ---
    # pgvector: the table's columns (only the ones you change need naming; text and
    # metadata may be null for a table without them), or LangChain's PGVector tables.
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    layout: Literal["table", "langchain"] = "table"
    model_column: str | None = Field(
        default=None, description="pgvector: plain column holding the model tag"
    )
    version_column: str | None = Field(
        default=None, description="pgvector: plain column holding the version tag"
    )
    # qdrant: a named vector ("" = the default vector) and the payload key of the text.
    vector_name: str = ""
    text_key: str = Field(default="document", min_length=1)

    def options(self) -> CollectionOptions:
        """How the store adapter maps this collection's records (stores.base)."""
        from driftwatch.stores.base import CollectionOptions

        return CollectionOptions(
            model_key=self.model_key,
            version_key=self.version_key,
            columns=self.columns.mapping(),
            layout=self.layout,
            model_column=self.model_column,
            version_column=self.version_column,
            vector_name=self.vector_name,
            text_key=self.text_key,
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
    group_wait: DurationOrZero = Field(
        default=timedelta(seconds=30),
        description="what one probe cycle finds for a collection is sent as one message "
        "this long after the first finding (0s: at once)",
    )

    @field_validator("webhook_url")
    @classmethod
    def _absolute_http_url(cls, value: SecretStr) -> SecretStr:
        # The message must not echo the value: the whole URL is the secret.
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL (https://hooks.slack.com/services/…)")
        return value


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

    @field_validator("state_url")
    @classmethod
    def _state_url_usable(cls, value: str) -> str:
        from driftwatch.state.db import check_state_url

        value = _encoded_userinfo(value, "leave the password out and set PGPASSWORD")
        try:
            check_state_url(value)
        except StateError as exc:  # its message shows the URL without the password
            raise ValueError(str(exc)) from None
        return value

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
    *,
    unset: list[str] | None = None,
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
            if unset is not None:
                # A read-only command (status) needs neither secrets nor webhooks:
                # a placeholder that validates and is never used stands in.
                unset.append(name)
                return "http://unset.invalid/" if path.endswith("url") else "unset"
            problems.append(f"{path or '<root>'}: environment variable {name} is not set")
            return ""

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, dict):
        return {
            k: _interpolate(v, _join(path, str(k)), env, refs, problems, unset=unset)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate(v, f"{path}[{i}]", env, refs, problems, unset=unset)
            for i, v in enumerate(value)
        ]
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_UNION_TAGS = {"onnx", "openai", "chroma", "pgvector", "qdrant"}


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
        loc = tuple(err["loc"])
        msg = str(err["msg"])
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            msg = f"unknown setting {loc[-1]!r}"
            close = difflib.get_close_matches(loc[-1], sorted(_settings_at(loc)), n=1)
            msg += f"; did you mean {close[0]!r}?" if close else ""
        problems.append(f"{_format_loc(loc)}: {msg}")
    return problems


def _settings_at(loc: tuple[int | str, ...]) -> set[str]:
    """The setting names the model at ``loc`` (the key's parent) accepts. A part that is
    not a field (a mapping's key, a list index, a union's tag) keeps the same models."""
    models: list[type[BaseModel]] = [Config]
    for part in loc[:-1]:
        inner = [
            model
            for m in models
            if isinstance(part, str) and part in m.model_fields
            for model in _models_in(m.model_fields[part].annotation)
        ]
        models = inner or models
    return {name for m in models for name in m.model_fields}


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _cross_references(data: Mapping[str, Any]) -> list[str]:
    """Names that must refer to configured stores, embedders and checks.

    Works on the raw (interpolated) settings rather than the validated model,
    so that these problems are listed together with field errors, in one pass.
    """
    stores, embedders = _names(data.get("stores")), _names(data.get("embedders"))
    collections = data.get("collections")
    problems: list[str] = []
    seen: dict[str, tuple[int, object]] = {}  # name -> (index, store) of its first entry
    for i, coll in enumerate(collections if isinstance(collections, list) else []):
        if not isinstance(coll, Mapping):
            continue
        where = f"collections[{i}]"
        store, name = coll.get("store"), coll.get("name")
        problems += _unknown(f"{where}.store", "store", store, stores)
        problems += _unknown(f"{where}.embedder", "embedder", coll.get("embedder"), embedders)
        migration = coll.get("migration")
        if isinstance(migration, Mapping):
            problems += _migration_references(
                where, store, name, migration, stores=data.get("stores"), embedders=embedders
            )
        if isinstance(name, str):
            if name in seen:
                first, first_store = seen[name]
                # Results, baselines, migrations and metric labels name a collection
                # by its name alone: two entries would share (and spoil) one history.
                problems.append(
                    f"{where}.name: collection {name!r} is listed already as "
                    f"collections[{first}] (store {first_store!r}); each name may be "
                    "watched once per config"
                )
            else:
                seen[name] = (i, store)
        checks = coll.get("checks")
        if isinstance(checks, list):
            from driftwatch.checks.registry import CHECKS

            problems += [
                f"{where}.checks[{j}]: unknown check {check!r} (known: {', '.join(sorted(CHECKS))})"
                for j, check in enumerate(checks)
                if isinstance(check, str) and check not in CHECKS
            ]
    return problems


def _names(section: object) -> set[str]:
    return {str(k) for k in section} if isinstance(section, Mapping) else set()


def _unknown(where: str, kind: str, value: object, known: set[str]) -> list[str]:
    if not isinstance(value, str) or value in known:
        return []  # a missing or mistyped value is a field error, reported by validation
    listed = ", ".join(sorted(known)) or "none configured"
    return [f"{where}: unknown {kind} {value!r} (known: {listed})"]


def _migration_references(
    where: str,
    store: object,
    name: object,
    mig: Mapping[str, Any],
    *,
    stores: object,
    embedders: set[str],
) -> list[str]:
    """A migration must name a configured embedder and store, and never target blue."""
    where = f"{where}.migration"
    target_store = mig.get("target_store") or store
    problems = _unknown(f"{where}.to", "embedder", mig.get("to"), embedders)
    problems += _unknown(f"{where}.target_store", "store", target_store, _names(stores))
    entry = stores.get(store) if isinstance(stores, Mapping) and isinstance(store, str) else None
    kind = entry.get("kind") if isinstance(entry, Mapping) else None
    if _same_place(stores, store, target_store) and _same_collection(kind, mig.get("target"), name):
        through = "" if target_store == store else f" (through store {target_store!r})"
        problems.append(
            f"{where}.target: {mig.get('target')!r} is the collection itself ({name!r}){through}; "
            "green must be a new collection (blue is never written)"
        )
    return problems


def _same_place(stores: object, one: object, other: object) -> bool:
    """Whether two store entries reach the same data: one name, or two entries for one
    server, database or directory (another user's credentials, say)."""
    if one == other:
        return True
    if not isinstance(stores, Mapping):
        return False
    places = []
    for name in (one, other):
        try:
            entry: StoreConfig = _STORE_ADAPTER.validate_python(stores.get(name))
        except ValidationError:  # reported by validation of the entry itself
            return False
        places.append(entry.place())
    return places[0] == places[1]


def _same_collection(kind: object, one: object, other: object) -> bool:
    """Whether two names of one store's collections name the same one. pgvector: a
    table without a schema is taken to be in ``public``, where PostgreSQL's default
    search_path finds it."""
    if kind == "pgvector" and isinstance(one, str) and isinstance(other, str):
        one, other = (n if "." in n else f"public.{n}" for n in (one, other))
    return one == other


def config_warnings(cfg: Config) -> list[str]:
    """Settings that are valid but probably not what the user wants; shown by
    ``config validate`` and logged when the daemon starts."""
    warnings = []
    if not cfg.collections:
        warnings.append("collections: none configured; the daemon will watch nothing")
    for name, store in cfg.stores.items():
        # Chroma's embedded mode is single-process (docs/stores.md#embedded-chroma).
        if isinstance(store, ChromaStoreConfig) and store.path is not None:
            warnings.append(
                f"stores.{name}.path: embedded Chroma is for a directory no other process "
                "writes while driftwatch runs; watch a live application through its Chroma "
                "server (url:) instead"
            )
    warnings += _onnx_models_missing(cfg)
    from driftwatch.state.db import missing_sqlite_directory

    missing = missing_sqlite_directory(cfg.state_url)
    if missing is not None:
        warnings.append(
            f"state_url: directory {missing} does not exist; every command that records "
            "fails and the daemon retries until it does"
        )
    return warnings


def _onnx_models_missing(cfg: Config) -> list[str]:
    """ONNX embedders whose model can be found neither as a preset nor as a file:
    every check that embeds with them would fail."""
    from driftwatch.embedders.onnx import PRESETS

    presets = ", ".join(sorted(PRESETS))
    missing = []
    for name, embedder in cfg.embedders.items():
        if not isinstance(embedder, OnnxEmbedderConfig):
            continue
        if embedder.path is None and embedder.model not in PRESETS:
            missing.append(
                f"embedders.{name}: model {embedder.model!r} is not a preset ({presets}) "
                "and no 'path' names its ONNX file"
            )
        elif (
            embedder.path is not None
            and embedder.path not in PRESETS
            and not Path(embedder.path).expanduser().is_file()
        ):
            missing.append(f"embedders.{name}.path: no ONNX model file {embedder.path}")
    return missing


def parse_config(
    data: Any,
    env: Mapping[str, str] | None = None,
    source: str | None = None,
    refs: list[tuple[str | None, str | None]] | None = None,
    *,
    read_only: bool = False,
) -> Config:
    """Validate parsed YAML; raises ConfigError listing every problem.

    ``refs`` comes from parsing text with ``_protect_references``; without it,
    ``${VAR}`` in plain (already parsed) data is interpolated directly.
    ``read_only``: for commands that only read the state DB; an unset ``${VAR}``
    is then not an error, and its setting must not be used.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["<root>: expected a mapping of settings"], source)
    if refs is None:
        protected, refs = _protect_references(json.dumps(data))
        data = json.loads(protected)
    problems: list[str] = []
    unset: list[str] | None = [] if read_only else None
    data = _interpolate(data, "", os.environ if env is None else env, refs, problems, unset=unset)
    references = _cross_references(data)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        # A field whose ${VAR} is unset is already reported; its empty value
        # failing validation would only restate that.
        reported = {p.split(":", 1)[0] for p in problems}
        problems += [p for p in _format_validation_error(exc) if p.split(":", 1)[0] not in reported]
        raise ConfigError(problems + references, source) from None
    if problems or references:
        raise ConfigError(problems + references, source)
    _register_secrets(cfg)
    return cfg


def _register_secrets(value: object) -> None:
    """Every SecretStr in the config, and passwords in URLs, are masked in logs."""
    if isinstance(value, SecretStr):
        register_secret(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            field_value = getattr(value, name)
            if isinstance(field_value, str) and name.endswith("url"):
                register_url_password(field_value)
            else:
                _register_secrets(field_value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _register_secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _register_secrets(item)


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    """--config, then $DRIFTWATCH_CONFIG, then ./driftwatch.yaml."""
    if path:
        return Path(path)
    env_path = os.environ.get(CONFIG_ENV_VAR)
    return Path(env_path) if env_path else Path(DEFAULT_CONFIG_FILE)


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    read_only: bool = False,
) -> Config:
    """Read, interpolate and validate a config file; raises ConfigError.

    ``read_only``: see ``parse_config``.
    """
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
    return parse_config(data, env, source, refs, read_only=read_only)
