"""job records without inline outcomes: a run's status comes from its parts, so nothing writes them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job_records', schema=None) as batch_op:
        batch_op.drop_column('inline_result')
        batch_op.drop_column('inline_status')


def downgrade():
    with op.batch_alter_table('job_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inline_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('inline_result', sa.JSON(), nullable=True))
