"""Repository functions for feed_state and deprecation_notices, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from driftwatch.state import feeds as repo
from driftwatch.state.db import StateDB
from driftwatch.state.models import DeprecationNoticeRow

T0 = datetime(2025, 12, 1, tzinfo=UTC)


def _notice(entry_id: str = "e-1", content_hash: str = "h1", **kw: object) -> DeprecationNoticeRow:
    values: dict[str, object] = {
        "model": "text-embedding-ada-002",
        "provider": "openai",
        "feed": "azure",
        "entry_id": entry_id,
        "content_hash": content_hash,
        "title": "retirements",
        "link": None,
        "matched_as": "text-embedding-ada-002",
        "needs_review": False,
        "published_at": T0,
        "shutdown_on": date(2026, 10, 30),
        "first_seen_at": T0,
        "superseded": False,
        **kw,
    }
    return DeprecationNoticeRow(**values)


def test_feed_state_success_then_failure(state_db: StateDB) -> None:
    url = "https://example.org/feed.xml"
    with state_db.session() as s:
        assert repo.get_feed_state(s, url) is None
        repo.record_feed_success(
            s, url=url, feed="azure", at=T0, etag='"v1"', last_modified="lm", entries=7
        )
    later = T0 + timedelta(hours=6)
    with state_db.session() as s:
        repo.record_feed_failure(s, url=url, feed="azure", at=later, error="feed azure: HTTP 500")
    with state_db.session() as s:
        row = repo.get_feed_state(s, url)
        assert row is not None
        assert (row.etag, row.last_modified, row.entries) == ('"v1"', "lm", 7)
        assert (row.last_success_at, row.last_attempt_at) == (T0, later)
        assert row.last_error == "feed azure: HTTP 500"
        # A 304 keeps the entry count it does not know.
        repo.record_feed_success(
            s, url=url, feed="azure", at=later, etag='"v1"', last_modified="lm", entries=None
        )
    with state_db.session() as s:
        row = repo.get_feed_state(s, url)
        assert row is not None
        assert (row.entries, row.last_error, row.last_success_at) == (7, None, later)


def test_notice_versions_and_notification(state_db: StateDB) -> None:
    with state_db.session() as s:
        s.add(_notice())
    with state_db.session() as s:
        first = repo.find_notice(s, "text-embedding-ada-002", "azure", "e-1", "h1")
        assert first is not None
        assert repo.find_notice(s, "text-embedding-ada-002", "azure", "e-1", "h2") is None
        assert repo.current_notice(s, "text-embedding-ada-002", "azure", "e-1") == first
        assert repo.mark_notified(s, [first.id], T0) == 1
        assert repo.mark_notified(s, [first.id], T0 + timedelta(days=1)) == 0
        assert repo.mark_notified(s, [], T0) == 0
        first.superseded = True
        s.add(_notice(content_hash="h2", shutdown_on=date(2026, 12, 1)))
    with state_db.session() as s:
        current = repo.current_notice(s, "text-embedding-ada-002", "azure", "e-1")
        assert current is not None and current.content_hash == "h2"
        assert current.notified_at is None
        assert [r.content_hash for r in repo.active_notices(s)] == ["h2"]
        assert repo.was_notified_before(s, "text-embedding-ada-002", "azure", "e-1")
        assert not repo.was_notified_before(s, "text-embedding-ada-002", "azure", "e-2")
        old = repo.find_notice(s, "text-embedding-ada-002", "azure", "e-1", "h1")
        assert old is not None and old.notified_at == T0


def _version(content_hash: str, shutdown: date, **kw: object) -> repo.NoticeVersion:
    values: dict[str, object] = {
        "model": "text-embedding-ada-002",
        "provider": "openai",
        "feed": "azure",
        "entry_id": "e-1",
        "content_hash": content_hash,
        "title": "retirements",
        "link": None,
        "matched_as": "text-embedding-ada-002",
        "needs_review": False,
        "published_at": T0,
        "deprecated_on": None,
        "shutdown_on": shutdown,
        "earliest_shutdown_on": None,
        "replacement": "text-embedding-3-small",
        **kw,
    }
    return repo.NoticeVersion(**values)  # type: ignore[arg-type]


def _record(state_db: StateDB, version: repo.NoticeVersion) -> bool:
    with state_db.session() as s:
        return repo.record_notice(s, version, T0)


def _notify_current(state_db: StateDB) -> None:
    with state_db.session() as s:
        repo.mark_notified(s, [r.id for r in repo.active_notices(s)], T0)


def test_record_notice_versions_an_entry(state_db: StateDB) -> None:
    oct30, dec1 = date(2026, 10, 30), date(2026, 12, 1)
    assert _record(state_db, _version("h1", oct30)) is True  # new: news
    assert _record(state_db, _version("h1", oct30)) is False  # seen: nothing new
    _notify_current(state_db)
    # Reworded, same dates: already told.
    assert _record(state_db, _version("h2", oct30)) is False
    # The date moved: news again.
    assert _record(state_db, _version("h3", dec1)) is True
    _notify_current(state_db)
    # Edited back to the first version, whose date differs from the current one: news.
    assert _record(state_db, _version("h1", oct30)) is True
    with state_db.session() as s:
        (current,) = repo.active_notices(s)
        assert (current.content_hash, current.shutdown_on, current.notified_at) == (
            "h1",
            oct30,
            None,
        )
        assert current.replacement == "text-embedding-3-small"


def test_record_notice_bounds_what_it_stores(state_db: StateDB) -> None:
    long_id = "https://example.org/" + "x" * 2000
    version = _version("h1", date(2026, 10, 30), entry_id=long_id, replacement="m" * 400)
    assert _record(state_db, version) is True
    assert _record(state_db, version) is False  # found again under the same bounded id
    with state_db.session() as s:
        (row,) = repo.active_notices(s)
        assert row.entry_id == repo.bounded_entry_id(long_id)
        assert row.entry_id.startswith("sha256:") and len(row.entry_id) <= repo.MAX_ENTRY_ID
        assert row.replacement == "m" * repo.MAX_NAME
