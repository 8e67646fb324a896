"""binding.closed_at: bound records whose follow-up (status back to the shop) is finished

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("binding") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_binding_open", ["connection", "entity", "closed_at"])


def downgrade() -> None:
    with op.batch_alter_table("binding") as batch:
        batch.drop_index("ix_binding_open")
        batch.drop_column("closed_at")
