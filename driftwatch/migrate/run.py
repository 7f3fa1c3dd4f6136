"""``migrate run``: re-embed blue into green, resumably, and catch up.

Each pass diffs blue against green (``migrate.diff``), re-embeds what is
missing or stale in batches of ``batch_size`` records, then deletes green's
orphans (records deleted in blue):

    read records (blue) -> embed (candidate, in a worker pool) -> upsert (green)

Up to ``concurrency`` batches are embedded at once for an HTTP embedder (its
client already retries 429/5xx and honours Retry-After); an ONNX model uses
one worker, which still overlaps embedding with the store reads and writes.
A batch is written only after its vectors exist, and an upsert is idempotent,
so a run killed at any moment (SIGKILL included) leaves green with whole
records only; the next run's diff finds exactly what is left. Work lost to a
kill is at most the batches in flight. Records the application added, changed
or deleted in blue meanwhile are found by the next pass; the run makes up to
``MAX_PASSES`` passes so that writes during a run are caught up before it ends.
A run that leaves green complete then has green's store build what it deferred
while loading (``finish_load``: pgvector's index); the gate refuses a green
without it.

Blue is only ever read. Green records carry blue's metadata plus the
candidate's model name (``model_key``), ``migration.version`` (``version_key``;
removed when no version is set, since blue's version described blue's vectors)
and ``embedded_at`` (ISO 8601 UTC).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from driftwatch.config import OpenAIEmbedderConfig
from driftwatch.errors import DriftwatchError, StoreError
from driftwatch.migrate.diff import Diff, diff_collections
from driftwatch.migrate.spec import Endpoints, MigrationSpec
from driftwatch.migrate.state import start_run, update_run
from driftwatch.state.db import StateDB
from driftwatch.stores.base import CollectionHandle, StoredRecord, WritableCollection

log = logging.getLogger(__name__)

MAX_PASSES = 3
EMBEDDED_AT_KEY = "embedded_at"


@dataclass(frozen=True)
class Progress:
    """Handed to the progress callback after every batch (and at pass starts)."""

    pass_no: int
    done: int  # records written in this pass
    todo: int  # records this pass set out to write
    embedded_total: int  # records written by this run


@dataclass(frozen=True)
class RunOutcome:
    embedded: int
    deleted: int
    passes: int
    final: Diff

    @property
    def complete(self) -> bool:
        return self.final.complete


ProgressFn = Callable[[Progress], None]


def run_migration(
    endpoints: Endpoints, db: StateDB | None, progress: ProgressFn | None = None
) -> RunOutcome:
    """Bring green up to date with blue; raises StoreError/EmbedderError when it cannot."""
    spec = endpoints.spec
    blue = endpoints.blue()
    reader = endpoints.blue_records()
    candidate = endpoints.candidate()
    run_id = start_run(db, spec.blue.name, spec.migration.target, candidate.model) if db else None
    writer = _Writer(endpoints, blue)
    embedded = deleted = 0
    try:
        for pass_no in range(1, MAX_PASSES + 1):
            diff = diff_collections(blue, writer.green)
            if pass_no == 1 and db is not None and run_id is not None:
                update_run(db, run_id, todo=len(diff.todo) + len(diff.orphaned))
            todo = diff.todo
            if not todo and not diff.orphaned:
                break  # this diff is the final one: nothing was written since
            if progress:
                progress(Progress(pass_no, 0, len(todo), embedded))
            done = 0
            for written in _pipeline(endpoints, reader, writer, todo):
                done += written
                embedded += written
                if db is not None and run_id is not None:
                    update_run(db, run_id, embedded=embedded, deleted=deleted)
                if progress:
                    progress(Progress(pass_no, done, len(todo), embedded))
            # Deletes come after the writes: a target that turns out to be another
            # collection (other dimension) is refused before anything in it is removed.
            if diff.orphaned:
                writer.delete(diff.orphaned)
                deleted += len(diff.orphaned)
        else:  # every pass had work: what is left after the last one
            diff = diff_collections(blue, writer.green)
        if diff.complete and writer.green is not None:
            _finish_load(writer.green)
    except DriftwatchError as exc:
        if db is not None and run_id is not None:
            update_run(db, run_id, status="failed", error=str(exc), embedded=embedded)
        raise
    except BaseException:
        if db is not None and run_id is not None:
            update_run(db, run_id, status="failed", error="interrupted", embedded=embedded)
        raise
    if db is not None and run_id is not None:
        status = "complete" if diff.complete else "incomplete"
        update_run(db, run_id, status=status, embedded=embedded, deleted=deleted)
    return RunOutcome(embedded=embedded, deleted=deleted, passes=pass_no, final=diff)


def _finish_load(green: WritableCollection) -> None:
    """Build what green's store deferred while loading (pgvector: its index)."""
    if green.unfinished_load() is None:
        return
    log.info("green is loaded; building its index", extra={"collection": green.name})
    started = time.perf_counter()
    green.finish_load()
    log.info(
        "green's index is built",
        extra={"collection": green.name, "duration_s": round(time.perf_counter() - started, 1)},
    )


class _Writer:
    """Green, created on the first batch with the candidate's dimension and blue's
    distance and index settings (where the stores are of one kind)."""

    def __init__(self, endpoints: Endpoints, blue: CollectionHandle) -> None:
        self._endpoints = endpoints
        self._blue = blue
        self.green: WritableCollection | None = endpoints.green()
        self._checked: int | None = None  # the dimension green was checked/created with

    def ensure(self, dimension: int) -> WritableCollection:
        if self.green is not None and self._checked == dimension:
            return self.green
        spec = self._endpoints.spec
        existing = None if self.green is None else self.green.dimension()
        if existing is not None and existing != dimension:
            raise StoreError(
                f"target collection {spec.migration.target!r} in store {spec.target_store!r} "
                f"exists with {existing}-d vectors, but embedder {spec.migration.to!r} "
                f"produces {dimension}-d: choose another migration.target or remove it"
            )
        if self.green is None or existing is None:
            self.green = self._endpoints.target_store().create_collection(
                spec.migration.target,
                dimension,
                self._blue.distance(),
                spec.green().options(),
                self._blue.index_settings(),  # read only when green is made
            )
        self._checked = dimension
        return self.green

    def upsert(self, records: Sequence[StoredRecord]) -> None:
        if not records:
            return
        dimension = len(records[0].embedding) if records[0].embedding is not None else 0
        self.ensure(dimension).upsert(records)

    def delete(self, ids: Sequence[str]) -> None:
        if self.green is not None and ids:
            self.green.delete(ids)


def _pipeline(
    endpoints: Endpoints, reader: Any, writer: _Writer, todo: Sequence[str]
) -> Iterator[int]:
    """Read, embed (bounded concurrency), write; yields records written per batch."""
    spec = endpoints.spec
    size = spec.migration.batch_size
    workers = spec.migration.concurrency if isinstance(spec.candidate, OpenAIEmbedderConfig) else 1
    candidate = endpoints.candidate()
    in_flight: deque[tuple[list[StoredRecord], Future[np.ndarray]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="migrate-embed") as pool:
        try:
            for start in range(0, len(todo), size):
                batch = reader.get_records(todo[start : start + size], vectors=False)
                records = [r for r in batch if r.document]
                future = pool.submit(candidate.embed, [r.document or "" for r in records])
                in_flight.append((records, future))
                # One batch more than workers in flight: the next read overlaps the embeds.
                while len(in_flight) > workers:
                    yield _write(spec, writer, *in_flight.popleft())
            while in_flight:
                yield _write(spec, writer, *in_flight.popleft())
        finally:
            for _, future in in_flight:
                future.cancel()


def _write(
    spec: MigrationSpec, writer: _Writer, records: list[StoredRecord], future: Future[np.ndarray]
) -> int:
    if not records:
        future.result()
        return 0
    green = green_records(spec, records, future.result())
    writer.upsert(green)
    return len(green)


def green_records(
    spec: MigrationSpec, records: Sequence[StoredRecord], vectors: np.ndarray
) -> list[StoredRecord]:
    """Blue's records as green stores them: the candidate's vectors, green's tags."""
    stamp = datetime.now(UTC).isoformat()
    return [
        StoredRecord(
            id=r.id,
            document=r.document,
            embedding=vectors[i],
            metadata=green_metadata(spec, r.metadata, stamp),
        )
        for i, r in enumerate(records)
    ]


def green_metadata(spec: MigrationSpec, metadata: Any, stamp: str) -> dict[str, Any]:
    out = dict(metadata or {})
    out[spec.blue.model_key] = spec.candidate.model
    if spec.migration.version is not None:
        out[spec.blue.version_key] = spec.migration.version
    else:
        out.pop(spec.blue.version_key, None)
    out[EMBEDDED_AT_KEY] = stamp
    return out
