"""an item of evidence may have a stored file: its random name under
data_dir/evidence/<case id>/, its media type (by content), its size, and the SHA-256 of
the file as sent (``sha256`` is the stored copy's; they differ once metadata is stripped)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stored_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("media_type", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("size_bytes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("original_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("original_sha256")
        batch_op.drop_column("size_bytes")
        batch_op.drop_column("media_type")
        batch_op.drop_column("stored_name")
