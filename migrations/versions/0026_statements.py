"""statements of account, facility statement schedule

Revision ID: 0026
Revises: 0025

"""
import sqlalchemy as sa
from alembic import op


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('balance', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('invoice_ids', sa.JSON(), nullable=False),
    sa.Column('recipients', sa.String(length=500), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('scheduled', 'on_demand', 'reminder')", name=op.f('ck_statements_kind')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_statements_facility_id_facilities'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_statements_sent_by_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements')),
    sa.UniqueConstraint('facility_id', 'as_of', 'kind', name=op.f('uq_statements_facility_id_as_of_kind'))
    )
    with op.batch_alter_table('dunning_notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mail_key', sa.String(length=255), nullable=True))
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('statement_schedule', sa.String(length=20), server_default='monthly',
                                      nullable=False))
        batch_op.create_check_constraint(
            batch_op.f('ck_facilities_statement_schedule'), "statement_schedule IN ('weekly', 'biweekly', 'monthly', 'off')")


def downgrade():
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_facilities_statement_schedule'), type_='check')
        batch_op.drop_column('statement_schedule')
    with op.batch_alter_table('dunning_notices', schema=None) as batch_op:
        batch_op.drop_column('mail_key')
    op.drop_table('statements')
