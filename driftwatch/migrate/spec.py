"""Which migration a command works on, and the stores and embedders it needs.

``migration_spec`` resolves the config once (blue, green, current and
candidate embedders); ``Endpoints`` opens them lazily and closes them
together, so every command opens each store client once even when blue and
green live in the same store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from driftwatch.config import (
    ChromaEmbedderConfig,
    CollectionConfig,
    Config,
    EmbedderConfig,
    MigrationConfig,
)
from driftwatch.errors import CollectionNotFound, ConfigError, StoreError
from driftwatch.stores import open_store
from driftwatch.stores.base import (
    CollectionHandle,
    RecordReader,
    VectorStore,
    WritableCollection,
    WritableStore,
)

if TYPE_CHECKING:
    from driftwatch.embedders import EmbedderPool
    from driftwatch.embedders.base import Embedder


@dataclass(frozen=True)
class MigrationSpec:
    """One collection's migration block, resolved against the config."""

    config: Config
    blue: CollectionConfig
    migration: MigrationConfig

    @property
    def target_store(self) -> str:
        return self.migration.target_store or self.blue.store

    @property
    def candidate(self) -> EmbedderConfig:
        return self.config.embedders[self.migration.to]

    @property
    def current(self) -> EmbedderConfig:
        return self.config.embedders[self.blue.embedder]

    def green(self) -> CollectionConfig:
        """Green as a monitored collection: what check/run watch after a cutover."""
        return self.blue.model_copy(
            update={
                "store": self.target_store,
                "name": self.migration.target,
                "embedder": self.migration.to,
                "expected_model": self.candidate.model,
                "migration": None,
            }
        )


def migration_spec(config: Config, collection: str | None) -> MigrationSpec:
    """The migration of ``collection``, or of the only collection that has one."""
    if collection is not None:
        coll = config.collection(collection)
        if coll.migration is None:
            raise ConfigError([f"collections: {coll.name!r} has no migration block"])
        return _checked(config, coll, coll.migration)
    migrating = [c for c in config.collections if c.migration is not None]
    if len(migrating) == 1 and migrating[0].migration is not None:
        return _checked(config, migrating[0], migrating[0].migration)
    if not migrating:
        raise ConfigError(["collections: no collection has a migration block"])
    names = ", ".join(c.name for c in migrating)
    raise ConfigError([f"collections: several migrations ({names}); choose one with --collection"])


def _checked(config: Config, coll: CollectionConfig, mig: MigrationConfig) -> MigrationSpec:
    if isinstance(config.embedders[mig.to], ChromaEmbedderConfig):
        raise ConfigError(
            [
                f"collections: migration of {coll.name!r}: embedder {mig.to!r} is of kind "
                "chroma (a collection's own function) and cannot re-embed into a new collection"
            ]
        )
    return MigrationSpec(config, coll, mig)


@dataclass
class Endpoints:
    """Blue, green and both embedders for one migration, opened on first use."""

    spec: MigrationSpec
    shared_embedders: EmbedderPool | None = None  # the daemon's (not closed here)
    _stores: dict[str, VectorStore] = field(default_factory=dict)
    _blue: CollectionHandle | None = None
    _pool: EmbedderPool | None = None

    def store(self, name: str) -> VectorStore:
        if name not in self._stores:
            self._stores[name] = open_store(name, self.spec.config.stores[name])
        return self._stores[name]

    def blue(self) -> CollectionHandle:
        if self._blue is None:
            self._blue = self.store(self.spec.blue.store).open_collection(
                self.spec.blue.name, self.spec.blue.options()
            )
        return self._blue

    def blue_records(self) -> RecordReader:
        blue = self.blue()
        if not isinstance(blue, RecordReader):
            raise StoreError(
                f"store {self.spec.blue.store!r} cannot read records by id, "
                "which a migration needs to copy them"
            )
        return blue

    def target_store(self) -> WritableStore:
        store = self.store(self.spec.target_store)
        if not isinstance(store, WritableStore):
            raise StoreError(
                f"store {self.spec.target_store!r} has no write capability; "
                "a migration target must be a store driftwatch can write"
            )
        return store

    def green(self) -> WritableCollection | None:
        """Green if it exists (opened writable), else None."""
        try:
            return self.target_store().open_writable(
                self.spec.migration.target, self.spec.green().options()
            )
        except CollectionNotFound:
            return None

    def embedders(self) -> EmbedderPool:
        if self.shared_embedders is not None:
            return self.shared_embedders
        if self._pool is None:
            from driftwatch.embedders import EmbedderPool

            self._pool = EmbedderPool(self.spec.config.embedders)
        return self._pool

    def candidate(self) -> Embedder:
        return self.embedders().get(self.spec.migration.to)

    def current(self) -> Embedder:
        return self.embedders().get(self.spec.blue.embedder, self.blue())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        for store in self._stores.values():
            store.close()
        self._stores.clear()

    def __enter__(self) -> Endpoints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
