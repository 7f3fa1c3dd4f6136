from __future__ import annotations

import pytest

from driftwatch.redact import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/SECRET", "https://hooks.slack.com/…"),
        ("https://user:pw@feeds.example.org:8443/a?token=x", "https://feeds.example.org:8443/…"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("not a url", "<redacted>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "SECRET" not in redact_url(url) and "pw" not in redact_url(url)
