"""the case list's unit filter in id order: an index of (unit_id, id)

GET /cases filtered by one unit pages newest first (ORDER BY id DESC LIMIT n): with an
index of (unit_id, id) PostgreSQL reads the page from the index's end and stops, as it
does for the other filters' (filter, id) indexes of 0015 (SQLite's index of unit_id
alone already ends in the row id). Measured by bench/scale.py.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 20:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_case_unit_id_id", "conduct_case", ["unit_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_case_unit_id_id", table_name="conduct_case")
