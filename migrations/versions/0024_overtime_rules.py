"""overtime rules on rate cards: weekly, daily, 8-and-80

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 21:50:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rate_cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overtime_rule', sa.String(length=20), server_default='weekly',
                                      nullable=False))
        batch_op.add_column(sa.Column('daily_threshold_hours', sa.Numeric(precision=6, scale=2), nullable=True))
        batch_op.add_column(sa.Column('period_anchor', sa.Date(), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_rate_cards_overtime_rule'),
                                         "overtime_rule IN ('weekly', 'eight_and_eighty', 'daily')")
        batch_op.create_check_constraint(
            batch_op.f('ck_rate_cards_daily_threshold'),
            "(overtime_rule = 'daily') = (daily_threshold_hours IS NOT NULL) AND "
            "(daily_threshold_hours IS NULL OR (daily_threshold_hours > 0 AND daily_threshold_hours <= 24))")
        batch_op.create_check_constraint(batch_op.f('ck_rate_cards_period_anchor'),
                                         "overtime_rule = 'eight_and_eighty' OR period_anchor IS NULL")
        batch_op.create_check_constraint(batch_op.f('ck_rate_cards_eighty_fixed'),
                                         "overtime_rule <> 'eight_and_eighty' OR overtime_threshold_hours IS NULL")


def downgrade():
    with op.batch_alter_table('rate_cards', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_rate_cards_eighty_fixed'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_rate_cards_period_anchor'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_rate_cards_daily_threshold'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_rate_cards_overtime_rule'), type_='check')
        batch_op.drop_column('period_anchor')
        batch_op.drop_column('daily_threshold_hours')
        batch_op.drop_column('overtime_rule')
