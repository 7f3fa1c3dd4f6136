"""Job leases: exactly one replica runs a job per period, on both backends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta

from sqlalchemy import select

from driftwatch.state.db import StateDB, open_state
from driftwatch.state.leases import heartbeat, release, try_acquire
from driftwatch.state.models import JobLeaseRow
from driftwatch.state.owner import new_owner, owner_dead

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


def _dead_pid() -> int:
    """The pid of a real process of this host that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def test_a_lease_held_by_a_dead_process_on_this_host_is_taken_over_at_once(
    state_db: StateDB,
) -> None:
    dead = f"{socket.gethostname()}:{_dead_pid()}:0badc0de"
    assert owner_dead(dead)
    assert try_acquire(state_db, "check:docs:version_mix", dead, HOUR)
    # A restarted daemon does not wait the hour out.
    assert try_acquire(state_db, "check:docs:version_mix", new_owner(), HOUR)
    assert not try_acquire(state_db, "check:docs:version_mix", "replica-b", HOUR)


def test_live_holders_and_other_hosts_keep_their_leases(state_db: StateDB) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        try:
            live = f"{socket.gethostname()}:{alive.pid}:feedbeef"
            elsewhere = f"another-host.invalid:{_dead_pid()}:feedbeef"
            assert try_acquire(state_db, "job-live", live, HOUR)
            assert try_acquire(state_db, "job-elsewhere", elsewhere, HOUR)
            assert not owner_dead(live)
            assert not owner_dead(elsewhere)  # cannot tell from here: trusted until expiry
            assert not try_acquire(state_db, "job-live", new_owner(), HOUR)
            assert not try_acquire(state_db, "job-elsewhere", new_owner(), HOUR)
        finally:
            alive.kill()


def test_owner_ids_name_this_host_and_pid_and_never_repeat() -> None:
    me, other = new_owner(), new_owner()
    assert me != other  # two holders in one process (replicas in a test) stay apart
    for owner in (me, other):
        host, pid, _ = owner.rsplit(":", 2)
        assert (host, int(pid)) == (socket.gethostname(), os.getpid())
        assert not owner_dead(owner)


def test_the_heartbeat_always_writes_and_drops_expired_rows(state_db: StateDB) -> None:
    heartbeat(state_db, "gone-replica", timedelta(0))
    heartbeat(state_db, "me", HOUR)
    with state_db.session() as session:
        names = set(session.scalars(select(JobLeaseRow.name)))
    assert names == {"heartbeat:me"}
