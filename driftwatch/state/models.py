"""SQLAlchemy models of the state database.

The schema is owned by the Alembic migrations in ``state/migrations``; these
models must match them (a test compares the two). Times are stored as naive
UTC and handed back timezone-aware, so SQLite and PostgreSQL behave alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, naive UTC on disk."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state DB; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class CheckResultRow(Base):
    """Every CheckResult ever recorded (pruned by the retention setting)."""

    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_lookup", "collection", "check", "started_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(255))
    check: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_s: Mapped[float] = mapped_column(Float)


class BaselineRow(Base):
    """Baselines per collection; exactly one active, older ones kept as history."""

    __tablename__ = "baselines"
    __table_args__ = (Index("ix_baselines_collection_active", "collection", "active"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    dimension: Mapped[int | None] = mapped_column(Integer)
    fingerprint_texts: Mapped[list[str]] = mapped_column(JSON)
    fingerprint_vectors: Mapped[bytes] = mapped_column(LargeBinary)  # .npy bytes
    canaries: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scores: Mapped[list[float]] = mapped_column(JSON)
    # Population check reference: .npy bytes of stored vectors, and their model tags.
    reference_vectors: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    reference_tags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # The store's write position at capture (stores.base.WriteLog); None: none known.
    write_position: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class FeedStateRow(Base):
    """Conditional-GET validators and health of each feed."""

    __tablename__ = "feed_state"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    feed: Mapped[str] = mapped_column(String(255))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    entries: Mapped[int | None] = mapped_column(Integer)


class DeprecationNoticeRow(Base):
    """One (model, feed entry version): recorded once, notified once."""

    __tablename__ = "deprecation_notices"
    __table_args__ = (
        UniqueConstraint("model", "feed", "entry_id", "content_hash", name="uq_notice_version"),
        Index("ix_notices_model", "model"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(64))
    feed: Mapped[str] = mapped_column(String(255))
    entry_id: Mapped[str] = mapped_column(String(1024))
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    matched_as: Mapped[str] = mapped_column(String(255))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deprecated_on: Mapped[date | None] = mapped_column(Date)
    shutdown_on: Mapped[date | None] = mapped_column(Date)
    earliest_shutdown_on: Mapped[date | None] = mapped_column(Date)
    replacement: Mapped[str | None] = mapped_column(String(255))  # "migrate to" (0003)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxRow(Base):
    """A notification is written here before it is sent; marked sent only once accepted."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))  # firing | resolved
    severity: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|undeliverable
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertStateRow(Base):
    """What was last notified per alert fingerprint (for dedup, re-notify, resolve)."""

    __tablename__ = "alert_state"

    fingerprint: Mapped[str] = mapped_column(String(512), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobLeaseRow(Base):
    """Replicas sharing one state DB take a lease per job so each run happens once."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MigrationSwitchRow(Base):
    """Cutovers and rollbacks of migrations, newest last; the active row (at most
    one per collection) says which collection and embedder are monitored now."""

    __tablename__ = "migration_switches"
    __table_args__ = (Index("ix_migration_switches_collection", "collection", "active"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(255))  # blue, as configured
    action: Mapped[str] = mapped_column(String(16))  # cutover | rollback
    store: Mapped[str] = mapped_column(String(255))  # what is monitored from now on
    target: Mapped[str] = mapped_column(String(255))
    embedder: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class MigrationRunRow(Base):
    """Progress of ``migrate run`` per collection: one row per run, updated per batch.

    The green collection itself is the record of finished work (a run diffs
    blue against green); this row only feeds ``migrate status`` (rate, ETA) and
    says how the last run ended.
    """

    __tablename__ = "migration_runs"
    __table_args__ = (Index("ix_migration_runs_collection", "collection", "started_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(255))
    target: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running | complete | incomplete | failed
    todo: Mapped[int] = mapped_column(Integer)  # records this run set out to (re-)embed
    embedded: Mapped[int] = mapped_column(Integer)  # records written so far in this run
    deleted: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
