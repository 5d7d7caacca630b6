"""The numbers each role's home page shows; every figure is one aggregate query."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import aliased, joinedload

from agency.billing.invoicing import unbilled_entries_query
from agency.billing.models import COLLECTED, ISSUED_STATUSES, Invoice, Payment, TimesheetEntry
from agency.core.money import to_cents
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
        License.therapist_id == Therapist.id, License.status_on(as_of) == "expired",
        ~sa.select(newer.id).where(newer.therapist_id == License.therapist_id, newer.state == License.state,
                                   newer.license_type == License.license_type,
                                   newer.expires_on > License.expires_on).exists(),
    ).exists()
    stale_caqh = sa.and_(
        Therapist.caqh_id.is_not(None),
        Therapist.caqh_attestation_due_on < as_of,  # the home state's CAQH rule
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
    """(month, billed, collected) for the last months, oldest first; the last is the month of as_of.

    One statement: each side summed by calendar month in SQL, so the rows read are
    two per month whatever the number of invoices.
    """
    first = as_of.replace(day=1) - relativedelta(months=months - 1)

    def by_month(kind: str, day, amount, *where):
        year, month = sa.extract("year", day), sa.extract("month", day)
        return (sa.select(sa.literal(kind).label("kind"), year.label("year"), month.label("month"),
                          sa.func.sum(amount).label("amount"))
                .where(day >= first, day <= as_of, *where).group_by(year, month))

    totals = {"billed": dict.fromkeys(range(months), ZERO), "collected": dict.fromkeys(range(months), ZERO)}
    for kind, year, month, amount in db.session.execute(sa.union_all(
            by_month("billed", Invoice.issued_on, Invoice.total, Invoice.status.in_(ISSUED_STATUSES)),
            by_month("collected", Payment.received_on, Payment.amount, COLLECTED))):
        # SQLite sums NUMERIC as a float: back to exact cents.
        totals[kind][(int(year) - first.year) * 12 + int(month) - first.month] = to_cents(Decimal(str(amount)))
    return [(first + relativedelta(months=i), totals["billed"][i], totals["collected"][i]) for i in range(months)]


@dataclass
class BillingFigures:
    unbilled_entries: int
    unbilled_hours: Decimal
    invoices_to_send: int
    active_placements: int


def billing_figures(as_of: date) -> BillingFigures:
    """Approved entries not yet on a live invoice (how many, their direct-care hours), invoice emails
    still waiting in the outbox (unsent or failing) and active placements: one statement."""
    unbilled = unbilled_entries_query(as_of).with_only_columns(TimesheetEntry.id)
    unbilled_totals = (sa.select(sa.func.count().label("entries"),
                                 sa.func.coalesce(sa.func.sum(TimesheetEntry.direct_care_hours), 0).label("hours"))
                       .where(TimesheetEntry.id.in_(unbilled)).subquery())
    waiting = (sa.select(sa.func.count()).select_from(OutboxMessage)
               .where(OutboxMessage.dedupe_key.like("invoice:%"), OutboxMessage.sent_at.is_(None))
               .scalar_subquery())
    active = (sa.select(sa.func.count()).select_from(Placement).where(Placement.status == "active")
              .scalar_subquery())
    row = db.session.execute(
        sa.select(unbilled_totals.c.entries, unbilled_totals.c.hours, waiting, active)).one()
    return BillingFigures(row[0], Decimal(str(row[1])), row[2], row[3])


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
                                   Placement.status.in_(Placement.LIVE))
        .options(joinedload(Placement.therapist), joinedload(Placement.facility))
        .order_by(Placement.start_on).limit(limit)
    ).all()
