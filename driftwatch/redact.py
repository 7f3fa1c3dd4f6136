"""Keep secrets out of logs, metrics and status output."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """Show where a URL points without the parts that carry secrets.

    Slack webhook URLs carry their secret in the path and some feeds in the
    query string or user-info, so only scheme and host survive:
    ``https://hooks.slack.com/services/T/B/X`` -> ``https://hooks.slack.com/…``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if not parts.scheme or not parts.hostname:
        return "<redacted>"
    host = parts.hostname
    if parts.port:
        host = f"{host}:{parts.port}"
    suffix = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return urlunsplit((parts.scheme, host, "", "", "")) + suffix
