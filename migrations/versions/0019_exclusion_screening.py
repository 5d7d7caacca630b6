"""exclusion screening: each run against an exclusion file, and the therapists it found

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'exclusion_screenings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('list_state', sa.String(length=2), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('therapists_screened', sa.Integer(), nullable=False),
        sa.Column('screened_on', sa.Date(), nullable=False),
        sa.Column('screened_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('oig_leie', 'state_medicaid')",
                           name=op.f('ck_exclusion_screenings_source')),
        sa.CheckConstraint('rows >= 0 AND therapists_screened >= 0', name=op.f('ck_exclusion_screenings_counts')),
        sa.ForeignKeyConstraint(['screened_by_id'], ['users.id'],
                                name=op.f('fk_exclusion_screenings_screened_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exclusion_screenings')),
    )
    op.create_index(op.f('ix_exclusion_screenings_screened_on'), 'exclusion_screenings', ['screened_on'])
    op.create_table(
        'exclusion_hits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('screening_id', sa.Integer(), nullable=False),
        sa.Column('therapist_id', sa.Integer(), nullable=False),
        sa.Column('match', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('excluded_on', sa.Date(), nullable=False),
        sa.Column('reinstated_on', sa.Date(), nullable=True),
        sa.Column('exclusion_type', sa.String(length=20), nullable=True),
        sa.Column('record', sa.JSON(), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.String(length=500), nullable=True),
        sa.CheckConstraint("match IN ('npi', 'name')", name=op.f('ck_exclusion_hits_match')),
        sa.CheckConstraint("status IN ('confirmed', 'pending', 'dismissed')", name=op.f('ck_exclusion_hits_status')),
        sa.CheckConstraint('reinstated_on IS NULL OR reinstated_on > excluded_on',
                           name=op.f('ck_exclusion_hits_reinstated_after')),
        sa.ForeignKeyConstraint(['screening_id'], ['exclusion_screenings.id'],
                                name=op.f('fk_exclusion_hits_screening_id_exclusion_screenings'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'],
                                name=op.f('fk_exclusion_hits_therapist_id_therapists'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'],
                                name=op.f('fk_exclusion_hits_decided_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exclusion_hits')),
        sa.UniqueConstraint('screening_id', 'therapist_id', name=op.f('uq_exclusion_hits_screening_id_therapist_id')),
    )
    op.create_index('ix_exclusion_hits_therapist_status', 'exclusion_hits', ['therapist_id', 'status'])


def downgrade():
    op.drop_index('ix_exclusion_hits_therapist_status', table_name='exclusion_hits')
    op.drop_table('exclusion_hits')
    op.drop_index(op.f('ix_exclusion_screenings_screened_on'), table_name='exclusion_screenings')
    op.drop_table('exclusion_screenings')
