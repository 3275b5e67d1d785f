"""the figures' projection: covering indexes, a case's first rating, a stay's length

A year's report at 1,000,000 cases read the rows of every stay entered before the year's
end to find those open in it. Each figure query now reads one range of one index holding
every column it needs; the stays open at a moment are looked for only among those entered
at most the longest stay before it (``seconds``) and those still open. ``rated_at`` spares
a lookup of the rating per finished case. ``ix_case_closed_at`` served the figures' old
read and is unused. Every case is marked to be written again (the new columns).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime

OLD = {
    "ix_figure_case_filed_at": ("figure_case", ["filed_at"]),
    "ix_figure_case_finished_at": ("figure_case", ["finished_at"]),
    "ix_figure_visit_left_at": ("figure_visit", ["left_at"]),
    "ix_figure_event_at": ("figure_event", ["at"]),
    "ix_case_closed_at": ("conduct_case", ["closed_at"]),
}
NEW = {
    "ix_figure_case_filed": ("figure_case", ["filed_at", "unit_id", "category", "triaged_at"]),
    "ix_figure_case_finished": (
        "figure_case",
        ["finished_at", "unit_id", "findings", "decision", "appeal_outcome", "rated_at"],
    ),
    "ix_figure_visit_left": ("figure_visit", ["left_at", "stage", "days", "due_at", "unit_id"]),
    "ix_figure_visit_entered": (
        "figure_visit",
        ["entered_at", "left_at", "unit_id", "stage", "case_id", "n"],
    ),
    "ix_figure_visit_seconds": ("figure_visit", ["seconds"]),
    "ix_figure_event_counted": ("figure_event", ["at", "unit_id", "kind", "detail"]),
}


def upgrade() -> None:
    op.add_column("figure_case", sa.Column("rated_at", UTC(), nullable=True))
    op.add_column("figure_visit", sa.Column("seconds", sa.Integer(), nullable=True))
    for name, (table, _) in OLD.items():
        op.drop_index(name, table_name=table)
    for name, (table, columns) in NEW.items():
        op.create_index(name, table, columns)
    op.execute("DELETE FROM figure_dirty")
    op.execute("INSERT INTO figure_dirty (case_id) SELECT id FROM conduct_case")


def downgrade() -> None:
    for name, (table, _) in NEW.items():
        op.drop_index(name, table_name=table)
    for name, (table, columns) in OLD.items():
        op.create_index(name, table, columns)
    with op.batch_alter_table("figure_visit") as batch:
        batch.drop_column("seconds")
    with op.batch_alter_table("figure_case") as batch:
        batch.drop_column("rated_at")
