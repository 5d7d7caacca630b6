"""credential scan and worklist: indexes on CAQH attestation dates and on reminders' due dates

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('therapists', schema=None) as batch_op:
        batch_op.create_index('ix_therapists_caqh_attested_on', ['caqh_attested_on'], unique=False)
    with op.batch_alter_table('credential_reminders', schema=None) as batch_op:
        batch_op.create_index('ix_credential_reminders_due_on', ['due_on'], unique=False)


def downgrade():
    with op.batch_alter_table('credential_reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_credential_reminders_due_on')
    with op.batch_alter_table('therapists', schema=None) as batch_op:
        batch_op.drop_index('ix_therapists_caqh_attested_on')
