"""Baselines record the store's write position, so the population check can compare
the records written since.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: older baselines, and stores without a write log, have none; the
    # population check then compares a uniform sample of the collection.
    op.add_column("baselines", sa.Column("write_position", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("baselines") as batch:
        batch.drop_column("write_position")
