"""Job leases: exactly one replica runs a job per period, on both backends."""

from __future__ import annotations

import threading
from datetime import timedelta

from driftwatch.state.db import StateDB, open_state
from driftwatch.state.leases import release, try_acquire

HOUR = timedelta(hours=1)


def test_a_held_lease_is_refused_to_others_and_renewed_for_its_holder(state_db: StateDB) -> None:
    assert try_acquire(state_db, "check:docs:canary", "replica-a", HOUR)
    assert not try_acquire(state_db, "check:docs:canary", "replica-b", HOUR)
    assert try_acquire(state_db, "check:docs:canary", "replica-a", HOUR)
    assert try_acquire(state_db, "check:docs:version_mix", "replica-b", HOUR)


def test_release_frees_the_lease_only_for_its_holder(state_db: StateDB) -> None:
    assert try_acquire(state_db, "job", "replica-a", HOUR)
    release(state_db, "job", "replica-b")  # not the holder: no effect
    assert not try_acquire(state_db, "job", "replica-b", HOUR)
    release(state_db, "job", "replica-a")
    assert try_acquire(state_db, "job", "replica-b", HOUR)


def test_an_expired_lease_can_be_taken_over(state_db: StateDB) -> None:
    assert try_acquire(state_db, "job", "replica-a", timedelta(0))
    assert try_acquire(state_db, "job", "replica-b", HOUR)
    assert not try_acquire(state_db, "job", "replica-a", HOUR)


def test_racing_replicas_get_each_lease_exactly_once(state_url: str) -> None:
    rounds = 25
    replicas = {f"replica-{n}": open_state(state_url) for n in range(2)}
    start = threading.Barrier(len(replicas))
    won: dict[str, list[int]] = {owner: [] for owner in replicas}
    errors: list[BaseException] = []

    def race(owner: str, db: StateDB) -> None:
        try:
            for i in range(rounds):
                start.wait()
                if try_acquire(db, f"job-{i}", owner, HOUR):
                    won[owner].append(i)
        except BaseException as exc:
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=race, args=item) for item in replicas.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        winners = sorted(i for rounds_won in won.values() for i in rounds_won)
        assert winners == list(range(rounds))  # every round won, by exactly one replica
    finally:
        for db in replicas.values():
            db.close()
