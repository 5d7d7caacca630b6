"""The numbers each role's home page shows; every figure is one aggregate query."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy.orm import aliased, joinedload

from agency.billing.invoicing import unbilled_entries_query
from agency.billing.models import Invoice, Payment, TimesheetEntry
from agency.core.outbox import OutboxMessage
from agency.credentials.models import License, Therapist
from agency.credentials.worklist import expiring_by_week
from agency.extensions import db
from agency.placements.models import CheckIn, Placement

ZERO = Decimal("0.00")


@dataclass
class Compliance:
    active_therapists: int
    compliant: int

    @property
    def rate(self) -> Decimal:
        if not self.active_therapists:
            return Decimal("100.0")
        return (Decimal(self.compliant) * 100 / self.active_therapists).quantize(Decimal("0.1"))


def compliance(as_of: date) -> Compliance:
    """Active therapists with no lapsed license (unless renewed) and a current CAQH attestation.

    A license counts as lapsed when it expired and no later license of the same
    state and type replaced it.
    """
    newer = aliased(License)
    lapsed = sa.select(License.id).where(
        License.therapist_id == Therapist.id, License.expires_on < as_of,
        ~sa.select(newer.id).where(newer.therapist_id == License.therapist_id, newer.state == License.state,
                                   newer.license_type == License.license_type,
                                   newer.expires_on > License.expires_on).exists(),
    ).exists()
    stale_caqh = sa.and_(
        Therapist.caqh_id.is_not(None),
        Therapist.caqh_attested_on < as_of - timedelta(days=current_app.config["CAQH_ATTESTATION_DAYS"]),
    )
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(~lapsed, ~stale_caqh))
        .select_from(Therapist).where(Therapist.status == "active")
    ).one()
    return Compliance(row[0], row[1])


def expirations_by_week(as_of: date, weeks: int = 13) -> list[tuple[date, int]]:
    """Licenses and documents expiring in each of the next weeks (a quarter by default).

    Counted as the worklist counts them: a privilege by its home license too,
    renewed credentials and therapists no longer working left out.
    """
    counts = expiring_by_week(as_of, weeks)
    return [(as_of + timedelta(weeks=i), counts[i]) for i in range(weeks)]


def billed_and_collected(as_of: date, months: int = 6) -> list[tuple[date, Decimal, Decimal]]:
    """(month, billed, collected) for the last months, oldest first."""
    first = as_of.replace(day=1) - relativedelta(months=months - 1)
    billed = dict.fromkeys(range(months), ZERO)
    collected = dict.fromkeys(range(months), ZERO)

    def index(day: date) -> int:
        return (day.year - first.year) * 12 + day.month - first.month

    for issued, total in db.session.execute(
        sa.select(Invoice.issued_on, Invoice.total)
            .where(Invoice.status != "void", Invoice.issued_on >= first, Invoice.issued_on <= as_of)):
        billed[index(issued)] += total
    for received, amount in db.session.execute(
        sa.select(Payment.received_on, Payment.amount).where(Payment.received_on >= first,
                                                            Payment.received_on <= as_of)):
        collected[index(received)] += amount
    return [(first + relativedelta(months=i), billed[i], collected[i]) for i in range(months)]


def unbilled_hours(as_of: date) -> tuple[int, Decimal]:
    """Approved entries not yet on a live invoice: how many, and their direct-care hours."""
    ids = unbilled_entries_query(as_of).with_only_columns(TimesheetEntry.id)
    count, hours = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(TimesheetEntry.direct_care_hours), 0))
        .where(TimesheetEntry.id.in_(ids))
    ).one()
    return count, Decimal(hours)


def invoices_to_send() -> int:
    """Invoice emails still waiting in the outbox (unsent or failing)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.dedupe_key.like("invoice:%"), OutboxMessage.sent_at.is_(None))
    )


def active_placements() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Placement).where(Placement.status == "active"))


def month_money(as_of: date) -> tuple[Decimal, Decimal]:
    """Billed and collected in the month of as_of."""
    first = as_of.replace(day=1)
    billed = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Invoice.total), 0)).where(
        Invoice.status != "void", Invoice.issued_on.between(first, as_of)))
    collected = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Payment.amount), 0)).where(
        Payment.received_on.between(first, as_of)))
    return Decimal(billed), Decimal(collected)


def escalations(limit: int = 20) -> list[CheckIn]:
    """Check-ins where a concern was raised, newest first."""
    return db.session.scalars(
        sa.select(CheckIn).where(CheckIn.concern.is_(True))
        .options(joinedload(CheckIn.placement).joinedload(Placement.therapist),
                 joinedload(CheckIn.placement).joinedload(Placement.facility))
        .order_by(CheckIn.escalated_at.desc()).limit(limit)
    ).all()


def my_placements(user_id: int, limit: int = 20) -> list[Placement]:
    return db.session.scalars(
        sa.select(Placement).where(Placement.recruiter_id == user_id,
                                   Placement.status.in_(("proposed", "onboarding", "active")))
        .options(joinedload(Placement.therapist), joinedload(Placement.facility))
        .order_by(Placement.start_on).limit(limit)
    ).all()
