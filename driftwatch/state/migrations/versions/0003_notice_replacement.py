"""Deprecation notices record where users should migrate: the notice's replacement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: notices recorded before this revision named no replacement.
    op.add_column("deprecation_notices", sa.Column("replacement", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deprecation_notices") as batch:
        batch.drop_column("replacement")
