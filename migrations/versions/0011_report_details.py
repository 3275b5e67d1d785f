"""what a reporter says beside the summary: the subject's post, when and where (the
public report form's fields; optional)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
COLUMNS = ("subject_post", "occurred", "place")


def upgrade() -> None:
    with op.batch_alter_table("conduct_case", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conduct_case", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
