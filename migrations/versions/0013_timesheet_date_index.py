"""timesheet date index: the timesheets list, newest first, reads its page off an index

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 12:15:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_timesheet_entries_work_date', 'timesheet_entries', ['work_date'], unique=False)


def downgrade():
    op.drop_index('ix_timesheet_entries_work_date', table_name='timesheet_entries')
