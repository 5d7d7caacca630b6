"""CE progress: hours done in a license's current renewal cycle against its state's rule."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from agency.core.sqldates import months_before
from agency.credentials.models import CERecord, CERule, CETopicRequirement, License
from agency.extensions import db


@dataclass
class TopicProgress:
    topic: str
    required: Decimal
    done: Decimal

    @property
    def shortfall(self) -> Decimal:
        return max(self.required - self.done, Decimal(0))


@dataclass
class CEProgress:
    license: License
    rule: CERule | None
    cycle_start: date | None = None
    cycle_end: date | None = None
    hours_done: Decimal = Decimal(0)
    topics: list[TopicProgress] = field(default_factory=list)

    @property
    def hours_required(self) -> Decimal:
        return self.rule.hours_required if self.rule else Decimal(0)

    @property
    def hours_short(self) -> Decimal:
        return max(self.hours_required - self.hours_done, Decimal(0))

    @property
    def topic_shortfalls(self) -> list[TopicProgress]:
        return [t for t in self.topics if t.shortfall > 0]

    @property
    def has_shortfall(self) -> bool:
        return self.rule is not None and (self.hours_short > 0 or bool(self.topic_shortfalls))

    @property
    def percent(self) -> int:
        if not self.rule:
            return 100
        return min(100, int(self.hours_done * 100 / self.hours_required))


def _rules_by_key() -> dict[tuple[str, str], CERule]:
    return {(r.state, r.license_type): r for r in db.session.scalars(sa.select(CERule))}


def ce_progress_for(licenses: list[License]) -> dict[int, CEProgress]:
    """CE progress of many licenses in two queries: the rules and the therapists' records.

    The current cycle is the cycle_months that end on the license's expiry date:
    boards count CE completed within the renewal period being renewed.
    """
    rules = _rules_by_key()
    # Compact privileges and temporary licenses carry no CE of their own.
    counted = {id(lic) for lic in licenses if lic.kind == "state_license" and (lic.state, lic.license_type) in rules}
    therapist_ids = {lic.therapist_id for lic in licenses if id(lic) in counted}
    # Plain rows, not ORM records: matching reads the CE of hundreds of therapists at once. The query
    # runs even for none, so a page makes as many statements whatever the therapist holds.
    records_by_therapist: dict[int, list] = defaultdict(list)
    for record in db.session.execute(
        sa.select(CERecord.therapist_id, CERecord.completed_on, CERecord.hours, CERecord.topic)
        .where(CERecord.therapist_id.in_(therapist_ids))
    ):
        records_by_therapist[record.therapist_id].append(record)

    progress = {}
    for lic in licenses:
        rule = rules.get((lic.state, lic.license_type))
        item = CEProgress(license=lic, rule=rule)
        if id(lic) in counted:
            item.cycle_end = lic.expires_on
            item.cycle_start = lic.expires_on - relativedelta(months=rule.cycle_months)
            in_cycle = [
                r for r in records_by_therapist[lic.therapist_id]
                if item.cycle_start < r.completed_on <= item.cycle_end
            ]
            item.hours_done = sum((r.hours for r in in_cycle), Decimal(0))
            for req in rule.topics:
                done = sum((r.hours for r in in_cycle if r.topic == req.topic), Decimal(0))
                item.topics.append(TopicProgress(req.topic, req.hours, done))
        else:
            item.rule = None
        progress[lic.id] = item
    return progress


def _cents(hours):
    # Whole cents, so that sums of hours compare exactly on SQLite too, which adds them as floats.
    return sa.cast(sa.func.round(hours * 100), sa.Integer)


def ce_shortfall():
    """CEProgress.has_shortfall in SQL, for a query that joins License to its CERule.

    The same cycle as ce_progress_for (the cycle_months ending on the expiry date), so the
    worklist finds in SQL exactly the licenses whose progress shows a shortfall.
    """
    start = months_before(License.expires_on, CERule.cycle_months)

    def done(*topic):
        return (
            sa.select(sa.func.coalesce(sa.func.sum(_cents(CERecord.hours)), 0))
            .where(CERecord.therapist_id == License.therapist_id, CERecord.completed_on > start,
                   CERecord.completed_on <= License.expires_on, *topic)
            .correlate_except(CERecord)  # to the license and rule of the query around it, however deep
            .scalar_subquery()
        )

    topic_short = sa.select(CETopicRequirement.id).where(
        CETopicRequirement.rule_id == CERule.id,
        done(CERecord.topic == CETopicRequirement.topic) < _cents(CETopicRequirement.hours),
    ).exists()
    return sa.or_(done() < _cents(CERule.hours_required), topic_short)


def ce_progress(license: License) -> CEProgress:
    return ce_progress_for([license])[license.id]
