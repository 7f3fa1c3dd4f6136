"""The exception hierarchy.

Everything driftwatch raises on purpose derives from ``DriftwatchError`` so the
CLI and the daemon can tell an expected, explainable failure (exit code 2, an
"error" CheckResult, a counted feed error) from a bug::

    DriftwatchError
    ├── ConfigError                  the config file is missing, unreadable or invalid
    │                                (``problems`` lists every "path: message")
    ├── StateError                   the state database cannot be opened or migrated
    ├── StoreError                   a vector store failed
    │   ├── StoreUnavailable         server unreachable, timed out, store cannot be opened
    │   └── CollectionNotFound       the named collection does not exist
    ├── EmbedderError                an embedder failed
    │   ├── EmbedderUnavailable      endpoint unreachable / model file missing
    │   └── EmbedderResponseError    the endpoint answered, but not with usable vectors
    ├── BaselineMissing              a check needs a baseline and none was captured
    ├── FeedError                    a deprecation feed could not be used
    │   ├── FeedFetchError           network, HTTP status, redirect loop, body too large
    │   └── FeedParseError           malformed XML/JSON, HTML instead of a feed, entity bomb
    └── NotifyError                  a notification was not accepted
        ├── NotifyRetryLater         the receiver asked us to come back (``retry_after_s``)
        └── WebhookRejected          refused for good (4xx: invalid_payload, no_service, ...)

Messages name the thing at fault (the store, collection, embedder, feed or
config path) and never contain a secret: URLs are shown through
``driftwatch.redact.redact_url``.
"""

from __future__ import annotations


class DriftwatchError(Exception):
    """Base class of every error driftwatch raises on purpose."""


class ConfigError(DriftwatchError):
    """The configuration cannot be used; ``problems`` holds every "path: message"."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid configuration{where}:\n{lines}")


class StateError(DriftwatchError):
    """The state database cannot be opened, migrated or written."""


class StoreError(DriftwatchError):
    """A vector store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened."""


class CollectionNotFound(StoreError):
    """The collection named in the config does not exist in the store."""


class EmbedderError(DriftwatchError):
    """An embedder failed."""


class EmbedderUnavailable(EmbedderError):
    """The embedder cannot be reached or loaded."""


class EmbedderResponseError(EmbedderError):
    """The embedder answered, but not with usable vectors."""


class BaselineMissing(DriftwatchError):
    """A check compares against a baseline and none exists for the collection."""


class FeedError(DriftwatchError):
    """A deprecation feed could not be used."""


class FeedFetchError(FeedError):
    """The feed could not be fetched (network, status, redirects, size)."""


class FeedParseError(FeedError):
    """The feed body is not a usable feed."""


class NotifyError(DriftwatchError):
    """A notification was not accepted by its receiver."""


class NotifyRetryLater(NotifyError):
    """The receiver asked to retry later (HTTP 429 with Retry-After)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WebhookRejected(NotifyError):
    """The receiver refused the message for good (4xx: invalid_payload, no_service, ...)."""


def store_unreachable(error_kind: object) -> bool:
    """True if ``error_kind`` (a CheckResult's ``detail["error"]``, the exception's class
    name) is StoreUnavailable or a subclass: the store, not the check, failed."""
    pending: list[type[StoreUnavailable]] = [StoreUnavailable]
    while pending:
        cls = pending.pop()
        if cls.__name__ == error_kind:
            return True
        pending += cls.__subclasses__()
    return False
