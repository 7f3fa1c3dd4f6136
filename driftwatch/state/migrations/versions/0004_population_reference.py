"""Baselines keep a reference sample of stored vectors for the population check.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: baselines captured before this revision hold no reference; the
    # population check reports "unavailable" until `driftwatch baseline --force`.
    op.add_column("baselines", sa.Column("reference_vectors", sa.LargeBinary(), nullable=True))
    op.add_column("baselines", sa.Column("reference_tags", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("baselines") as batch:
        batch.drop_column("reference_tags")
        batch.drop_column("reference_vectors")
