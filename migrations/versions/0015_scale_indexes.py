"""indexes for the case list's filters and the figures' period, at a million cases

The case list filters by stage, category, severity or overdue and pages newest first
(ORDER BY id DESC LIMIT n): an index of (filter, id) finds a page without reading, or
sorting, every case that matches (stage = 'closed' is nearly all of them). ``due_at``
serves 'due within N working days'; ``closed_at`` lets the figures read only the cases
still open at a period's start or closed in it, ``survey_answer.answered_at`` those rated
in it (measured by bench/scale.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_case_stage_id": ["stage", "id"],
    "ix_case_category_id": ["category", "id"],
    "ix_case_severity_id": ["severity", "id"],
    "ix_case_overdue_id": ["overdue", "id"],
    "ix_case_due_at": ["due_at"],
    "ix_case_closed_at": ["closed_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "conduct_case", columns)
    op.create_index("ix_survey_answer_answered_at", "survey_answer", ["answered_at"])


def downgrade() -> None:
    op.drop_index("ix_survey_answer_answered_at", table_name="survey_answer")
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="conduct_case")
