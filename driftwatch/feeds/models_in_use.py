"""Which models this deployment depends on: the config plus what the stores hold.

A notice only matters for a model in use. The config's ``models:`` list is not
enough on its own: a collection can still hold vectors of a model nobody wrote
down (a half-finished migration, an old ingest job), and that model's shutdown
breaks queries all the same. So the models in use are, in this order:

1. every ``models:`` entry (its provider and aliases);
2. every embedder's ``model``;
3. every ``embedding_model`` tag the latest completed **version-mix** result of
   each collection counted (read through ``state.results``; the check's own
   ``tagged_models`` parses its detail), so a model found in a collection but
   missing from ``models:`` is matched too.

A model named in several places is listed once, under its first source, so the
config still adds aliases and a provider to a model the stores report.
"""

from __future__ import annotations

from collections.abc import Iterator

from driftwatch.checks.base import UNTAGGED
from driftwatch.checks.version_mix import VERSION_MIX, tagged_models
from driftwatch.config import Config, OnnxEmbedderConfig, OpenAIEmbedderConfig
from driftwatch.feeds.match import ModelInUse, normalise_id
from driftwatch.state.db import StateDB
from driftwatch.state.results import latest_completed


def models_in_use(config: Config, db: StateDB) -> list[ModelInUse]:
    """Configured models first (their provider and aliases win), then the rest."""
    found: dict[str, ModelInUse] = {}

    def add(model: ModelInUse) -> None:
        key = normalise_id(model.id)
        if key and key != UNTAGGED and key not in found:
            found[key] = model

    for m in config.models:
        add(ModelInUse(m.id, m.provider, tuple(m.aliases), "config"))
    for name, emb in config.embedders.items():
        add(ModelInUse(emb.model, embedder_provider(emb), (), f"embedder:{name}"))
    for collection, model in stored_models(db):
        add(ModelInUse(model, "unknown", (), f"version_mix:{collection}"))
    return list(found.values())


def embedder_provider(emb: object) -> str:
    """``openai`` for OpenAI's own API, ``local`` for ONNX, else ``unknown``."""
    if isinstance(emb, OpenAIEmbedderConfig):
        return "openai" if "api.openai.com" in emb.base_url else "unknown"
    if isinstance(emb, OnnxEmbedderConfig):
        return "local"
    return "unknown"


def stored_models(db: StateDB) -> Iterator[tuple[str, str]]:
    """(collection, model) for every model tag of each collection's last version mix.

    A failed run (store unreachable) carries no counts; the completed run before
    it still tells which models the data was embedded with, so the failure is
    not read as "no models" (``state.results.latest_completed``).
    """
    for result in latest_completed(db, VERSION_MIX):
        for model in tagged_models(result.detail):
            yield result.collection, model
