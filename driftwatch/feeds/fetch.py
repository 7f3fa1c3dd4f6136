"""Fetch one feed over HTTP, defensively.

- connect and read timeouts are ``FeedConfig.timeout``, and the whole fetch
  (redirects and body included) must also finish within it, so a server that
  drips one byte at a time cannot hold the watcher;
- the body is streamed and abandoned past ``FeedConfig.max_bytes``;
- at most ``MAX_REDIRECTS`` redirects are followed, a loop is named as one;
- conditional GET: the ETag / Last-Modified of the last good fetch are sent
  back, and ``304 Not Modified`` is a success with no body.

Every failure is a ``FeedFetchFailed`` carrying a low-cardinality ``reason``
(the ``driftwatch_feed_errors_total`` label) and a message naming the feed;
URLs in messages go through ``redact_url``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin

import httpx

from driftwatch import __version__
from driftwatch.config import FeedConfig
from driftwatch.errors import FeedFetchError
from driftwatch.redact import redact_url

MAX_REDIRECTS = 5
USER_AGENT = f"driftwatch/{__version__} (+https://github.com/driftwatch/driftwatch)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
_REDIRECT_CODES = {301, 302, 303, 307, 308}


class FeedFetchFailed(FeedFetchError):
    """A fetch failure with the reason label it is counted under."""

    def __init__(self, feed: str, reason: str, detail: str) -> None:
        super().__init__(f"feed {feed}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class FetchResult:
    """A fetched body, or ``not_modified`` (empty body) after a 304."""

    status: Literal["ok", "not_modified"]
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None


def fetch_feed(
    client: httpx.Client,
    feed: FeedConfig,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """GET the feed following up to MAX_REDIRECTS redirects; raises FeedFetchFailed."""
    label = feed.label
    timeout_s = feed.timeout.total_seconds()
    deadline = time.monotonic() + timeout_s
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    url = feed.url
    seen = {url}
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with client.stream(
                "GET",
                url,
                headers=headers,
                timeout=httpx.Timeout(timeout_s),
                follow_redirects=False,
            ) as response:
                if response.status_code in _REDIRECT_CODES:
                    url = _next_url(label, url, response, seen)
                    continue
                if response.status_code == 304:
                    return FetchResult("not_modified", b"", None, etag, last_modified)
                _check_status(label, url, response.status_code)
                body = _read_limited(label, response, feed.max_bytes, deadline, timeout_s)
                return FetchResult(
                    "ok",
                    body,
                    response.headers.get("content-type"),
                    response.headers.get("etag"),
                    response.headers.get("last-modified"),
                )
        except httpx.TimeoutException:
            raise FeedFetchFailed(
                label, "timeout", f"no answer from {redact_url(url)} within {timeout_s:g} s"
            ) from None
        except httpx.ConnectError as exc:
            raise FeedFetchFailed(
                label, "connect", f"cannot connect to {redact_url(url)}: {exc}"
            ) from None
        except httpx.HTTPError as exc:
            raise FeedFetchFailed(
                label, "protocol", f"HTTP error from {redact_url(url)}: {type(exc).__name__}"
            ) from None
    raise FeedFetchFailed(
        label, "redirects", f"more than {MAX_REDIRECTS} redirects, last to {redact_url(url)}"
    )


def _next_url(label: str, url: str, response: httpx.Response, seen: set[str]) -> str:
    location = response.headers.get("location")
    if not location:
        raise FeedFetchFailed(
            label, "redirects", f"redirect {response.status_code} without a Location header"
        )
    target = str(urljoin(url, location))
    if target in seen:
        raise FeedFetchFailed(
            label, "redirect_loop", f"redirect loop: {redact_url(target)} was already visited"
        )
    seen.add(target)
    return target


def _check_status(label: str, url: str, status: int) -> None:
    if 200 <= status < 300:
        return
    if status in (404, 410):
        reason = f"http_{status}"
    elif status >= 500:
        reason = "http_5xx"
    else:
        reason = "http_4xx"
    raise FeedFetchFailed(label, reason, f"HTTP {status} from {redact_url(url)}")


def _read_limited(
    label: str, response: httpx.Response, max_bytes: int, deadline: float, timeout_s: float
) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FeedFetchFailed(
            label, "too_large", f"body of {declared} bytes exceeds the limit of {max_bytes}"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FeedFetchFailed(
                label, "too_large", f"body exceeds the limit of {max_bytes} bytes; download stopped"
            )
        if time.monotonic() > deadline:
            raise FeedFetchFailed(
                label, "timeout", f"download took longer than {timeout_s:g} s; stopped"
            )
        chunks.append(chunk)
    return b"".join(chunks)
