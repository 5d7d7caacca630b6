"""approval chase: a facility's approval window, approver contacts, when hours were submitted, reminders sent

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 21:50:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_window_days', sa.Integer(), server_default='3', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_facilities_approval_window'),
                                         'approval_window_days BETWEEN 1 AND 30')

    with op.batch_alter_table('facility_contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approver', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_facility_contacts_approver'),
                                         "approver IN ('primary', 'alternate')")
        batch_op.create_index('uq_facility_contacts_approver', ['facility_id', 'approver'], unique=True,
                              postgresql_where=sa.text("approver IS NOT NULL"),
                              sqlite_where=sa.text("approver IS NOT NULL"))

    # Entries recorded before now went for approval when they were recorded.
    with op.batch_alter_table('timesheet_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE timesheet_entries SET submitted_at = created_at")
    with op.batch_alter_table('timesheet_entries', schema=None) as batch_op:
        batch_op.alter_column('submitted_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_timesheet_entries_waiting', ['submitted_at'], unique=False,
                              postgresql_where=sa.text("status = 'submitted'"),
                              sqlite_where=sa.text("status = 'submitted'"))

    op.create_table('approval_chases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=20), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('recipient', sa.String(length=255), nullable=False),
    sa.CheckConstraint("step IN ('approver', 'alternate', 'recruiter')", name=op.f('ck_approval_chases_step')),
    sa.ForeignKeyConstraint(['entry_id'], ['timesheet_entries.id'],
                            name=op.f('fk_approval_chases_entry_id_timesheet_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_chases')),
    sa.UniqueConstraint('entry_id', 'step', name=op.f('uq_approval_chases_entry_id_step'))
    )


def downgrade():
    op.drop_table('approval_chases')
    with op.batch_alter_table('timesheet_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_timesheet_entries_waiting', postgresql_where=sa.text("status = 'submitted'"),
                            sqlite_where=sa.text("status = 'submitted'"))
        batch_op.drop_column('submitted_at')
    with op.batch_alter_table('facility_contacts', schema=None) as batch_op:
        batch_op.drop_index('uq_facility_contacts_approver', postgresql_where=sa.text("approver IS NOT NULL"),
                            sqlite_where=sa.text("approver IS NOT NULL"))
        batch_op.drop_constraint(batch_op.f('ck_facility_contacts_approver'), type_='check')
        batch_op.drop_column('approver')
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_facilities_approval_window'), type_='check')
        batch_op.drop_column('approval_window_days')
