"""stock_written: the last quantity written per shop stock row; unknown_item: M3 items the shop lacks, reported once

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_written",
        sa.Column("connection", sa.String(64), primary_key=True),
        sa.Column("row_key", sa.String(32), primary_key=True),
        sa.Column("item_number", sa.String(64), nullable=False),
        sa.Column("id_stock_available", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.BigInteger(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
    )
    op.create_table(
        "unknown_item",
        sa.Column("connection", sa.String(64), primary_key=True),
        sa.Column("item_number", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("unknown_item")
    op.drop_table("stock_written")
