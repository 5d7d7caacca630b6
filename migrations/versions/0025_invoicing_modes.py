"""invoicing modes: review drafts, issue at number, safety stop

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 22:20:31.346788

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invoicing', sa.String(length=20), server_default='automatic', nullable=False))
        batch_op.add_column(sa.Column('safety_factor', sa.Numeric(precision=6, scale=2), nullable=True))
        batch_op.create_check_constraint(op.f('ck_facilities_invoicing'),
                                         "invoicing IN ('automatic', 'review', 'off')")
        batch_op.create_check_constraint(op.f('ck_facilities_safety_factor'),
                                         'safety_factor IS NULL OR safety_factor > 1')

    with op.batch_alter_table('invoice_run_facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parked', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('skipped', sa.String(length=200), nullable=True))

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_reason', sa.String(length=300), nullable=True))
        batch_op.alter_column('number',
               existing_type=sa.VARCHAR(length=20),
               nullable=True)
        batch_op.drop_constraint(op.f('ck_invoices_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_invoices_status'),
                                         "status IN ('draft', 'issued', 'partially_paid', 'paid', 'void')")
        batch_op.create_check_constraint(op.f('ck_invoices_number'),
                                         "(status = 'draft' AND number IS NULL) OR (status <> 'draft' AND "
                                         "(number IS NOT NULL OR status = 'void'))")


def downgrade():
    # Drafts and discarded drafts have no number, which the older schema cannot hold: they go first.
    unnumbered = "SELECT id FROM invoices WHERE number IS NULL"
    for table, column in (("line_sources", "line_id IN (SELECT id FROM invoice_lines WHERE invoice_id IN ({}))"),
                          ("billed_entries", "invoice_id IN ({})"), ("invoice_lines", "invoice_id IN ({})")):
        op.execute(f"DELETE FROM {table} WHERE {column.format(unnumbered)}")
    op.execute(f"DELETE FROM invoices WHERE id IN ({unnumbered})")
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_number'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoices_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_invoices_status'),
                                         "status IN ('issued', 'partially_paid', 'paid', 'void')")
        batch_op.alter_column('number',
               existing_type=sa.VARCHAR(length=20),
               nullable=False)
        batch_op.drop_column('review_reason')

    with op.batch_alter_table('invoice_run_facilities', schema=None) as batch_op:
        batch_op.drop_column('skipped')
        batch_op.drop_column('parked')

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_facilities_safety_factor'), type_='check')
        batch_op.drop_constraint(op.f('ck_facilities_invoicing'), type_='check')
        batch_op.drop_column('safety_factor')
        batch_op.drop_column('invoicing')
