"""history tables

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 21:57:12.300191
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_directory',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('acd_server_id', sa.Text(), nullable=False),
    sa.Column('acd_agent_id', sa.Text(), nullable=False),
    sa.Column('agent_id', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'acd_server_id', 'acd_agent_id', name=op.f('pk_agent_directory'))
    )
    op.create_index('ix_agent_directory_agent', 'agent_directory', ['tenant_id', 'agent_id'], unique=False)
    op.create_table('alerts',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('alert_id', sa.Text(), nullable=False),
    sa.Column('agent_id', sa.Text(), nullable=False),
    sa.Column('start_ts', sa.BigInteger(), nullable=False),
    sa.Column('end_ts', sa.BigInteger(), nullable=True),
    sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'alert_id', name=op.f('pk_alerts'))
    )
    op.create_index('ix_alerts_agent_start', 'alerts', ['tenant_id', 'agent_id', 'start_ts'], unique=False)
    op.create_table('day_summaries',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('agent_id', sa.Text(), nullable=False),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('as_of', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('topic_key', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'day', 'agent_id', name=op.f('pk_day_summaries')),
    sa.UniqueConstraint('topic_key', name=op.f('uq_day_summaries_topic_key'))
    )
    op.create_index('ix_day_summaries_agent_day', 'day_summaries', ['tenant_id', 'agent_id', 'day'], unique=False)
    op.create_table('schedule_messages',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('agent_id', sa.Text(), nullable=False),
    sa.Column('body_sha256', sa.Text(), nullable=False),
    sa.Column('kafka_partition', sa.Integer(), nullable=False),
    sa.Column('kafka_offset', sa.BigInteger(), nullable=False),
    sa.Column('from_ts', sa.BigInteger(), nullable=False),
    sa.Column('to_ts', sa.BigInteger(), nullable=False),
    sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'agent_id', 'body_sha256', name=op.f('pk_schedule_messages'))
    )
    op.create_index('ix_schedule_messages_order', 'schedule_messages', ['tenant_id', 'agent_id', 'kafka_partition', 'kafka_offset'], unique=False)
    op.create_index('ix_schedule_messages_window', 'schedule_messages', ['tenant_id', 'from_ts', 'to_ts'], unique=False)
    op.create_table('state_events',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('acd_server_id', sa.Text(), nullable=False),
    sa.Column('acd_agent_id', sa.Text(), nullable=False),
    sa.Column('event_key', sa.Text(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.SmallInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('reason_is_int', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('event_id', sa.Text(), nullable=True),
    sa.Column('received_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'acd_server_id', 'acd_agent_id', 'event_key', name=op.f('pk_state_events'))
    )
    op.create_index('ix_state_events_identity_ts', 'state_events', ['tenant_id', 'acd_server_id', 'acd_agent_id', 'ts'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_state_events_identity_ts', table_name='state_events')
    op.drop_table('state_events')
    op.drop_index('ix_schedule_messages_order', table_name='schedule_messages')
    op.drop_index('ix_schedule_messages_window', table_name='schedule_messages')
    op.drop_table('schedule_messages')
    op.drop_index('ix_day_summaries_agent_day', table_name='day_summaries')
    op.drop_table('day_summaries')
    op.drop_index('ix_alerts_agent_start', table_name='alerts')
    op.drop_table('alerts')
    op.drop_index('ix_agent_directory_agent', table_name='agent_directory')
    op.drop_table('agent_directory')
