"""order_history (+ order_history_line): the compact per-order memory of the anomaly detectors

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("ps_order_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("customer_group", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(32), nullable=False),
        sa.Column("erp_currency", sa.String(3), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("invoice_country", sa.String(3), nullable=False),
        sa.Column("delivery_country", sa.String(3), nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("address_hash", sa.String(32), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("connection", "ps_order_id", name="uq_order_history_order"),
    )
    op.create_index("ix_order_history_customer", "order_history", ["connection", "customer_id", "placed_at"])
    op.create_index("ix_order_history_placed", "order_history", ["connection", "placed_at"])
    op.create_index("ix_order_history_address", "order_history", ["connection", "address_hash", "placed_at"])
    op.create_table(
        "order_history_line",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("history_id", sa.Integer(), sa.ForeignKey("order_history.id", ondelete="CASCADE"), nullable=False),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("customer_group", sa.Integer(), nullable=False),
        sa.Column("item_number", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
    )
    op.create_index("ix_order_history_line_history_id", "order_history_line", ["history_id"])
    op.create_index("ix_order_history_line_item", "order_history_line",
                    ["connection", "customer_group", "item_number", "id"])
    op.create_index("ix_order_history_line_group", "order_history_line", ["connection", "customer_group", "id"])


def downgrade() -> None:
    op.drop_table("order_history_line")
    op.drop_table("order_history")
