"""a case's keyed receipt-code index (HMAC-SHA256 of the normalised code under the server
secret), unique, so the reporter's status request finds its case without a scan; cases
filed before this have none (their codes are not kept, so it cannot be filled in)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conduct_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_lookup", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_conduct_case_receipt_lookup"), ["receipt_lookup"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("conduct_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conduct_case_receipt_lookup"))
        batch_op.drop_column("receipt_lookup")
