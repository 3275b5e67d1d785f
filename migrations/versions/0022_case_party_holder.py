"""a person's parts in cases, read from the index alone

Counting an assignee's cases (does their filter drive the list, on SQLite?) read each of
their parts' rows for its capacity and whether it is active: 2,000 row reads scattered
over a 10 GB file at 1,000,000 cases. The index by person now holds the case, the
capacity and ``active`` too, and replaces the one on ``person_id`` alone. Its first two
columns are the person and the case, the two of ``ix_case_party_held`` the other way
round, so SQLite's per-case check seeks on both whichever of the two it picks.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLDER = ["person_id", "case_id", "capacity", "active"]


def upgrade() -> None:
    op.create_index("ix_case_party_holder", "case_party", HOLDER)
    op.drop_index("ix_case_party_person_id", table_name="case_party")


def downgrade() -> None:
    op.create_index("ix_case_party_person_id", "case_party", ["person_id"])
    op.drop_index("ix_case_party_holder", table_name="case_party")
