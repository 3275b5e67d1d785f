"""decision notices (处理决定书, 复查决定): numbered per year without gaps

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_notice_counter",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "decision_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("disposition", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("appeal_ends_on", sa.Date(), nullable=True),
        sa.Column("signed_by", sa.Integer(), nullable=True),
        sa.Column("cosigned_by", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["conduct_case.id"]),
        sa.ForeignKeyConstraint(["signed_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["cosigned_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["supersedes_id"], ["decision_notice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("year", "seq"),
    )
    with op.batch_alter_table("decision_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decision_notice_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("decision_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_notice_case_id"))
    op.drop_table("decision_notice")
    op.drop_table("decision_notice_counter")
