"""sessions and lockouts: a per-user session token that ends every session when replaced, and when an account was locked

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 15:00:00

"""
import secrets

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_locked_until'), ['locked_until'], unique=False)
    # Each existing user gets a token of their own; sessions signed in before it no longer load.
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(users.update().where(users.c.id == user_id).values(session_token=secrets.token_urlsafe(32)))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_locked_until'))
        batch_op.drop_column('locked_until')
        batch_op.drop_column('locked_at')
        batch_op.drop_column('session_token')
