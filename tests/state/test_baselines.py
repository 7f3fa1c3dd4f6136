"""Baselines on both backends: one active per collection, history kept, vectors intact."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, update

from driftwatch.checks.base import Baseline, CanaryBaseline
from driftwatch.errors import StateError
from driftwatch.state.baselines import (
    active_baseline,
    save_baseline,
    vectors_from_npy,
    vectors_to_npy,
)
from driftwatch.state.db import StateDB, open_state
from driftwatch.state.models import BaselineRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def baseline(collection: str = "docs", model: str = "all-MiniLM-L6-v2", hours: int = 0) -> Baseline:
    rng = np.random.default_rng(hours)
    vectors = rng.standard_normal((5, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Baseline(
        collection=collection,
        model=model,
        created_at=T0 + timedelta(hours=hours),
        dimension=384,
        fingerprint_texts=[f"text {i}" for i in range(5)],
        fingerprint_vectors=vectors,
        canaries=[CanaryBaseline(query="reset password", ids=["doc-1", "doc-2"], scores=[0.8])],
        scores=[0.8, 0.75, 0.7],
    )


def same(a: Baseline, b: Baseline) -> bool:
    return (
        (a.collection, a.model, a.created_at, a.dimension, a.fingerprint_texts)
        == (b.collection, b.model, b.created_at, b.dimension, b.fingerprint_texts)
        and a.canaries == b.canaries
        and a.scores == b.scores
        and b.fingerprint_vectors.dtype == np.float32
        and np.array_equal(a.fingerprint_vectors, b.fingerprint_vectors)
    )


def stored_ids(db: StateDB, collection: str) -> list[int]:
    """Ids of every stored baseline of ``collection`` (history included), newest first."""
    query = (
        select(BaselineRow.id)
        .where(BaselineRow.collection == collection)
        .order_by(BaselineRow.created_at.desc(), BaselineRow.id.desc())
    )
    with db.session() as session:
        return list(session.scalars(query))


def test_no_baseline_until_one_is_saved(state_db: StateDB) -> None:
    assert active_baseline(state_db, "docs") is None
    assert stored_ids(state_db, "docs") == []


def test_saved_baseline_reads_back_bit_for_bit(state_db: StateDB) -> None:
    original = baseline()
    new_id = save_baseline(state_db, original)
    back = active_baseline(state_db, "docs")
    assert back is not None
    assert back.id == new_id
    assert same(original, back)


def test_force_replaces_the_active_baseline_and_keeps_the_old_one(state_db: StateDB) -> None:
    first_id = save_baseline(state_db, baseline(hours=0))
    second_id = save_baseline(state_db, baseline(model="paraphrase-MiniLM-L3-v2", hours=1))

    active = active_baseline(state_db, "docs")
    assert active is not None
    assert (active.id, active.model) == (second_id, "paraphrase-MiniLM-L3-v2")
    assert stored_ids(state_db, "docs") == [second_id, first_id]
    with state_db.session() as session:
        flags = {row.id: row.active for row in session.scalars(select(BaselineRow))}
    assert flags == {first_id: False, second_id: True}


def test_collections_keep_their_own_baseline(state_db: StateDB) -> None:
    docs_id = save_baseline(state_db, baseline("docs"))
    faq_id = save_baseline(state_db, baseline("faq", hours=2))
    docs, faq = active_baseline(state_db, "docs"), active_baseline(state_db, "faq")
    assert docs is not None and faq is not None
    assert (docs.id, faq.id) == (docs_id, faq_id)


def test_failed_save_leaves_the_previous_baseline_active(state_db: StateDB) -> None:
    kept_id = save_baseline(state_db, baseline())
    broken = baseline(hours=1)
    broken = Baseline(**{**broken.__dict__, "created_at": datetime(2026, 3, 2)})
    with pytest.raises(StateError, match="naive datetime"):
        save_baseline(state_db, broken)
    active = active_baseline(state_db, "docs")
    assert active is not None and active.id == kept_id
    assert len(stored_ids(state_db, "docs")) == 1


def test_concurrent_saves_leave_exactly_one_active(state_url: str) -> None:
    dbs = [open_state(state_url) for _ in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(db: StateDB, hours: int) -> None:
        start.wait()
        try:
            for i in range(5):
                save_baseline(db, baseline(hours=hours + i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(db, 10 * n)) for n, db in enumerate(dbs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        with dbs[0].session() as session:
            active = session.scalar(
                select(func.count()).select_from(BaselineRow).where(BaselineRow.active)
            )
        assert active == 1
        assert len(stored_ids(dbs[0], "docs")) == 10
    finally:
        for db in dbs:
            db.close()


def test_unreadable_vectors_are_a_clear_error_and_never_unpickled(state_db: StateDB) -> None:
    new_id = save_baseline(state_db, baseline())
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"payload": 1}], dtype=object), allow_pickle=True)
    pickled = buffer.getvalue()
    with state_db.session() as session:
        session.execute(
            update(BaselineRow).where(BaselineRow.id == new_id).values(fingerprint_vectors=pickled)
        )
    with pytest.raises(
        StateError, match=f"baseline {new_id} of collection 'docs'.*--force"
    ) as caught:
        active_baseline(state_db, "docs")
    assert "allow_pickle" in str(caught.value)


def test_npy_round_trip_is_float32() -> None:
    vectors = np.arange(12, dtype=np.float64).reshape(3, 4)
    back = vectors_from_npy(vectors_to_npy(vectors))
    assert back.dtype == np.float32
    assert np.array_equal(back, vectors.astype(np.float32))
