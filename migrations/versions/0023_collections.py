"""collections: disputes, promises to pay, collection tasks, credits

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 21:36:46.463041

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('collection_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('owner_role', sa.String(length=20), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('dunning', 'broken_promise', 'dispute')", name=op.f('ck_collection_tasks_kind')),
    sa.CheckConstraint("owner_role IN ('billing', 'recruiter', 'leadership')", name=op.f('ck_collection_tasks_owner_role')),
    sa.CheckConstraint('(done_at IS NULL) = (done_by_id IS NULL)', name=op.f('ck_collection_tasks_done')),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_collection_tasks_done_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_collection_tasks_facility_id_facilities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_collection_tasks_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_collection_tasks_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection_tasks')),
    sa.UniqueConstraint('key', name=op.f('uq_collection_tasks_key'))
    )
    with op.batch_alter_table('collection_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collection_tasks_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index('ix_collection_tasks_open', ['owner_role', 'done_at', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_collection_tasks_owner_id'), ['owner_id'], unique=False)

    op.create_table('payment_promises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('promised_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('promised_by', sa.String(length=200), nullable=False),
    sa.Column('made_on', sa.Date(), nullable=False),
    sa.Column('paid_when_made', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'open') = (resolved_on IS NULL)", name=op.f('ck_payment_promises_resolution')),
    sa.CheckConstraint("status IN ('open', 'kept', 'broken')", name=op.f('ck_payment_promises_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payment_promises_amount')),
    sa.CheckConstraint('promised_on >= made_on', name=op.f('ck_payment_promises_promised_after_made')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payment_promises_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payment_promises_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_promises'))
    )
    with op.batch_alter_table('payment_promises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_promises_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_payment_promises_status_promised', ['status', 'promised_on'], unique=False)
        batch_op.create_index('uq_payment_promises_open_invoice', ['invoice_id'], unique=True, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))

    op.create_table('disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('resolution_note', sa.String(length=1000), nullable=True),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('credit_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'resolved') = (outcome IS NOT NULL) AND (status = 'resolved') = (resolved_on IS NOT NULL)", name=op.f('ck_disputes_resolution')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('credited', 'corrected', 'upheld')", name=op.f('ck_disputes_outcome')),
    sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f('ck_disputes_status')),
    sa.CheckConstraint('credit_amount IS NULL OR credit_amount > 0', name=op.f('ck_disputes_credit_amount')),
    sa.CheckConstraint('due_on >= opened_on', name=op.f('ck_disputes_due')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_disputes_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['line_id'], ['invoice_lines.id'], name=op.f('fk_disputes_line_id_invoice_lines'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_disputes_opened_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_disputes_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_disputes_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes'))
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_disputes_status_due', ['status', 'due_on'], unique=False)
        batch_op.create_index('uq_disputes_open_invoice', ['invoice_id'], unique=True, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dunning_pause_reason', sa.String(length=500), nullable=True))

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='payment', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_payments_kind'), "kind IN ('payment', 'credit')")



def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payments_kind'), type_='check')
        batch_op.drop_column('kind')

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_column('dunning_pause_reason')

    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index('uq_disputes_open_invoice', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_disputes_status_due')
        batch_op.drop_index(batch_op.f('ix_disputes_owner_id'))
        batch_op.drop_index(batch_op.f('ix_disputes_invoice_id'))

    op.drop_table('disputes')
    with op.batch_alter_table('payment_promises', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_promises_open_invoice', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_payment_promises_status_promised')
        batch_op.drop_index(batch_op.f('ix_payment_promises_invoice_id'))

    op.drop_table('payment_promises')
    with op.batch_alter_table('collection_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collection_tasks_owner_id'))
        batch_op.drop_index('ix_collection_tasks_open')
        batch_op.drop_index(batch_op.f('ix_collection_tasks_facility_id'))

    op.drop_table('collection_tasks')
