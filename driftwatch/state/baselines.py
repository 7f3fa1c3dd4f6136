"""Baselines: the known-good state each drift check compares against.

Each collection has at most one active baseline. Saving a new one (``driftwatch
baseline --force``) deactivates the previous one in the same transaction, so a
reader sees either the old or the new baseline, never none or two; the old
ones stay as history. Fingerprint vectors are stored as ``.npy`` bytes and read
back without pickle, so a tampered row cannot run code.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
from sqlalchemy import Select, select, text, update
from sqlalchemy.orm import Session

from driftwatch.checks.base import Baseline, CanaryBaseline
from driftwatch.errors import StateError
from driftwatch.state.db import StateDB
from driftwatch.state.models import BaselineRow


def save_baseline(db: StateDB, baseline: Baseline) -> int:
    """Store ``baseline`` as the active one of its collection; returns its id."""
    row = BaselineRow(
        collection=baseline.collection,
        model=baseline.model,
        created_at=baseline.created_at,
        active=True,
        dimension=baseline.dimension,
        fingerprint_texts=list(baseline.fingerprint_texts),
        fingerprint_vectors=vectors_to_npy(baseline.fingerprint_vectors),
        canaries=[_canary_json(c) for c in baseline.canaries],
        scores=[float(s) for s in baseline.scores],
        reference_vectors=(
            None
            if baseline.reference_vectors is None
            else vectors_to_npy(baseline.reference_vectors)
        ),
        reference_tags=baseline.reference_tags,
        write_position=baseline.write_position,
    )
    with db.session() as session:
        _lock_collection(session, baseline.collection)
        session.execute(
            update(BaselineRow)
            .where(BaselineRow.collection == baseline.collection, BaselineRow.active)
            .values(active=False)
        )
        session.add(row)
        session.flush()
        return row.id


def active_baseline(db: StateDB, collection: str) -> Baseline | None:
    """The active baseline of ``collection``, or None if none was ever captured."""
    query = _of(collection).where(BaselineRow.active).limit(1)
    with db.session() as session:
        row = session.scalars(query).first()
        return None if row is None else _to_baseline(row)


def vectors_to_npy(vectors: np.ndarray) -> bytes:
    """float32 ``.npy`` bytes of a vector matrix."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def vectors_from_npy(data: bytes) -> np.ndarray:
    """The matrix back from ``vectors_to_npy`` bytes; pickled objects are refused."""
    return np.load(io.BytesIO(data), allow_pickle=False)  # type: ignore[no-any-return]


def _canary_json(canary: CanaryBaseline) -> dict[str, Any]:
    data: dict[str, Any] = {
        "query": canary.query,
        "ids": list(canary.ids),
        "scores": [float(s) for s in canary.scores],
    }
    if canary.vector is not None:
        data["vector"] = [float(x) for x in canary.vector]
    return data


def _of(collection: str) -> Select[BaselineRow]:
    return (
        select(BaselineRow)
        .where(BaselineRow.collection == collection)
        .order_by(BaselineRow.created_at.desc(), BaselineRow.id.desc())
    )


def _lock_collection(session: Session, collection: str) -> None:
    """Serialise baseline writers of one collection so exactly one row stays active.

    SQLite transactions already start with the write lock (BEGIN IMMEDIATE);
    on PostgreSQL two replicas could otherwise each deactivate nothing and insert.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"driftwatch-baseline:{collection}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _to_baseline(row: BaselineRow) -> Baseline:
    try:
        vectors = vectors_from_npy(row.fingerprint_vectors)
    except (ValueError, OSError, EOFError) as exc:
        raise StateError(
            f"baseline {row.id} of collection {row.collection!r}: fingerprint vectors "
            f"are not a readable .npy array ({exc}); capture a new one with "
            "`driftwatch baseline --force`"
        ) from exc
    return Baseline(
        collection=row.collection,
        model=row.model,
        created_at=row.created_at,
        dimension=row.dimension,
        fingerprint_texts=list(row.fingerprint_texts),
        fingerprint_vectors=vectors,
        canaries=[
            CanaryBaseline(
                query=c["query"],
                ids=list(c["ids"]),
                scores=list(c["scores"]),
                vector=None if c.get("vector") is None else list(c["vector"]),
            )
            for c in row.canaries
        ],
        scores=list(row.scores),
        id=row.id,
        reference_vectors=_reference_vectors(row),
        reference_tags=None if row.reference_tags is None else list(row.reference_tags),
        write_position=row.write_position,
    )


def _reference_vectors(row: BaselineRow) -> np.ndarray | None:
    """The population check's reference sample; an unreadable one is dropped, not fatal
    (the population check then asks for ``baseline --force``; the other checks go on)."""
    if row.reference_vectors is None:
        return None
    try:
        return vectors_from_npy(row.reference_vectors)
    except (ValueError, OSError, EOFError):
        return None
