"""a stage's deadline ladders are numbered by their own counter, so a recomputation after
a calendar change is a new revision without counting as a granted extension

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conduct_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ladders_written", sa.Integer(), nullable=False, server_default="0")
        )
    # The next revision of each case's current stage: one past its newest ladder.
    op.execute(
        "UPDATE conduct_case SET ladders_written = COALESCE(("
        "SELECT MAX(deadline.revision) + 1 FROM deadline "
        "WHERE deadline.case_id = conduct_case.id "
        "AND deadline.stage_entry = conduct_case.stage_entry), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("conduct_case", schema=None) as batch_op:
        batch_op.drop_column("ladders_written")
