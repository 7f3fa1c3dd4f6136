"""Initial schema: check results, baselines, feeds, notices, outbox, alert state, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, autoincrement=True, nullable=False, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "check_results",
        _id(),
        sa.Column("collection", sa.String(255), nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_check_results_lookup", "check_results", ["collection", "check", "started_at"]
    )
    op.create_index("ix_check_results_started_at", "check_results", ["started_at"])

    op.create_table(
        "baselines",
        _id(),
        sa.Column("collection", sa.String(255), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=True),
        sa.Column("fingerprint_texts", sa.JSON(), nullable=False),
        sa.Column("fingerprint_vectors", sa.LargeBinary(), nullable=False),
        sa.Column("canaries", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
    )
    op.create_index("ix_baselines_collection_active", "baselines", ["collection", "active"])

    op.create_table(
        "feed_state",
        _id(),
        sa.Column("url", sa.Text(), nullable=False, unique=True),
        sa.Column("feed", sa.String(255), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=True),
    )

    op.create_table(
        "deprecation_notices",
        _id(),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("feed", sa.String(255), nullable=False),
        sa.Column("entry_id", sa.String(1024), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("matched_as", sa.String(255), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("deprecated_on", sa.Date(), nullable=True),
        sa.Column("shutdown_on", sa.Date(), nullable=True),
        sa.Column("earliest_shutdown_on", sa.Date(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("model", "feed", "entry_id", "content_hash", name="uq_notice_version"),
    )
    op.create_index("ix_notices_model", "deprecation_notices", ["model"])

    op.create_table(
        "outbox",
        _id(),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])

    op.create_table(
        "alert_state",
        sa.Column("fingerprint", sa.String(512), nullable=False, primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("last_notified_at", sa.DateTime(), nullable=True),
    )

    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(512), nullable=False, primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "job_leases",
        "alert_state",
        "outbox",
        "deprecation_notices",
        "feed_state",
        "baselines",
        "check_results",
    ):
        op.drop_table(table)
