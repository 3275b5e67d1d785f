"""the case list's "due within N working days": an index of the open cases' due times
holding the other filters' columns

The filter is "due by then and not closed". With the due time alone in the index, each
match was a row read for its stage and the other filters: at 1,000,000 cases, the few
thousand still open (scattered over fifteen years of rows) cost 30-50 ms a pass, three
passes a page. Only cases with a due time are in it (a closed case has none).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_case_open_due",
        "conduct_case",
        ["due_at", "stage", "unit_id", "category", "severity"],
        sqlite_where=sa.text("due_at IS NOT NULL"),
        postgresql_where=sa.text("due_at IS NOT NULL"),
    )
    op.drop_index("ix_case_due_at", table_name="conduct_case")


def downgrade() -> None:
    op.create_index("ix_case_due_at", "conduct_case", ["due_at"])
    op.drop_index("ix_case_open_due", table_name="conduct_case")
