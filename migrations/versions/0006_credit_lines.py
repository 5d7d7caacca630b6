"""credit lines: an invoice line may give back hours a live invoice billed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 08:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CHARGE_OR_CREDIT = ("(corrects_invoice_id IS NULL AND quantity > 0) OR "
                    "(corrects_invoice_id IS NOT NULL AND quantity < 0)")


def upgrade():
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrects_invoice_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_invoice_lines_corrects_invoice_id'), ['corrects_invoice_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_invoice_lines_corrects_invoice_id_invoices'), 'invoices',
                                    ['corrects_invoice_id'], ['id'], ondelete='RESTRICT')
        batch_op.drop_constraint(batch_op.f('ck_invoice_lines_quantity'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_invoice_lines_quantity'), CHARGE_OR_CREDIT)


def downgrade():
    # Credit lines cannot exist under the old rule: the downgrade refuses while there are any.
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_invoice_lines_quantity'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_invoice_lines_quantity'), 'quantity > 0')
        batch_op.drop_constraint(batch_op.f('fk_invoice_lines_corrects_invoice_id_invoices'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_invoice_lines_corrects_invoice_id'))
        batch_op.drop_column('corrects_invoice_id')
