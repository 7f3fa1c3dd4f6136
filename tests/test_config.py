"""Config loading: every problem at once with its path, env interpolation, secrets kept secret."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from driftwatch.config import (
    ChromaStoreConfig,
    OpenAIEmbedderConfig,
    config_warnings,
    load_config,
    parse_config,
    parse_duration,
    resolve_config_path,
)
from driftwatch.errors import ConfigError

DESIGN_SHAPE = """
state_url: sqlite:///driftwatch.db
listen: 127.0.0.1:9464
embedders:
  live:
    kind: onnx
    model: all-MiniLM-L6-v2
    path: /path/model.onnx
    tokenizer: /path/tokenizer.json
  provider:
    kind: openai
    base_url: http://127.0.0.1:8080/v1
    model: text-embedding-3-small
    api_key: ${OPENAI_API_KEY}
stores:
  local: {kind: chroma, path: ./chroma}
  remote: {kind: chroma, url: http://chroma:8000}
collections:
  - store: local
    name: docs
    embedder: live
    model_key: embedding_model
    version_key: embedding_version
    expected_model: all-MiniLM-L6-v2
    canaries:
      - {query: "how do I reset my password", expect: ["doc-123"]}
    schedule: {probe: 5m, version_mix: 1h}
models:
  - {id: text-embedding-ada-002, provider: openai, aliases: ["ada-002"]}
feeds:
  - {url: https://example.invalid/feed.xml, interval: 6h}
alerts:
  slack: {webhook_url: ${SLACK_WEBHOOK_URL}}
"""
SECRET_ENV = {
    "OPENAI_API_KEY": "sk-test-key-do-not-print",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.invalid/services/T000/B000/XXXXSECRET",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_accepts_the_design_shape(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, DESIGN_SHAPE), env=SECRET_ENV)
    coll = cfg.collections[0]
    assert coll.schedule.probe == timedelta(minutes=5)
    assert coll.schedule.version_mix == timedelta(hours=1)
    assert coll.canaries[0].expect == ["doc-123"]
    provider = cfg.embedders["provider"]
    assert isinstance(provider, OpenAIEmbedderConfig)
    assert provider.api_key is not None
    assert provider.api_key.get_secret_value() == SECRET_ENV["OPENAI_API_KEY"]
    assert isinstance(cfg.stores["remote"], ChromaStoreConfig)
    assert cfg.listen_host == "127.0.0.1" and cfg.listen_port == 9464
    assert cfg.feeds[0].interval == timedelta(hours=6)


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, DESIGN_SHAPE), env=SECRET_ENV)
    text = repr(cfg) + str(cfg.model_dump())
    for secret in SECRET_ENV.values():
        assert secret not in text


def test_every_problem_is_listed_with_its_path(tmp_path: Path) -> None:
    text = """
listen: nowhere
embedders:
  live: {kind: onnx}
  other: {kind: faiss, model: x}
stores:
  local: {kind: chroma, path: ./a, url: http://b}
collections:
  - {store: missing, name: docs, embedder: live, schedule: {probe: 5x}}
"""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    problems = info.value.problems
    joined = "\n".join(problems)
    assert "listen: invalid listen address 'nowhere'" in joined
    assert any(p.startswith("embedders.live.model:") for p in problems)
    assert any(p.startswith("embedders.other:") for p in problems)
    assert any(p.startswith("stores.local:") and "exactly one" in p for p in problems)
    assert "collections[0].schedule.probe: invalid duration '5x'" in joined
    # Unknown references are listed in the same pass as the field errors.
    assert "collections[0].store: unknown store 'missing' (known: local)" in joined
    assert len(problems) >= 6


def test_unknown_references_are_named(tmp_path: Path) -> None:
    text = """
embedders: {live: {kind: onnx, model: m}}
stores: {local: {kind: chroma, path: ./c}}
collections:
  - {store: nope, name: docs, embedder: ghost}
  - {store: local, name: docs2, embedder: live, checks: [fingerprint, vibes]}
"""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert info.value.problems == [
        "collections[0].store: unknown store 'nope' (known: local)",
        "collections[0].embedder: unknown embedder 'ghost' (known: live)",
        f"collections[1].checks[1]: unknown check 'vibes' (known: {_known_checks()})",
    ]


def _known_checks() -> str:
    from driftwatch.checks.registry import CHECKS

    return ", ".join(sorted(CHECKS))


def test_missing_env_var_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, DESIGN_SHAPE), env={"OPENAI_API_KEY": "k"})
    assert info.value.problems == [
        "alerts.slack.webhook_url: environment variable SLACK_WEBHOOK_URL is not set"
    ]


def test_env_defaults_and_escapes() -> None:
    cfg = parse_config(
        {"listen": "${LISTEN:-0.0.0.0:9000}", "state_url": "sqlite:///$$HOME.db"}, env={}
    )
    assert cfg.listen == "0.0.0.0:9000"
    assert cfg.state_url == "sqlite:///$HOME.db"


def test_secret_values_are_not_echoed_in_errors(tmp_path: Path) -> None:
    text = DESIGN_SHAPE.replace("interval: 6h", "interval: 6h, bogus: 1")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env=SECRET_ENV)
    assert "feeds[0].bogus: unknown setting 'bogus'" in info.value.problems
    for secret in SECRET_ENV.values():
        assert secret not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("7d", 604800), (45, 45)],
)
def test_durations(text: str | int, expected: float) -> None:
    assert parse_duration(text).total_seconds() == expected


@pytest.mark.parametrize("text", ["5x", "", "m5", "-1s", "1h 2", True, 0])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope.yaml does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "listen: [unclosed\nstores: {}\n"))
    assert info.value.problems[0].startswith("line ")
    assert "YAML syntax error" in info.value.problems[0]


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_config_path_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTWATCH_CONFIG", raising=False)
    assert resolve_config_path(None) == Path("driftwatch.yaml")
    monkeypatch.setenv("DRIFTWATCH_CONFIG", "/etc/dw.yaml")
    assert resolve_config_path(None) == Path("/etc/dw.yaml")
    assert resolve_config_path("given.yaml") == Path("given.yaml")


def test_demo_config_is_valid() -> None:
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo" / "driftwatch.yaml"
    cfg = load_config(demo, env={})
    assert cfg.collections[0].name == "python-docs"
    assert cfg.listen == "127.0.0.1:9464"


def test_zero_jitter_is_valid_but_zero_intervals_are_not() -> None:
    cfg = parse_config(_one_collection(schedule={"jitter": "0s", "probe": "1m"}), env={})
    assert cfg.collections[0].schedule.jitter == timedelta(0)
    with pytest.raises(ConfigError, match=r"collections\[0\]\.schedule\.probe: invalid"):
        parse_config(_one_collection(schedule={"probe": "0s"}), env={})


@pytest.mark.parametrize(
    "url", ["hooks.slack.com/services/T/B/SECRETPART", "ftp://x/SECRETPART", "SECRETPART"]
)
def test_webhook_url_must_be_an_absolute_http_url(url: str) -> None:
    data = _one_collection()
    data["alerts"] = {"slack": {"webhook_url": url}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert "alerts.slack.webhook_url: must be an absolute http(s) URL" in str(info.value)
    assert "SECRETPART" not in str(info.value)


def test_no_collections_is_valid_with_a_warning() -> None:
    cfg = parse_config({"collections": []}, env={})
    assert config_warnings(cfg) == ["collections: none configured; the daemon will watch nothing"]
    assert config_warnings(parse_config(_one_collection(), env={})) == []


def test_an_onnx_model_that_is_neither_a_preset_nor_a_file_is_named(tmp_path: Path) -> None:
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(b"")
    data = _one_collection()
    data["embedders"] = {
        "live": {"kind": "onnx", "model": "all-MiniLM-L6-v2"},
        "typo": {"kind": "onnx", "model": "all-MiniLM-L6-v3"},
        "gone": {"kind": "onnx", "model": "x", "path": str(tmp_path / "nope.onnx")},
        "file": {"kind": "onnx", "model": "x", "path": str(model_file)},
        "preset": {"kind": "onnx", "model": "x", "path": "paraphrase-MiniLM-L3-v2"},
    }
    assert config_warnings(parse_config(data, env={})) == [
        "embedders.typo: model 'all-MiniLM-L6-v3' is not a preset (all-MiniLM-L6-v2, "
        "paraphrase-MiniLM-L3-v2) and no 'path' names its ONNX file",
        f"embedders.gone.path: no ONNX model file {tmp_path / 'nope.onnx'}",
    ]


def _one_collection(**coll: object) -> dict[str, object]:
    return {
        "embedders": {"live": {"kind": "onnx", "model": "all-MiniLM-L6-v2"}},
        "stores": {"local": {"kind": "chroma", "url": "http://127.0.0.1:1"}},
        "collections": [{"store": "local", "name": "docs", "embedder": "live", **coll}],
    }


def test_embedded_chroma_warns_that_a_live_application_needs_the_server() -> None:
    data = _one_collection()
    data["stores"] = {"local": {"kind": "chroma", "path": "./chroma"}}
    (warning,) = config_warnings(parse_config(data, env={}))
    assert warning.startswith("stores.local.path: embedded Chroma is for a directory no other")
    assert "Chroma server (url:)" in warning


# --- pgvector and qdrant stores, store-specific collection keys ----------------


def test_pgvector_store_and_collection_options() -> None:
    data = _one_collection(
        name="public.documents",
        columns={"vector": "emb", "metadata": None},
        model_column="model",
    )
    data["stores"] = {
        "pg": {
            "kind": "pgvector",
            "url": "postgresql://app@db:5432/rag",
            "password": "${PG_PASSWORD}",
        }
    }
    data["collections"][0]["store"] = "pg"  # type: ignore[index]
    cfg = parse_config(data, env={"PG_PASSWORD": "pg-s3cret-value"})
    store = cfg.stores["pg"]
    assert store.kind == "pgvector" and "pg-s3cret-value" not in repr(cfg)
    options = cfg.collections[0].options()
    assert dict(options.columns) == {"id": "id", "vector": "emb", "text": "content"}
    assert options.model_column == "model" and options.version_column is None
    assert options.layout == "table" and options.model_key == "embedding_model"


def test_store_kinds_report_their_own_problems() -> None:
    data = _one_collection(layout="llama")
    data["stores"] = {
        "pg": {"kind": "pgvector", "url": "mysql://x@y/z"},
        "qd": {"kind": "qdrant", "url": "http://q:6333", "path": "./q"},
        "local": {"kind": "chroma", "url": "http://127.0.0.1:1"},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    problems = "\n".join(info.value.problems)
    assert "stores.pg.url: url must start with postgresql://" in problems
    assert "stores.qd: give exactly one of 'path' (local mode) or 'url' (server)" in problems
    assert "collections[0].layout:" in problems


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://monitor:Hunter/LEAKY@127.0.0.1:55432/postgres",  # '/' in the password
        "postgresql://monitor:Hunter@LEAKY@127.0.0.1:55432/postgres",  # '@' in the password
        "postgresql://monitor:Hunter?LEAKY@127.0.0.1:55432/postgres",
    ],
)
def test_a_url_whose_password_is_not_percent_encoded_is_refused_without_showing_it(
    url: str,
) -> None:
    """libpq would split such a URL elsewhere and take part of the password for the
    host, port or database, which every message then shows."""
    data = _one_collection()
    data["stores"] = {
        "pg": {"kind": "pgvector", "url": url},
        "remote": {"kind": "chroma", "url": url.replace("postgresql", "http")},
        "local": {"kind": "chroma", "path": "./chroma"},
    }
    data["state_url"] = url.replace("postgresql", "postgresql+psycopg")
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    problems = info.value.problems
    for where, instead in [
        ("stores.pg.url", "set 'password'"),
        ("stores.remote.url", "set 'api_key' or 'headers'"),
        ("state_url", "set PGPASSWORD"),
    ]:
        (problem,) = [p for p in problems if p.startswith(f"{where}:")]
        assert "percent-encoded (%40, %2F, %3F, %23)" in problem and instead in problem
    assert "LEAKY" not in str(info.value) and "Hunter" not in str(info.value)


def test_percent_encoded_credentials_and_sqlite_paths_with_at_signs_are_accepted() -> None:
    data = _one_collection()
    data["stores"] = {
        "pg": {"kind": "pgvector", "url": "postgresql://monitor:Hunter%2FOK%40x@db:5432/rag"},
        "local": {"kind": "chroma", "path": "./chroma"},
    }
    data["state_url"] = "sqlite:////var/lib/team@ops/driftwatch.db"
    cfg = parse_config(data, env={})
    assert cfg.state_url.endswith("team@ops/driftwatch.db")


def test_one_name_in_two_stores_is_refused_since_results_are_keyed_by_name() -> None:
    data = _one_collection()
    data["stores"] = {
        "local": {"kind": "chroma", "url": "http://127.0.0.1:1"},
        "qd": {"kind": "qdrant", "path": "./qdrant"},
    }
    data["collections"] = [
        {"store": "local", "name": "docs", "embedder": "live"},
        {"store": "qd", "name": "docs", "embedder": "live"},
    ]
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    (problem,) = info.value.problems
    assert problem.startswith(
        "collections[1].name: collection 'docs' is listed already as collections[0] (store 'local')"
    )


@pytest.mark.parametrize(
    ("blue", "target", "refused"),
    [
        ("public.kb", "kb", True),  # the same table, with and without its schema
        ("kb", "public.kb", True),
        ("kb", "public.kb_v2", False),
        ("rag.kb", "kb", False),  # another schema's table
    ],
)
def test_a_pgvector_migration_into_blue_under_another_spelling_is_refused(
    blue: str, target: str, refused: bool
) -> None:
    data = _one_collection(name=blue, migration={"to": "live", "target": target})
    data["stores"] = {"local": {"kind": "pgvector", "url": "postgresql://app@db/rag"}}
    if not refused:
        assert parse_config(data, env={}).collections[0].migration is not None
        return
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    (problem,) = info.value.problems
    assert problem == (
        f"collections[0].migration.target: {target!r} is the collection itself ({blue!r}); "
        "green must be a new collection (blue is never written)"
    )


@pytest.mark.parametrize(
    ("blue_store", "green_store", "refused"),
    [
        # Another role on the same database: a writer for green, a reader for blue.
        (
            {"kind": "pgvector", "url": "postgresql://reader@DB:5432/rag"},
            {"kind": "pgvector", "url": "postgresql://writer@db/rag?sslmode=require"},
            True,
        ),
        (
            {"kind": "pgvector", "url": "postgresql://app@db/rag"},
            {"kind": "pgvector", "url": "postgresql://app@db/rag_v2"},
            False,
        ),
        (
            {"kind": "pgvector", "url": "postgresql://app@db/rag"},
            {"kind": "pgvector", "url": "postgresql://app@db:5433/rag"},
            False,
        ),
        (  # libpq's database defaults to the user's name
            {"kind": "pgvector", "url": "postgresql://rag@db"},
            {"kind": "pgvector", "url": "postgresql://rag@db/rag"},
            True,
        ),
        (
            {"kind": "chroma", "url": "http://chroma:8000"},
            {"kind": "chroma", "url": "http://CHROMA:8000/", "headers": {"x-token": "t"}},
            True,
        ),
        (
            {"kind": "chroma", "url": "http://chroma:8000"},
            {"kind": "chroma", "url": "http://chroma:8000", "database": "other"},
            False,
        ),
        (
            {"kind": "chroma", "path": "./data"},
            {"kind": "chroma", "path": "data/../data"},
            True,
        ),
        (
            {"kind": "qdrant", "url": "https://qdrant"},
            {"kind": "qdrant", "url": "https://qdrant:443", "api_key": "k"},
            True,
        ),
        (
            {"kind": "qdrant", "path": "./qdrant"},
            {"kind": "chroma", "path": "./qdrant"},
            False,
        ),
    ],
)
def test_a_migration_into_blue_through_another_store_entry_is_refused(
    blue_store: dict[str, object], green_store: dict[str, object], refused: bool
) -> None:
    data = _one_collection(
        name="kb", migration={"to": "live", "target": "kb", "target_store": "green"}
    )
    data["stores"] = {"local": blue_store, "green": green_store}
    if not refused:
        assert parse_config(data, env={}).collections[0].migration is not None
        return
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    (problem,) = info.value.problems
    assert problem == (
        "collections[0].migration.target: 'kb' is the collection itself ('kb') "
        "(through store 'green'); green must be a new collection (blue is never written)"
    )


def test_canary_ids_may_be_written_as_numbers_as_qdrant_numbers_its_points() -> None:
    data = _one_collection(canaries=[{"query": "q", "expect": [531, "doc-7"]}])
    (canary,) = parse_config(data, env={}).collections[0].canaries
    assert canary.expect == ["531", "doc-7"]
    data = _one_collection(canaries=[{"query": "q", "expect": [True]}])
    with pytest.raises(ConfigError, match=r"canaries\[0\].expect\[0\]"):
        parse_config(data, env={})


@pytest.mark.parametrize(
    ("memory", "problem"),
    [
        ("1GB", None),
        ("512 MB", None),
        (65536, None),  # kB, as PostgreSQL reads a plain number
        ("lots", "'lots' is not a PostgreSQL memory size such as 512MB or 1GB"),
        ("1gb", "'1gb' is not a PostgreSQL memory size such as 512MB or 1GB"),  # as PostgreSQL
        (
            "32kB",
            "'32kB' is outside the range PostgreSQL accepts (64kB to 2147483647kB)",
        ),
        (
            "3TB",
            "'3TB' is outside the range PostgreSQL accepts (64kB to 2147483647kB)",
        ),
    ],
)
def test_pgvector_maintenance_work_mem_is_a_postgresql_memory_size(
    memory: str | int, problem: str | None
) -> None:
    data = _one_collection()
    data["stores"] = {
        "local": {
            "kind": "pgvector",
            "url": "postgresql://app@db/rag",
            "maintenance_work_mem": memory,
        }
    }
    if problem is None:
        store = parse_config(data, env={}).stores["local"]
        assert getattr(store, "maintenance_work_mem", None) == str(memory)
        return
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert info.value.problems == [f"stores.local.maintenance_work_mem: {problem}"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "mysql://app:Hunter2@db/rag",
            "state_url: unsupported state database mysql://app:***@db/rag: scheme 'mysql' is "
            "not supported (use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)",
        ),
        (
            "sqlite://",
            "state_url: cannot use state database sqlite://: an in-memory SQLite database keeps "
            "nothing between runs; give a file, e.g. sqlite:///driftwatch.db",
        ),
    ],
)
def test_a_state_url_that_can_never_work_is_a_config_error(url: str, problem: str) -> None:
    data = {**_one_collection(), "state_url": url}
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert info.value.problems == [problem]


def test_a_state_directory_that_does_not_exist_yet_is_a_warning(tmp_path: Path) -> None:
    data = {**_one_collection(), "state_url": f"sqlite:///{tmp_path}/later/state.db"}
    (warning,) = config_warnings(parse_config(data, env={}))
    assert warning.startswith(f"state_url: directory {tmp_path}/later does not exist")


def test_a_misspelt_setting_is_named_with_the_one_meant() -> None:
    data = _one_collection(sample_sise=3, thresholds={"canary_min_recal": 0.3})
    data["stores"] = {"local": {"kind": "pgvector", "url": "postgresql://a@b/c", "pasword": "x"}}
    data["embedders"]["live"]["treads"] = 2  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert sorted(info.value.problems) == [
        "collections[0].sample_sise: unknown setting 'sample_sise'; did you mean 'sample_size'?",
        "collections[0].thresholds.canary_min_recal: unknown setting 'canary_min_recal'; "
        "did you mean 'canary_min_recall'?",
        "embedders.live.treads: unknown setting 'treads'; did you mean 'threads'?",
        "stores.local.pasword: unknown setting 'pasword'; did you mean 'password'?",
    ]
