"""Keep secrets out of logs, metrics and status output."""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """Show where a URL points without the parts that carry secrets.

    Slack webhook URLs carry their secret in the path and some feeds in the
    query string or user-info, so only scheme and host survive:
    ``https://hooks.slack.com/services/T/B/X`` -> ``https://hooks.slack.com/…``.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<unparseable url>"
    if not parts.scheme or userinfo_unencoded(url):
        return "<redacted>"  # the "host" might be part of a password
    if not parts.hostname:  # a unix socket (postgresql://app:pw@/db?host=/run/pg)
        return f"{parts.scheme}://…"
    host = parts.hostname
    if port:
        host = f"{host}:{port}"
    suffix = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return urlunsplit((parts.scheme, host, "", "", "")) + suffix


def userinfo_unencoded(url: str) -> bool:
    """Whether ``url``'s user-info holds a character that must be percent-encoded
    there (``@``, ``/``, ``?``, ``#``). Parsers then split the URL elsewhere than
    its author meant, and the password turns up as a host, port or database name,
    which messages show: such a URL is refused before anything parses it."""
    rest = url.partition("://")[2]
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    if "@" not in rest or authority_end == 0:  # no host (sqlite:///PATH): no user-info
        return False
    return rest.count("@") > 1 or rest.find("@") > authority_end


# Secret values known to this process (config SecretStr values and the secret
# parts of secret URLs). Every log line passes through ``scrub``, so a secret
# echoed back by a peer (a receiver's error body repeating the request path) is
# masked wherever it appears, not only where we print the URL ourselves.
_MASK = "<redacted>"
_MIN_SECRET_CHARS = 6  # shorter parts ("v1", "api") are not secret and too common to mask


class _SecretValues:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, values: set[str]) -> None:
        with self._lock:
            if values <= self._values:
                return
            self._values |= values
            ordered = sorted(self._values, key=len, reverse=True)  # longest first
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(_MASK, text) if pattern is not None and text else text


_SECRETS = _SecretValues()


def register_secret(value: str) -> None:
    """Mask ``value`` in every log line from now on; for a URL, also each path
    segment, query value and password long enough to be a secret."""
    value = value.strip()
    parts = {value}
    try:
        url = urlsplit(value)
    except ValueError:
        url = None
    if url is not None and url.scheme and url.hostname:
        segments = [unquote(p) for p in url.path.split("/") if p]
        # The last segment is a webhook's token; earlier ones are secret when
        # they look generated (a digit, or long), not words like "services".
        parts.update(segments[-1:])
        parts.update(p for p in segments if any(c.isdigit() for c in p) or len(p) >= 16)
        parts.update(v for _, v in parse_qsl(url.query))
        parts.add(unquote(url.password or ""))
        parts.discard(url.hostname)  # where it points is not the secret
    _SECRETS.add({p for p in parts if len(p) >= _MIN_SECRET_CHARS})


def register_url_password(url: str) -> None:
    """Mask the password of a database URL (not its path: that is a database name)."""
    try:
        password = urlsplit(url.strip()).password
    except ValueError:
        return
    if password:
        _SECRETS.add({unquote(password)} if len(password) >= _MIN_SECRET_CHARS else set())


def scrub(text: str) -> str:
    """``text`` with every registered secret value masked."""
    return _SECRETS.scrub(text)
