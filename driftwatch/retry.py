"""One retry policy for every HTTP peer (embedding endpoints, Slack, webhooks).

- ``retry_after_seconds``: what the server asked for (``retry-after-ms`` or
  ``Retry-After`` as seconds or an HTTP date), capped by the caller, because how
  long is worth waiting differs: a check must finish within its cycle, a queued
  notification can wait an hour.
- ``backoff_seconds``: exponential backoff with full jitter (uniform in
  ``[0, min(cap, base * 2^(attempt-1))]``), so that replicas retrying the same
  dead peer spread out instead of arriving together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(
    headers: Mapping[str, str], cap_s: float, now: datetime | None = None
) -> float | None:
    """Seconds a server asked us to wait, at most ``cap_s``; None if it asked nothing usable.

    ``headers`` must look up names case-insensitively (``httpx.Headers`` does).
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        seconds = _number(millis)
        if seconds is not None:
            return min(seconds / 1000, cap_s)
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    seconds = _number(value)
    if seconds is None:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return min(seconds, cap_s)


def backoff_seconds(attempt: int, base_s: float, cap_s: float, jitter: float) -> float:
    """Delay before retry number ``attempt`` (1-based); ``jitter`` is uniform in [0, 1)."""
    ceiling = min(cap_s, base_s * 2.0 ** max(attempt - 1, 0))
    return jitter * ceiling


def _number(text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    if not 0 <= seconds < float("inf"):
        return None
    return seconds
