"""outbox mail kinds: whose mail each message is (credential, billing, placement, account), so each team sees its own

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

KINDS = ('credential', 'billing', 'placement', 'account')
# The first part of a dedupe key -> kind, as core/outbox.py KIND_OF_KEY had it when kinds came in.
KIND_OF_KEY = {'reminder': 'credential', 'invoice': 'billing',
               'dunning': 'billing', 'billing-email-changed': 'billing', 'assignment-alert': 'placement',
               'checkin-concern': 'placement'}


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=True))
    messages = sa.table('outbox_messages', sa.column('kind', sa.String), sa.column('dedupe_key', sa.String))
    for prefix, kind in KIND_OF_KEY.items():
        op.execute(messages.update().where(messages.c.dedupe_key.like(f'{prefix}:%')).values(kind=kind))
    op.execute(messages.update().where(messages.c.kind.is_(None)).values(kind='account'))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=20), nullable=False)
        batch_op.create_check_constraint(batch_op.f('ck_outbox_messages_kind'),
                                         "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")")
        batch_op.create_index('ix_outbox_messages_kind', ['kind', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_kind')
        batch_op.drop_constraint(batch_op.f('ck_outbox_messages_kind'), type_='check')
        batch_op.drop_column('kind')
