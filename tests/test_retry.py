from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from driftwatch.retry import backoff_seconds, retry_after_seconds

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CAP = 120.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": " 0.5 "}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "nan", "retry-after": "9"}, 9.0),
        ({"retry-after": format_datetime(NOW + timedelta(seconds=30), usegmt=True)}, 30.0),
        ({"retry-after": "Thu, 01 Jan 2026 12:01:30 GMT"}, 90.0),
        ({"retry-after": format_datetime(NOW - timedelta(seconds=30), usegmt=True)}, 0.0),
        ({"retry-after": "86400"}, CAP),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after-ms": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers), CAP, now=NOW) == expected


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    assert backoff_seconds(1, 2.0, 60.0, 0.5) == 1.0
    assert backoff_seconds(3, 2.0, 60.0, 0.999) == pytest.approx(8.0 * 0.999)
    assert backoff_seconds(10, 2.0, 60.0, 0.999) == pytest.approx(60.0 * 0.999)
    assert backoff_seconds(4, 2.0, 60.0, 0.0) == 0.0
