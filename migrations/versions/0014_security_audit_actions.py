"""security audit actions: failed sign-ins, lockouts, unlocks, sign-outs, password changes and exports

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

OLD = ('create', 'update', 'delete', 'download', 'login', 'override', 'revoke', 'verify')
NEW = OLD + ('login_failed', 'lockout', 'unlock', 'logout', 'password_change', 'export')


def _actions(values):
    return "action IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_audit_events_action'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_audit_events_action'), _actions(NEW))


def downgrade():
    # Events of the new kinds cannot exist under the old rule: the downgrade refuses while there are any.
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_audit_events_action'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_audit_events_action'), _actions(OLD))
