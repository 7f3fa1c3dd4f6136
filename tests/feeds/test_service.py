"""The feed watcher end to end: real HTTP server, real state DB, a registry of its own."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from driftwatch.config import Config, parse_config
from driftwatch.feeds.service import FeedWatcher
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.state.db import StateDB
from driftwatch.state.models import CheckResultRow
from tests.feeds import samples
from tests.support.loopback import LoopbackServer, Reply, Request

NOW = datetime(2025, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


class Feeds:
    """Feed bodies the test can change between checks, served with ETags."""

    def __init__(self, server: LoopbackServer, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.bodies: dict[str, Reply] = {}

    def serve(self, name: str, body: bytes | Reply) -> str:
        path = f"/{self.prefix}/{name}"
        self.bodies[path] = body if isinstance(body, Reply) else Reply(200, body)
        self.server.route(path, self._handle)
        return self.server.url(path)

    def _handle(self, req: Request) -> Reply:
        reply = self.bodies[req.path.split("?", 1)[0]]
        if reply.status != 200 or not isinstance(reply.body, bytes):
            return reply
        etag = f'"{hash(reply.body) & 0xFFFFFFFF:x}"'
        if req.headers.get("If-None-Match") == etag:
            return Reply(304)
        return Reply(200, reply.body, {"ETag": etag, **reply.headers})


@pytest.fixture
def feeds(server: LoopbackServer, request: pytest.FixtureRequest) -> Feeds:
    return Feeds(server, request.node.name.replace("[", "_").replace("]", ""))


def _config(feeds: list[dict[str, Any]], **extra: Any) -> Config:
    data = {
        "models": [
            {"id": "text-embedding-ada-002", "provider": "openai", "aliases": ["ada-002"]},
            {"id": "embed-english-v2.0", "provider": "cohere"},
            {
                "id": "text-similarity-davinci-001",
                "provider": "openai",
                "aliases": ["first-generation text embedding models"],
            },
        ],
        "embedders": {"live": {"kind": "onnx", "model": "all-MiniLM-L6-v2"}},
        "feeds": feeds,
        **extra,
    }
    return parse_config(data, env={})


def _watcher(config: Config, db: StateDB, registry: CollectorRegistry) -> FeedWatcher:
    return FeedWatcher(config, db, DriftwatchMetrics(registry), httpx.Client(), lambda: NOW)


def _midnight(day: date) -> float:
    return datetime.combine(day, time(0), tzinfo=UTC).timestamp()


OPENAI_RSS = samples.rss2(
    [
        {"id": "oa-1", "title": "Embeddings deprecation", "description": samples.OPENAI_NOTICE},
        {"id": "oa-2", "title": "New model", "description": "text-embedding-3-small launched."},
    ]
)
COHERE_JSON = samples.json_feed(
    [
        {
            "id": "c-1",
            "title": "Cohere v2 embeddings retired",
            "content_text": samples.COHERE_NOTICE,
            "date_published": "2026-04-01T00:00:00Z",
            "_deprecation": {"model": "embed-english-v2.0", "shutdown_on": "2026-04-04"},
        }
    ]
)


def test_check_all_matches_records_and_exports(
    state_db: StateDB, feeds: Feeds, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(
        [
            {"url": feeds.serve("azure.xml", samples.ATOM), "name": "azure"},
            {"url": feeds.serve("openai.xml", OPENAI_RSS), "name": "openai"},
            {"url": feeds.serve("cohere.json", COHERE_JSON), "name": "cohere"},
            {"url": feeds.serve("down.xml", Reply(500)), "name": "down"},
            {"url": feeds.serve("bomb.xml", samples.BILLION_LAUGHS), "name": "bomb"},
            {"url": feeds.serve("page.html", samples.HTML_PAGE), "name": "page"},
        ]
    )
    registry = CollectorRegistry()
    watcher = _watcher(config, state_db, registry)
    with caplog.at_level(logging.WARNING, logger="driftwatch.feeds.service"):
        report = watcher.check_all()

    status = {f.feed: (f.status, f.reason) for f in report.feeds}
    assert status == {
        "azure": ("ok", None),
        "openai": ("ok", None),
        "cohere": ("ok", None),
        "down": ("error", "http_5xx"),
        "bomb": ("error", "entities"),
        "page": ("error", "not_a_feed"),
    }
    logged = caplog.text
    for name in ("down", "bomb", "page"):
        assert f"feed {name}: " in logged

    notices = {n.model: n for n in report.notices}
    assert set(notices) == {
        "text-embedding-ada-002",
        "embed-english-v2.0",
        "text-similarity-davinci-001",
    }
    ada = notices["text-embedding-ada-002"]
    assert (ada.earliest_shutdown_on, ada.shutdown_on, ada.feed) == (
        date(2026, 10, 30),
        None,
        "azure",
    )
    assert ada.days_until_shutdown == (date(2026, 10, 30) - NOW.date()).days
    cohere = notices["embed-english-v2.0"]
    assert (cohere.shutdown_on, cohere.needs_review) == (date(2026, 4, 4), False)
    family = notices["text-similarity-davinci-001"]
    # The entry was published on 2023-07-06: that is the announcement, not the shutdown.
    assert (family.shutdown_on, family.needs_review) == (date(2024, 1, 4), True)
    assert family.announced == datetime(2023, 7, 6, 12, tzinfo=UTC)
    assert report.exit_code == 2  # three feeds failed: that wins over the notices

    sample = registry.get_sample_value
    for name in ("azure", "openai", "cohere"):
        assert sample("driftwatch_feed_up", {"feed": name}) == 1
        assert (
            sample("driftwatch_feed_last_success_timestamp_seconds", {"feed": name})
            == NOW.timestamp()
        )
        assert sample("driftwatch_feed_fetches_total", {"feed": name}) == 1
    assert sample("driftwatch_feed_entries", {"feed": "openai"}) == 2
    assert sample("driftwatch_feed_up", {"feed": "down"}) == 0
    assert sample("driftwatch_feed_errors_total", {"feed": "down", "reason": "http_5xx"}) == 1
    assert sample("driftwatch_feed_errors_total", {"feed": "bomb", "reason": "entities"}) == 1
    assert sample("driftwatch_feed_last_success_timestamp_seconds", {"feed": "down"}) is None

    labels = {"model": "text-embedding-ada-002", "provider": "openai"}
    assert sample("driftwatch_model_deprecation_notice", labels) == 1
    assert sample("driftwatch_model_shutdown_timestamp_seconds", labels) == _midnight(
        date(2026, 10, 30)
    )
    assert sample("driftwatch_model_deprecation_needs_review", labels) == 0
    review = {"model": "text-similarity-davinci-001", "provider": "openai"}
    assert sample("driftwatch_model_deprecation_needs_review", review) == 1
    local = {"model": "all-MiniLM-L6-v2", "provider": "local"}
    assert sample("driftwatch_model_deprecation_notice", local) == 0
    assert sample("driftwatch_model_shutdown_timestamp_seconds", local) is None


def test_nothing_is_notified_twice_across_restarts(state_db: StateDB, feeds: Feeds) -> None:
    config = _config(
        [
            {"url": feeds.serve("azure.xml", samples.ATOM), "name": "azure"},
            {"url": feeds.serve("cohere.json", COHERE_JSON), "name": "cohere"},
        ]
    )
    first = _watcher(config, state_db, CollectorRegistry())
    first.check_all()
    events = first.pending_events()
    assert sorted(e.model for e in events) == ["embed-english-v2.0", "text-embedding-ada-002"]
    assert not any(e.changed or e.conflict for e in events)
    assert first.mark_notified(events) == 2
    assert first.pending_events() == []

    # A new process on the same state DB: conditional GET, and no repeat of old news.
    registry = CollectorRegistry()
    second = _watcher(config, state_db, registry)
    report = second.check_all()
    assert [f.status for f in report.feeds] == ["not_modified", "not_modified"]
    assert second.pending_events() == []
    assert registry.get_sample_value("driftwatch_feed_up", {"feed": "azure"}) == 1
    assert registry.get_sample_value("driftwatch_feed_entries", {"feed": "azure"}) == 1
    assert [f.entries for f in report.feeds] == [1, 1]
    # Metrics come from the state DB, so a restarted daemon still exports the notice.
    labels = {"model": "embed-english-v2.0", "provider": "cohere"}
    assert registry.get_sample_value("driftwatch_model_shutdown_timestamp_seconds", labels) == (
        _midnight(date(2026, 4, 4))
    )

    # Even when the server ignores the validators and sends the whole feed again.
    # (a streamed body: the Feeds handler adds no ETag to it)
    feeds.bodies[f"/{feeds.prefix}/azure.xml"] = Reply(200, iter([samples.ATOM]))
    third = _watcher(config, state_db, CollectorRegistry())
    assert third.check_feed(config.feeds[0]).status == "ok"
    assert third.pending_events() == []


def _cohere(shutdown: str, wording: str = "") -> bytes:
    return samples.json_feed(
        [
            {
                "id": "c-1",
                "title": "Cohere v2 embeddings retired",
                "content_text": samples.COHERE_NOTICE + wording,
                "_deprecation": {"model": "embed-english-v2.0", "shutdown_on": shutdown},
            }
        ]
    )


def test_entry_edited_in_place(state_db: StateDB, feeds: Feeds) -> None:
    url = feeds.serve("cohere.json", _cohere("2026-04-04"))
    config = _config([{"url": url, "name": "cohere"}])
    watcher = _watcher(config, state_db, CollectorRegistry())
    watcher.check_all()
    watcher.mark_notified(watcher.pending_events())

    # Reworded, same date: re-evaluated, but nothing new to say.
    feeds.serve("cohere.json", _cohere("2026-04-04", " See the migration guide."))
    assert watcher.check_all().feeds[0].new_notices == 0
    assert watcher.pending_events() == []

    # The date moved: a new event, marked as a change.
    feeds.serve("cohere.json", _cohere("2026-05-15", " Postponed."))
    report = watcher.check_all()
    assert report.feeds[0].new_notices == 1
    (event,) = watcher.pending_events()
    assert (event.shutdown_on, event.changed, event.conflict) == (date(2026, 5, 15), True, False)
    assert [n.shutdown_on for n in report.notices] == [date(2026, 5, 15)]
    watcher.mark_notified([event])

    # Edited back to the very first version: its date is news again.
    feeds.serve("cohere.json", _cohere("2026-04-04"))
    report = watcher.check_all()
    (event,) = watcher.pending_events()
    assert (event.shutdown_on, event.changed) == (date(2026, 4, 4), True)
    assert [n.shutdown_on for n in report.notices] == [date(2026, 4, 4)]


def test_conflicting_dates_from_two_sources(state_db: StateDB, feeds: Feeds) -> None:
    other = samples.rss2(
        [
            {
                "id": "x-1",
                "title": "ada retirement",
                "description": "text-embedding-ada-002 will be retired on 2026-06-30.",
            }
        ]
    )
    config = _config(
        [
            {"url": feeds.serve("azure.xml", samples.ATOM), "name": "azure"},
            {"url": feeds.serve("other.xml", other), "name": "other"},
        ]
    )
    registry = CollectorRegistry()
    watcher = _watcher(config, state_db, registry)
    report = watcher.check_all()
    ada = [n for n in report.notices if n.model == "text-embedding-ada-002"]
    assert sorted((n.feed, n.conflict) for n in ada) == [("azure", True), ("other", True)]
    assert all(e.conflict for e in watcher.pending_events())
    labels = {"model": "text-embedding-ada-002", "provider": "openai"}
    assert registry.get_sample_value("driftwatch_model_deprecation_date_conflict", labels) == 1
    # The earliest announced date is exported, not silently one of the two.
    assert registry.get_sample_value("driftwatch_model_shutdown_timestamp_seconds", labels) == (
        _midnight(date(2026, 6, 30))
    )


def test_models_found_by_version_mix_are_watched(state_db: StateDB, feeds: Feeds) -> None:
    def version_mix(at: datetime, models: list[str], status: str = "ok") -> CheckResultRow:
        documents = [{"model": m, "version": "none", "count": 10} for m in models]
        return CheckResultRow(
            collection="docs",
            check="version_mix",
            status=status,
            value=0.0,
            threshold=0.0,
            detail={"documents": documents},
            message="m",
            started_at=at,
            duration_s=0.1,
        )

    with state_db.session() as session:
        session.add(version_mix(datetime(2025, 11, 1, tzinfo=UTC), ["old-model-1"]))
        session.add(
            version_mix(datetime(2025, 11, 30, tzinfo=UTC), ["textembedding-gecko@001", "none"])
        )
        # A failed run afterwards (store unreachable) carries no counts: it changes nothing.
        session.add(version_mix(datetime(2025, 12, 1, tzinfo=UTC), [], status="error"))
    rdf_url = feeds.serve("google.rdf", samples.RSS_10)
    config = _config([{"url": rdf_url, "name": "google"}])
    watcher = _watcher(config, state_db, CollectorRegistry())
    in_use = {m.id: m.source for m in watcher.models_in_use()}
    assert in_use["textembedding-gecko@001"] == "version_mix:docs"
    assert "old-model-1" not in in_use and "none" not in in_use
    (notice,) = watcher.check_all().notices
    assert (notice.model, notice.shutdown_on) == ("textembedding-gecko@001", date(2025, 10, 30))


def test_a_provider_feed_speaks_only_for_its_provider(state_db: StateDB, feeds: Feeds) -> None:
    structured = samples.json_feed(
        [
            {
                "id": "s-1",
                "title": "Azure retirement",
                "_deprecation": {"model": "text-embedding-ada-002", "provider": "azure"},
            }
        ]
    )
    config = _config(
        [
            {"url": feeds.serve("azure.xml", samples.ATOM), "name": "g", "provider": "google"},
            {"url": feeds.serve("structured.json", structured), "name": "aggregator"},
        ]
    )
    report = _watcher(config, state_db, CollectorRegistry()).check_all()
    assert [f.status for f in report.feeds] == ["ok", "ok"]
    assert report.notices == ()


def test_unreadable_dates_are_counted_and_the_feed_still_used(
    state_db: StateDB, feeds: Feeds, caplog: pytest.LogCaptureFixture
) -> None:
    body = samples.rss2(
        [
            {
                "id": "z",
                "title": "ada",
                "description": "text-embedding-ada-002 retires 2026-02-30 or June 1, 2026.",
            }
        ]
    )
    config = _config([{"url": feeds.serve("z.xml", body), "name": "zfeed"}])
    registry = CollectorRegistry()
    with caplog.at_level(logging.WARNING, logger="driftwatch.feeds.service"):
        report = _watcher(config, state_db, registry).check_all()
    assert report.feeds[0].status == "ok"
    assert "1 entry problems logged" in report.feeds[0].message
    assert "feed zfeed: entry 'z': date '2026-02-30' does not exist" in caplog.text
    labels = {"feed": "zfeed", "reason": "bad_entry"}
    assert registry.get_sample_value("driftwatch_feed_errors_total", labels) == 1
    assert [n.shutdown_on for n in report.notices] == [date(2026, 6, 1)]


def test_a_state_db_failure_is_contained(
    state_db: StateDB, feeds: Feeds, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(
        [
            {"url": feeds.serve("azure.xml", samples.ATOM), "name": "azure"},
            {"url": feeds.serve("cohere.json", COHERE_JSON), "name": "cohere"},
        ]
    )
    with state_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE deprecation_notices"))
    registry = CollectorRegistry()
    with caplog.at_level(logging.WARNING, logger="driftwatch.feeds.service"):
        report = _watcher(config, state_db, registry).check_all()
    assert [(f.feed, f.status, f.reason) for f in report.feeds] == [
        ("azure", "error", "state"),
        ("cohere", "error", "state"),
    ]
    assert "feed cohere: state database" in caplog.text
    labels = {"feed": "cohere", "reason": "state"}
    assert registry.get_sample_value("driftwatch_feed_errors_total", labels) == 1


def _rss(item_id: str, text: str) -> bytes:
    return samples.rss2([{"id": item_id, "title": "Embedding model update", "description": text}])


def test_the_replacement_is_never_flagged_and_is_shown(state_db: StateDB, feeds: Feeds) -> None:
    notice = (
        "text-embedding-ada-002 will be retired on 2026-10-30. "
        "Migrate to text-embedding-3-small before then."
    )
    config = _config(
        [{"url": feeds.serve("oa.xml", _rss("r-1", notice)), "name": "openai"}],
        models=[
            {"id": "text-embedding-ada-002", "provider": "openai"},
            {"id": "text-embedding-3-small", "provider": "openai"},
        ],
    )
    registry = CollectorRegistry()
    watcher = _watcher(config, state_db, registry)
    report = watcher.check_all()

    (notice_view,) = report.notices
    assert (notice_view.model, notice_view.shutdown_on, notice_view.replacement) == (
        "text-embedding-ada-002",
        date(2026, 10, 30),
        "text-embedding-3-small",
    )
    (event,) = watcher.pending_events()
    assert (event.model, event.replacement) == ("text-embedding-ada-002", "text-embedding-3-small")
    # The team that already moved to the replacement gets nothing.
    moved = {"model": "text-embedding-3-small", "provider": "openai"}
    assert registry.get_sample_value("driftwatch_model_deprecation_notice", moved) == 0
    assert registry.get_sample_value("driftwatch_model_shutdown_timestamp_seconds", moved) is None
    ada = {"model": "text-embedding-ada-002", "provider": "openai"}
    assert registry.get_sample_value("driftwatch_model_time_to_shutdown_seconds", ada) is not None


def _gecko_in_collection(state_db: StateDB) -> None:
    """A version-mix result: the collection holds gecko vectors nobody listed in models:."""
    with state_db.session() as session:
        session.add(
            CheckResultRow(
                collection="docs",
                check="version_mix",
                status="warning",
                value=0.5,
                threshold=0.0,
                detail={
                    "documents": [
                        {"model": "textembedding-gecko@001", "version": "1", "count": 5},
                        {"model": "text-embedding-ada-002", "version": "1", "count": 5},
                    ]
                },
                message="mixed",
                started_at=datetime(2025, 11, 30, tzinfo=UTC),
                duration_s=0.1,
            )
        )


def test_a_structured_catalog_served_from_loopback(state_db: StateDB, feeds: Feeds) -> None:
    _gecko_in_collection(state_db)
    catalog_url = feeds.serve(
        "models.json",
        Reply(200, samples.MODELDEPRECATIONS_CATALOG, {"Content-Type": "application/json"}),
    )
    config = _config([{"url": catalog_url, "name": "modeldeprecations"}])
    watcher = _watcher(config, state_db, CollectorRegistry())
    report = watcher.check_all()
    assert report.feeds[0].status == "ok"
    assert report.feeds[0].entries == 3  # the active model without dates announces nothing

    notices = {n.model: n for n in report.notices}
    assert set(notices) == {
        "text-embedding-ada-002",
        "embed-english-v2.0",
        "textembedding-gecko@001",
    }
    ada = notices["text-embedding-ada-002"]
    assert (ada.earliest_shutdown_on, ada.shutdown_on, ada.conflict) == (
        date(2026, 10, 30),
        None,
        False,
    )
    # The recommended replacement comes first.
    assert ada.replacement == "text-embedding-3-small, text-embedding-3-large"
    assert ada.link == "https://example.org/azure/model-retirements"
    cohere = notices["embed-english-v2.0"]
    assert (cohere.deprecated_on, cohere.shutdown_on, cohere.replacement) == (
        date(2026, 1, 15),
        date(2026, 4, 4),
        "embed-english-v3.0",
    )
    # Found only in the collection, matched through the catalog's alias of its entry.
    gecko = notices["textembedding-gecko@001"]
    assert (gecko.shutdown_on, gecko.matched_as) == (date(2025, 10, 30), "textembedding-gecko")


def test_structured_and_prose_sources_that_disagree_are_flagged(
    state_db: StateDB, feeds: Feeds
) -> None:
    prose = _rss("x-1", "text-embedding-ada-002 will be retired on 2026-06-30.")
    config = _config(
        [
            {
                "url": feeds.serve("models.json", samples.MODELDEPRECATIONS_CATALOG),
                "name": "catalog",
            },
            {"url": feeds.serve("other.xml", prose), "name": "azure-updates"},
        ]
    )
    registry = CollectorRegistry()
    watcher = _watcher(config, state_db, registry)
    report = watcher.check_all()
    ada = [n for n in report.notices if n.model == "text-embedding-ada-002"]
    assert [n.feed for n in ada] == ["azure-updates", "catalog"]  # soonest first
    for n in ada:
        assert n.conflict
        assert n.conflict_detail == (
            "sources disagree: azure-updates 2026-06-30; catalog ≥ 2026-10-30"
        )
    events = [e for e in watcher.pending_events() if e.model == "text-embedding-ada-002"]
    assert {e.conflict_detail for e in events} == {ada[0].conflict_detail}
    labels = {"model": "text-embedding-ada-002", "provider": "openai"}
    assert registry.get_sample_value("driftwatch_model_deprecation_date_conflict", labels) == 1


def test_models_in_use_include_what_the_stores_hold(state_db: StateDB) -> None:
    _gecko_in_collection(state_db)
    config = _config([])
    in_use = {m.id: m for m in _watcher(config, state_db, CollectorRegistry()).models_in_use()}
    # Not in models:, found in the collection: watched, provider unknown.
    assert (
        in_use["textembedding-gecko@001"].source,
        in_use["textembedding-gecko@001"].provider,
    ) == (
        "version_mix:docs",
        "unknown",
    )
    # In both: the config's entry wins, so its provider and aliases apply.
    ada = in_use["text-embedding-ada-002"]
    assert (ada.source, ada.provider, ada.aliases) == ("config", "openai", ("ada-002",))


def test_a_failed_feed_wins_over_a_notice_in_the_exit_code(state_db: StateDB, feeds: Feeds) -> None:
    config = _config(
        [
            {"url": feeds.serve("azure.xml", samples.ATOM), "name": "azure"},
            {"url": feeds.serve("down.xml", Reply(503)), "name": "down"},
        ]
    )
    report = _watcher(config, state_db, CollectorRegistry()).check_all()
    assert report.notices  # the notice is still reported ...
    assert report.exit_code == 2  # ... but the blind feed decides the exit code
    assert report.to_json()["exit_code"] == 2


def test_the_watcher_runs_without_metrics(state_db: StateDB, feeds: Feeds) -> None:
    config = _config([{"url": feeds.serve("azure.xml", samples.ATOM), "name": "azure"}])
    with FeedWatcher(config, state_db, client=httpx.Client(), clock=lambda: NOW) as watcher:
        report = watcher.check_all()
    assert [n.model for n in report.notices] == ["text-embedding-ada-002"]
