"""Is the state database doing its job right now, and if not, why.

Every ``StateDB.session()`` reports here: a failed transaction (a full disk,
a lost connection, a vanished file) marks the database down at once with the
driver's reason; a transaction that wrote something and committed counts as a
success. Reads alone never mark it up: a full SQLite disk still answers
SELECTs, and a database that can only be read cannot record history, leases,
baselines or notifications.

It comes back up only after writes have succeeded for ``hold`` without a new
failure, so a database that fails every few writes stays down instead of
flapping between scrapes (which would reset the alert's ``for:`` timer and
let on-call believe it recovered). The daemon's periodic state probe writes
once per interval, so recovery is seen within ``hold`` plus one interval.

This object drives ``driftwatch_state_db_up`` and ``/readyz``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DEFAULT_HOLD = timedelta(seconds=60)


@dataclass
class StateHealth:
    """Thread-safe record of the last failure and the last successful write."""

    hold: timedelta = DEFAULT_HOLD
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _failed_at: float | None = None  # time.monotonic() of the last failure
    _failed_wall: datetime | None = None
    _reason: str = ""
    _wrote_at: float | None = None

    def failed(self, reason: str) -> None:
        """A state operation failed; ``reason`` must name no secret (callers redact URLs)."""
        with self._lock:
            self._failed_at = time.monotonic()
            self._failed_wall = datetime.now(UTC)
            self._reason = reason

    def wrote(self) -> None:
        """A transaction that wrote something committed."""
        with self._lock:
            self._wrote_at = time.monotonic()

    def status(self) -> tuple[bool, str]:
        """(up, reason): reason says what failed and when, or "ok"."""
        with self._lock:
            failed_at, wrote_at, reason, wall = (
                self._failed_at,
                self._wrote_at,
                self._reason,
                self._failed_wall,
            )
        if failed_at is None:
            return True, "ok"
        recovered = wrote_at is not None and wrote_at > failed_at
        if recovered and time.monotonic() - failed_at >= self.hold.total_seconds():
            return True, "ok"
        since = f" (last failure {wall:%Y-%m-%d %H:%M:%S} UTC)" if wall is not None else ""
        if recovered:
            return False, f"recovering after a state write failure: {reason}{since}"
        return False, f"{reason}{since}"

    @property
    def up(self) -> bool:
        return self.status()[0]
