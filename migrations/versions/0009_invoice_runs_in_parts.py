"""invoice runs in parts: a run (its job record's id) and a row per facility with its part and outcome

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invoice_runs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_invoice_runs_period')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_invoice_runs_facility_id_facilities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['id'], ['job_records.id'], name=op.f('fk_invoice_runs_id_job_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_runs'))
    )
    op.create_table('invoice_run_facilities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('invoice_ids', sa.JSON(), nullable=False),
    sa.Column('unpriced', sa.JSON(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'started', 'finished', 'failed')", name=op.f('ck_invoice_run_facilities_status')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_invoice_run_facilities_facility_id_facilities'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['run_id'], ['invoice_runs.id'], name=op.f('fk_invoice_run_facilities_run_id_invoice_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_run_facilities')),
    sa.UniqueConstraint('run_id', 'facility_id', name=op.f('uq_invoice_run_facilities_run_id_facility_id'))
    )
    with op.batch_alter_table('invoice_run_facilities', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_run_facilities_run_part', ['run_id', 'part'], unique=False)


def downgrade():
    with op.batch_alter_table('invoice_run_facilities', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_run_facilities_run_part')

    op.drop_table('invoice_run_facilities')
    op.drop_table('invoice_runs')
