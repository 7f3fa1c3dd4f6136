"""What is monitored for a collection: blue, or green after a cutover.

The one place that reads the cutover switch. ``check``, ``baseline``,
``status`` and the daemon call ``effective_collections`` and from then on
watch whatever it returns; a rollback makes it return blue again. After a
cutover the collection is green: its store, its name (so its baselines and
metrics are green's own; blue's baselines stay untouched for a rollback), the
candidate embedder, and the candidate's model as the expected model.
"""

from __future__ import annotations

from driftwatch.config import CollectionConfig, Config
from driftwatch.migrate.state import active_switch
from driftwatch.state.db import StateDB


def effective_collection(config: Config, coll: CollectionConfig, db: StateDB) -> CollectionConfig:
    """``coll`` as configured, or its green side when a cutover is in force."""
    if coll.migration is None:
        return coll
    switch = active_switch(db, coll.name)
    if switch is None:
        return coll
    if switch.target != coll.migration.target or switch.embedder not in config.embedders:
        # The config moved on (another target or embedder) since the cutover: monitor
        # what the config says rather than a collection it no longer names.
        return coll
    return coll.model_copy(
        update={
            "store": switch.store,
            "name": switch.target,
            "embedder": switch.embedder,
            "expected_model": switch.model,
            "migration": None,
        }
    )


def effective_collections(config: Config, db: StateDB) -> list[CollectionConfig]:
    return [effective_collection(config, coll, db) for coll in config.collections]
