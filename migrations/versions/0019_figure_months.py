"""the figure rows' monthly sums: counted events and staff stays left, per month

A year's report at 1,000,000 cases grouped a year of stay and event rows (some 400,000)
on every read. These sums, kept with the rows by the refresher (cases.metrics.monthly),
let it add twelve months instead. Filled here from the rows already written, in SQL:
the month is Asia/Shanghai's (UTC+8, without summer time since 1991).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STRING = sqlmodel.sql.sqltypes.AutoString
NO_DAYS = -1


def _month(column: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"to_char({column} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"
    return f"strftime('%Y-%m', {column}, '+8 hours')"


def upgrade() -> None:
    op.create_table(
        "figure_event_month",
        sa.Column("month", STRING(length=7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", STRING(length=40), nullable=False),
        sa.Column("detail", STRING(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "unit_id", "kind", "detail"),
    )
    op.create_table(
        "figure_left_month",
        sa.Column("month", STRING(length=7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("stage", STRING(length=20), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "unit_id", "stage", "days", "on_time"),
    )
    month = _month("at")
    op.execute(
        "INSERT INTO figure_event_month (month, unit_id, kind, detail, count)"
        f" SELECT {month}, unit_id, kind, coalesce(detail, ''), count(*) FROM figure_event"
        f" GROUP BY {month}, unit_id, kind, coalesce(detail, '')"
    )
    month, days = _month("left_at"), f"coalesce(days, {NO_DAYS})"
    on_time = "(due_at IS NULL OR left_at <= due_at)"
    op.execute(
        "INSERT INTO figure_left_month (month, unit_id, stage, days, on_time, count)"
        f" SELECT {month}, unit_id, stage, {days}, {on_time}, count(*) FROM figure_visit"
        f" WHERE left_at IS NOT NULL GROUP BY {month}, unit_id, stage, {days}, {on_time}"
    )


def downgrade() -> None:
    op.drop_table("figure_left_month")
    op.drop_table("figure_event_month")
