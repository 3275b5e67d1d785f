"""deadline extensions: requests and decisions, and a revision per deadline ladder

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:31:57.907984
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# 0001 left the deadline's unique constraint unnamed: PostgreSQL named it itself, SQLite
# knows it only by its columns (batch mode finds it through this naming convention).
OLD_UNIQUE = ("case_id", "stage_entry", "step")
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _old_unique_name() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "deadline_case_id_stage_entry_step_key"
    return "uq_deadline_" + "_".join(OLD_UNIQUE)


def upgrade() -> None:
    op.create_table(
        "deadline_extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("stage_entry", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_due_on", sa.Date(), nullable=False),
        sa.Column("previous_due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("granted_due_on", sa.Date(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["conduct_case.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_deadline_extension_case_id", "deadline_extension", ["case_id"], unique=False
    )
    with op.batch_alter_table("conduct_case") as batch_op:
        batch_op.add_column(
            sa.Column("extensions_granted", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("extension_requested_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("extension_requested_due_on", sa.Date(), nullable=True))
        batch_op.create_foreign_key(
            "fk_conduct_case_extension_requested_by", "person", ["extension_requested_by"], ["id"]
        )
    with op.batch_alter_table("deadline", naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.drop_constraint(_old_unique_name(), type_="unique")
        batch_op.create_unique_constraint(
            "uq_deadline_case_stage_revision_step",
            ["case_id", "stage_entry", "revision", "step"],
        )


def downgrade() -> None:
    with op.batch_alter_table("deadline", naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.drop_constraint("uq_deadline_case_stage_revision_step", type_="unique")
        batch_op.drop_column("revision")
        batch_op.create_unique_constraint(_old_unique_name(), list(OLD_UNIQUE))
    with op.batch_alter_table("conduct_case") as batch_op:
        batch_op.drop_constraint("fk_conduct_case_extension_requested_by", type_="foreignkey")
        batch_op.drop_column("extension_requested_due_on")
        batch_op.drop_column("extension_requested_by")
        batch_op.drop_column("extensions_granted")
    op.drop_index("ix_deadline_extension_case_id", table_name="deadline_extension")
    op.drop_table("deadline_extension")
