"""withdrawn promises: a promise to pay on an invoice voided before its day is withdrawn, neither kept nor
broken; what counts toward a promise is read from its payments, so the amount paid when it was made goes

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 02:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment_promises', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payment_promises_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_payment_promises_status'),
                                         "status IN ('open', 'kept', 'broken', 'withdrawn')")
        batch_op.drop_column('paid_when_made')


def downgrade():
    # The earlier schema has no word for a withdrawn promise: its invoice is void, so it is counted kept.
    op.execute("UPDATE payment_promises SET status = 'kept' WHERE status = 'withdrawn'")
    with op.batch_alter_table('payment_promises', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid_when_made', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.drop_constraint(op.f('ck_payment_promises_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_payment_promises_status'),
                                         "status IN ('open', 'kept', 'broken')")
