"""indexes for what is still open: the open cases' due times (the case list) and the
staff stays not left (the figures)

The list's "due within N working days" is "due by then and not closed". With the due
time alone in the index, each match was a row read for its stage and the other filters:
at 1,000,000 cases, the few thousand still open (scattered over fifteen years of rows)
cost 30-50 ms a pass, three passes a page. Only cases with a due time are in the new
index (a closed case has none).

The figures' stays still open (left_at NULL, entered before a moment) were a row read
each; the stays-left index now holds what both queries read.

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

LEFT = ["left_at", "stage", "days", "due_at", "unit_id"]
LEFT_OPEN = ["left_at", "entered_at", "unit_id", "stage", "days", "due_at", "case_id", "n"]


def upgrade() -> None:
    op.create_index(
        "ix_case_open_due",
        "conduct_case",
        ["due_at", "stage", "unit_id", "category", "severity"],
        sqlite_where=sa.text("due_at IS NOT NULL"),
        postgresql_where=sa.text("due_at IS NOT NULL"),
    )
    op.drop_index("ix_case_due_at", table_name="conduct_case")
    op.create_index("ix_figure_visit_left_open", "figure_visit", LEFT_OPEN)
    op.drop_index("ix_figure_visit_left", table_name="figure_visit")


def downgrade() -> None:
    op.create_index("ix_figure_visit_left", "figure_visit", LEFT)
    op.drop_index("ix_figure_visit_left_open", table_name="figure_visit")
    op.create_index("ix_case_due_at", "conduct_case", ["due_at"])
    op.drop_index("ix_case_open_due", table_name="conduct_case")
