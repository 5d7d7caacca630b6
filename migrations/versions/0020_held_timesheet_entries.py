"""held timesheet entries: hours recorded for a day the therapist could not bill, why, and an admin's release (the codes it covered)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 18:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

OLD_STATUSES = ('submitted', 'approved', 'rejected', 'invoiced')
NEW_STATUSES = ('submitted', 'held', 'approved', 'rejected', 'invoiced')


def _statuses(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('timesheet_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_reasons', sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column('released_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('released_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('release_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('released_codes', sa.JSON(none_as_null=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_timesheet_entries_released_by_id_users'), 'users',
                                    ['released_by_id'], ['id'], ondelete='SET NULL')
        batch_op.drop_constraint(batch_op.f('ck_timesheet_entries_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_timesheet_entries_status'), _statuses(NEW_STATUSES))
        batch_op.create_check_constraint(batch_op.f('ck_timesheet_entries_hold_reasons'),
                                         "(status = 'held') = (hold_reasons IS NOT NULL)")
        batch_op.create_check_constraint(batch_op.f('ck_timesheet_entries_release'),
                                         "(released_at IS NULL) = (release_reason IS NULL) "
                                         "AND (released_at IS NULL) = (released_codes IS NULL)")
    with op.batch_alter_table('invoice_run_facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('invoice_run_facilities', schema=None) as batch_op:
        batch_op.alter_column('held', existing_type=sa.JSON(), server_default=None)


def downgrade():
    # Held hours go back to awaiting approval: the older schema knows no hold.
    entries = sa.table('timesheet_entries', sa.column('status', sa.String), sa.column('hold_reasons', sa.JSON))
    op.execute(entries.update().where(entries.c.status == 'held').values(status='submitted', hold_reasons=None))
    with op.batch_alter_table('invoice_run_facilities', schema=None) as batch_op:
        batch_op.drop_column('held')
    with op.batch_alter_table('timesheet_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_timesheet_entries_release'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_timesheet_entries_hold_reasons'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_timesheet_entries_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_timesheet_entries_status'), _statuses(OLD_STATUSES))
        batch_op.drop_constraint(batch_op.f('fk_timesheet_entries_released_by_id_users'), type_='foreignkey')
        batch_op.drop_column('released_codes')
        batch_op.drop_column('release_reason')
        batch_op.drop_column('released_by_id')
        batch_op.drop_column('released_at')
        batch_op.drop_column('hold_reasons')
