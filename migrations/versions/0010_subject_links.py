"""the subject's links: a case's subject opens their page with a link (or its short code
for an in-person hand-over); only the SHA-256 of each is kept, with its expiry and revocation

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subject_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["conduct_case.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("subject_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_link_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subject_link_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_link_person_id"))
        batch_op.drop_index(batch_op.f("ix_subject_link_case_id"))
    op.drop_table("subject_link")
