"""rules as data: CAQH re-attestation per state, re-credentialing per payer, CE rule sources

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 17:00:00

A panel's re-credentialing date becomes derived from the payer's rule; the stored
column keeps only a date staff entered from the payer (recredential_due_override).
A stored date that is what the NCQA default gives (36 months after the effective
date of an approved enrollment) was the rule copied by hand: it is cleared, so it
follows the rule from now on; any other date stays as the payer's own.
"""
from datetime import date

import sqlalchemy as sa
from alembic import op
from dateutil.relativedelta import relativedelta


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

OLD_TOPICS = ('general', 'ethics', 'suicide_prevention', 'implicit_bias', 'human_trafficking',
              'cultural_competence', 'clinical_supervision', 'domestic_violence', 'substance_use',
              'laws_and_rules', 'pharmacology')
NEW_TOPICS = OLD_TOPICS + ('medical_errors', 'sexual_harassment_prevention', 'child_abuse')
DEFAULT_MONTHS = 36


def _topics(values):
    return "topic IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _set_topics(values):
    for table in ('ce_records', 'ce_topic_requirements'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_topic'), type_='check')
            batch_op.create_check_constraint(batch_op.f(f'ck_{table}_topic'), _topics(values))


def _as_date(value):
    return value if isinstance(value, date) or value is None else date.fromisoformat(value)


def upgrade():
    op.create_table(
        'caqh_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=2), nullable=True),
        sa.Column('interval_days', sa.Integer(), nullable=False),
        sa.Column('reminder_days', sa.JSON(), nullable=False),
        sa.Column('source', sa.String(length=255), nullable=False),
        sa.Column('checked_on', sa.Date(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.CheckConstraint('interval_days BETWEEN 1 AND 3650', name=op.f('ck_caqh_rules_interval_days')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_caqh_rules')),
        sa.UniqueConstraint('state', name=op.f('uq_caqh_rules_state')),
    )
    op.create_table(
        'payer_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('payer', sa.String(length=120), nullable=True),
        sa.Column('months', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=255), nullable=False),
        sa.Column('checked_on', sa.Date(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.CheckConstraint('months BETWEEN 1 AND 120', name=op.f('ck_payer_rules_months')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payer_rules')),
        sa.UniqueConstraint('payer', name=op.f('uq_payer_rules_payer')),
    )
    with op.batch_alter_table('ce_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('checked_on', sa.Date(), nullable=True))
    _set_topics(NEW_TOPICS)

    with op.batch_alter_table('panel_enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_panel_enrollments_recredential_due_on'))
        batch_op.alter_column('recredential_due_on', new_column_name='recredential_due_override')
    panels = sa.table('panel_enrollments', sa.column('id', sa.Integer), sa.column('status', sa.String),
                      sa.column('effective_on', sa.Date), sa.column('recredential_due_override', sa.Date))
    bind = op.get_bind()
    copied = [row.id for row in bind.execute(
        sa.select(panels.c.id, panels.c.effective_on, panels.c.recredential_due_override)
        .where(panels.c.status == 'approved', panels.c.recredential_due_override.is_not(None),
               panels.c.effective_on.is_not(None)))
        if _as_date(row.recredential_due_override)
        == _as_date(row.effective_on) + relativedelta(months=DEFAULT_MONTHS)]
    for start in range(0, len(copied), 500):
        bind.execute(sa.update(panels).where(panels.c.id.in_(copied[start:start + 500]))
                     .values(recredential_due_override=None))


def downgrade():
    # Every enrollment gets back a stored date: the one in force, as the default rule gives it.
    panels = sa.table('panel_enrollments', sa.column('id', sa.Integer), sa.column('status', sa.String),
                      sa.column('effective_on', sa.Date), sa.column('recredential_due_override', sa.Date))
    bind = op.get_bind()
    for row in bind.execute(sa.select(panels.c.id, panels.c.effective_on).where(
            panels.c.status == 'approved', panels.c.recredential_due_override.is_(None),
            panels.c.effective_on.is_not(None))).all():
        bind.execute(sa.update(panels).where(panels.c.id == row.id).values(
            recredential_due_override=_as_date(row.effective_on) + relativedelta(months=DEFAULT_MONTHS)))
    with op.batch_alter_table('panel_enrollments', schema=None) as batch_op:
        batch_op.alter_column('recredential_due_override', new_column_name='recredential_due_on')
    with op.batch_alter_table('panel_enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panel_enrollments_recredential_due_on'), ['recredential_due_on'],
                              unique=False)
    # Records and rules of the new topics cannot exist under the old rule: the downgrade refuses while any do.
    _set_topics(OLD_TOPICS)
    with op.batch_alter_table('ce_rules', schema=None) as batch_op:
        batch_op.drop_column('checked_on')
        batch_op.drop_column('source')
    op.drop_table('payer_rules')
    op.drop_table('caqh_rules')
