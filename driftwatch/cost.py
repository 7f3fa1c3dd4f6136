"""What monitoring itself costs a collection per day: texts and tokens its checks embed.

Each check result of the runner carries the texts and tokens the check asked the
embedder for (``detail.embedded_texts`` / ``embedded_tokens``,
embedders/counting.py). A check runs 86,400 / its schedule interval times a day
(``CheckSpec.schedule``), so the last result of each check projects a day; with
the embedder's ``price_per_million_tokens`` that is a price. ``driftwatch
status`` shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftwatch.checks.base import CheckResult
from driftwatch.config import Config

DAY_S = 86400.0


def daily_embedding_cost(config: Config, results: Iterable[CheckResult]) -> dict[str, Any]:
    """{collection: {"texts_per_day", "tokens_per_day", "cost_per_day" (None: no price)}}."""
    from driftwatch.checks.registry import CHECKS

    by_name = {c.name: c for c in config.collections}
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        coll, spec = by_name.get(r.collection), CHECKS.get(r.check)
        texts = r.detail.get("embedded_texts")
        if coll is None or spec is None or not isinstance(texts, int):
            continue
        runs = DAY_S / getattr(coll.schedule, spec.schedule).total_seconds()
        tokens = r.detail.get("embedded_tokens")
        row = out.setdefault(
            r.collection, {"texts_per_day": 0.0, "tokens_per_day": 0.0, "cost_per_day": None}
        )
        row["texts_per_day"] += texts * runs
        if isinstance(tokens, int):
            row["tokens_per_day"] += tokens * runs
    for name, row in out.items():
        embedder = config.embedders.get(by_name[name].embedder)
        price = getattr(embedder, "price_per_million_tokens", None)
        if price is not None:
            row["cost_per_day"] = row["tokens_per_day"] / 1e6 * price
    return out
