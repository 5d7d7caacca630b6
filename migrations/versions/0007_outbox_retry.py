"""outbox retry: when a refused message is tried next, and when one was given up; newest runs of a kind

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_job_records_name_created_at', 'job_records', ['name', 'created_at'], unique=False)


def downgrade():
    op.drop_index('ix_job_records_name_created_at', table_name='job_records')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('failed_at')
        batch_op.drop_column('next_attempt_at')
