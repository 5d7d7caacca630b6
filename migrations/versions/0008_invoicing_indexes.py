"""invoicing at size: billed entries by entry, and invoices still without their PDF

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_billed_entries_entry', 'billed_entries', ['entry_id'], unique=False)
    op.create_index('ix_invoices_pdf_missing', 'invoices', ['id'], unique=False,
                    postgresql_where=sa.text('pdf IS NULL'), sqlite_where=sa.text('pdf IS NULL'))


def downgrade():
    op.drop_index('ix_invoices_pdf_missing', table_name='invoices',
                  postgresql_where=sa.text('pdf IS NULL'), sqlite_where=sa.text('pdf IS NULL'))
    op.drop_index('ix_billed_entries_entry', table_name='billed_entries')
