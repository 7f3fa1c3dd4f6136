"""Models in use: the config's models, the embedders' models, and what the stores hold."""

from __future__ import annotations

from datetime import UTC, datetime

from driftwatch.checks.base import CheckResult
from driftwatch.config import parse_config
from driftwatch.feeds.models_in_use import models_in_use, stored_models
from driftwatch.state.db import StateDB
from driftwatch.state.results import save_result


def _version_mix(collection: str, day: int, models: list[str], status: str = "ok") -> CheckResult:
    documents = [{"model": m, "version": "1", "count": 3} for m in models]
    return CheckResult(
        check="version_mix",
        collection=collection,
        status=status,  # type: ignore[arg-type]
        value=0.0,
        threshold=0.0,
        detail={"documents": documents} if status != "error" else {},
        started_at=datetime(2026, 1, day, tzinfo=UTC),
        duration_s=0.1,
        message="m",
    )


def test_the_last_completed_version_mix_of_each_collection_counts(state_db: StateDB) -> None:
    save_result(state_db, _version_mix("docs", 1, ["old-embed-001"]))
    save_result(state_db, _version_mix("docs", 2, ["text-embedding-ada-002", "none"]))
    save_result(state_db, _version_mix("docs", 3, [], status="error"))  # store was down
    save_result(state_db, _version_mix("faq", 1, ["embed-english-v2.0"], status="warning"))
    assert sorted(stored_models(state_db)) == [
        ("docs", "text-embedding-ada-002"),
        ("faq", "embed-english-v2.0"),
    ]


def test_config_first_then_embedders_then_stores(state_db: StateDB) -> None:
    save_result(state_db, _version_mix("docs", 1, ["Ada-002", "embed-english-v2.0"]))
    config = parse_config(
        {
            "models": [{"id": "ada-002", "provider": "openai", "aliases": ["Ada v2"]}],
            "embedders": {
                "live": {"kind": "onnx", "model": "all-MiniLM-L6-v2"},
                "api": {
                    "kind": "openai",
                    "model": "text-embedding-3-small",
                    "base_url": "https://api.openai.com/v1",
                    "api_key": "k",
                },
            },
        },
        env={},
    )
    found = {m.id: (m.provider, m.aliases, m.source) for m in models_in_use(config, state_db)}
    assert found == {
        # Also in the collection (as "Ada-002"): listed once, with the config's provider.
        "ada-002": ("openai", ("Ada v2",), "config"),
        "all-MiniLM-L6-v2": ("local", (), "embedder:live"),
        "text-embedding-3-small": ("openai", (), "embedder:api"),
        # Missing from models:, found in the collection: matched too.
        "embed-english-v2.0": ("unknown", (), "version_mix:docs"),
    }
