"""the 述职 figures' projection: each case's timeline as rows summed in SQL

A year's report for the whole committee read every event of every case it could count
(48 s at 215,000 cases); these rows let it sum instead (bench/scale.py). They are written
from the audit chain by cases.metrics.projection; ``figure_dirty`` starts with every case,
so the first refresh (``qingfeng metrics rebuild``, the background worker, or the first
report) writes them all.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime
STRING = sqlmodel.sql.sqltypes.AutoString


def _case_id() -> sa.Column[int]:
    return sa.Column("case_id", sa.Integer(), sa.ForeignKey("conduct_case.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "figure_case",
        _case_id(),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("filed_at", UTC(), nullable=False),
        sa.Column("triaged_at", UTC(), nullable=True),
        sa.Column("category", STRING(length=40), nullable=True),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("findings", STRING(length=40), nullable=True),
        sa.Column("decision", STRING(length=40), nullable=True),
        sa.Column("appeal_outcome", STRING(length=20), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_figure_case_filed_at", "figure_case", ["filed_at"])
    op.create_index("ix_figure_case_finished_at", "figure_case", ["finished_at"])
    op.create_table(
        "figure_visit",
        _case_id(),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("stage", STRING(length=20), nullable=False),
        sa.Column("entered_at", UTC(), nullable=False),
        sa.Column("left_at", UTC(), nullable=True),
        sa.Column("due_at", UTC(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", "n"),
    )
    op.create_index("ix_figure_visit_left_at", "figure_visit", ["left_at"])
    op.create_table(
        "figure_due",
        _case_id(),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("since", UTC(), nullable=False),
        sa.Column("due_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", "n", "k"),
    )
    op.create_table(
        "figure_event",
        _case_id(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", STRING(length=40), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("detail", STRING(length=40), nullable=True),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    op.create_index("ix_figure_event_at", "figure_event", ["at"])
    op.create_table(
        "figure_dirty",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "figure_basis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", STRING(length=64), nullable=False),
        sa.Column("counted_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO figure_dirty (case_id) SELECT id FROM conduct_case")


def downgrade() -> None:
    for table in ("figure_basis", "figure_dirty", "figure_event", "figure_due"):
        op.drop_table(table)
    op.drop_index("ix_figure_visit_left_at", table_name="figure_visit")
    op.drop_table("figure_visit")
    op.drop_index("ix_figure_case_finished_at", table_name="figure_case")
    op.drop_index("ix_figure_case_filed_at", table_name="figure_case")
    op.drop_table("figure_case")
