"""Monitoring's own embedding cost per day, from the last results and the schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from driftwatch.checks.base import CheckResult
from driftwatch.config import Config
from driftwatch.cost import daily_embedding_cost


def _result(check: str, **detail: Any) -> CheckResult:
    return CheckResult(check, "docs", "ok", 1.0, None, detail, datetime.now(UTC), 0.1, "ok")


def _config(price: float | None) -> Config:
    live: dict[str, Any] = {
        "kind": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "m",
    }
    if price is not None:
        live["price_per_million_tokens"] = price
    return Config.model_validate(
        {
            "stores": {"s": {"kind": "chroma", "path": "/tmp/x"}},
            "embedders": {"live": live},
            "collections": [{"store": "s", "name": "docs", "embedder": "live"}],
        }
    )


def test_daily_texts_tokens_and_price_follow_the_schedule() -> None:
    results = [
        _result("consistency", embedded_texts=300, embedded_tokens=15000),  # every 5 min
        _result("fingerprint", embedded_texts=40, embedded_tokens=400),
        _result("population", auc=0.5),  # embeds nothing: not counted
    ]
    cost = daily_embedding_cost(_config(0.02), results)["docs"]
    assert cost["texts_per_day"] == pytest.approx(340 * 288)
    assert cost["tokens_per_day"] == pytest.approx(15400 * 288)
    assert cost["cost_per_day"] == pytest.approx(15400 * 288 / 1e6 * 0.02)
    assert daily_embedding_cost(_config(None), results)["docs"]["cost_per_day"] is None
