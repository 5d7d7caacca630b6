"""audit action index: the audit log filtered by kind of event reads its newest page off an index

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 14:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_events_action', 'audit_events', ['action', 'occurred_at'], unique=False)


def downgrade():
    op.drop_index('ix_audit_events_action', table_name='audit_events')
