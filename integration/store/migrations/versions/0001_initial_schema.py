"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 00:44:38.251871
"""
from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('binding',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('ps_id', sa.String(length=64), nullable=False),
    sa.Column('infor_id', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connection', 'entity', 'infor_id', name='uq_binding_infor'),
    sa.UniqueConstraint('connection', 'entity', 'ps_id', name='uq_binding_ps')
    )
    op.create_table('sync_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('source_system', sa.String(length=32), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('current_step', sa.String(length=16), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.JSON(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connection', 'dedupe_key', name='uq_sync_event_dedupe')
    )
    with op.batch_alter_table('sync_event', schema=None) as batch_op:
        batch_op.create_index('ix_sync_event_record', ['connection', 'entity', 'source_id'], unique=False)
        batch_op.create_index('ix_sync_event_status_updated', ['status', 'updated_at'], unique=False)

    op.create_table('watermark',
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('connection', 'name')
    )
    op.create_table('dead_letter',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('task_name', sa.String(length=200), nullable=False),
    sa.Column('error_type', sa.String(length=100), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('replay_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replayed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['sync_event.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dead_letter', schema=None) as batch_op:
        batch_op.create_index('ix_dead_letter_status', ['status'], unique=False)

    op.create_table('sync_step',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('output', sa.JSON(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['sync_event.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'step', name='uq_sync_step')
    )
    


def downgrade() -> None:
    
    op.drop_table('sync_step')
    with op.batch_alter_table('dead_letter', schema=None) as batch_op:
        batch_op.drop_index('ix_dead_letter_status')

    op.drop_table('dead_letter')
    op.drop_table('watermark')
    with op.batch_alter_table('sync_event', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_event_status_updated')
        batch_op.drop_index('ix_sync_event_record')

    op.drop_table('sync_event')
    op.drop_table('binding')
    
