"""what the subject is shown: the allegations as staff summarised them; evidence dates

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conduct_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allegations", sa.Text(), nullable=True))
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("collected_on", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("collected_on")
    with op.batch_alter_table("conduct_case", schema=None) as batch_op:
        batch_op.drop_column("allegations")
