"""supplemental invoices and dunning pause: an invoice names the earlier one of its period it adds to; reminders pause

A facility's payment reminders can be paused (facilities.dunning_paused).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 15:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# An invoice issued before this migration supplements the latest earlier, still-live invoice of its
# facility whose period overlaps its own, as invoicing now records it for new ones.
BACKFILL = """
UPDATE invoices SET supplements_invoice_id = (
    SELECT max(earlier.id) FROM invoices AS earlier
    WHERE earlier.facility_id = invoices.facility_id AND earlier.id < invoices.id
      AND earlier.status <> 'void'
      AND earlier.period_start <= invoices.period_end AND earlier.period_end >= invoices.period_start)
"""


def upgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supplements_invoice_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_invoices_supplements_invoice_id_invoices'), 'invoices',
                                    ['supplements_invoice_id'], ['id'], ondelete='RESTRICT')
    op.execute(BACKFILL)
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dunning_paused', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_column('dunning_paused')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invoices_supplements_invoice_id_invoices'), type_='foreignkey')
        batch_op.drop_column('supplements_invoice_id')
