"""dashboard month indexes: invoices by issue date and payments by receipt date, summed month by month

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 11:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_invoices_issued_on', 'invoices', ['issued_on'], unique=False)
    op.create_index('ix_payments_received_on', 'payments', ['received_on'], unique=False)


def downgrade():
    op.drop_index('ix_payments_received_on', table_name='payments')
    op.drop_index('ix_invoices_issued_on', table_name='invoices')
