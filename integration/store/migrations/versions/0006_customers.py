"""reconciliation_line: the nightly (and on-demand) order-to-cash reconciliation, one row per order and run

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_line",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ps_order_id", sa.String(64), nullable=False),
        sa.Column("orno", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("line", sa.JSON(), nullable=False),
    )
    op.create_index("ix_reconciliation_run", "reconciliation_line", ["connection", "run_at"])


def downgrade() -> None:
    op.drop_index("ix_reconciliation_run", table_name="reconciliation_line")
    op.drop_table("reconciliation_line")
