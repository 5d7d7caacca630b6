"""Collections measured: how fast facilities pay and how well the agency chases them, on a day, per facility
and for the whole agency. Read by the billing and admin dashboards, the metrics page, its CSV and the API.

Receivables, DSO and the share over 60 days are aging's (receivables.aging), so these pages never disagree
with the Receivables page; the rest is one more statement whatever the number of facilities.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm

from agency.billing.collections import dispute_open_on
from agency.billing.models import COLLECTED, Dispute, Invoice, Payment, PaymentPromise
from agency.billing.receivables import Aging, FacilityAging, aging, issued_by
from agency.core.money import to_cents, to_tenths
from agency.core.sqldates import days_between
from agency.extensions import db
from agency.facilities.models import Facility

ZERO = Decimal("0.00")
# Promises and disputes are judged on those settled in the same window as DSO's billing.
WINDOW_DAYS = 90
# The share of receivables over 60 days past due that leadership accepts: under 15% is on target, up to
# 20% is to watch, more is over target (the seeds' "below 15 to 20 percent").
OVER_60_WATCH, OVER_60_BAD = Decimal("15"), Decimal("20")
RATINGS = {"good": "on target", "watch": "watch", "bad": "over target"}


def over_60_rating(share: Decimal) -> str:
    """good, watch or bad for a share over 60 days in percent."""
    return "good" if share < OVER_60_WATCH else "watch" if share <= OVER_60_BAD else "bad"


def _percent(part, whole) -> Decimal | None:
    return to_tenths(Decimal(part) * 100 / whole) if whole else None


@dataclass
class CollectionMetrics:
    """One facility's figures (or the agency's, facility_id None) on as_of."""

    as_of: date
    facility_id: int | None
    name: str
    aging: Aging | FacilityAging
    billed_month: Decimal = ZERO
    collected_month: Decimal = ZERO
    promises_kept: int = 0
    promises_broken: int = 0
    disputes_resolved: int = 0
    dispute_days: int = 0  # summed over the disputes resolved in the window
    disputes_open: int = 0
    oldest_open_dispute_days: int | None = None

    @property
    def receivables(self) -> Decimal:
        return self.aging.total

    @property
    def dso(self) -> Decimal | None:
        return self.aging.dso

    @property
    def over_60_share(self) -> Decimal:
        return self.aging.over_60_share

    @property
    def over_60_rating(self) -> str:
        return over_60_rating(self.over_60_share)

    @property
    def promise_kept_rate(self) -> Decimal | None:
        """Kept of the promises settled in the window, in percent; None when none was (not 0%)."""
        return _percent(self.promises_kept, self.promises_kept + self.promises_broken)

    @property
    def dispute_cycle_days(self) -> Decimal | None:
        """Average days from opening to resolution of the disputes resolved in the window; None when none was."""
        return to_tenths(Decimal(self.dispute_days) / self.disputes_resolved) if self.disputes_resolved else None

    @property
    def collected_share(self) -> Decimal | None:
        """Collected this month against billed this month, in percent; None when nothing was billed."""
        return _percent(self.collected_month, self.billed_month)

    def add(self, other: "CollectionMetrics") -> None:
        """Count another facility's month, promises and disputes in these (the agency's) figures."""
        self.billed_month += other.billed_month
        self.collected_month += other.collected_month
        self.promises_kept += other.promises_kept
        self.promises_broken += other.promises_broken
        self.disputes_resolved += other.disputes_resolved
        self.dispute_days += other.dispute_days
        self.disputes_open += other.disputes_open
        if other.oldest_open_dispute_days is not None:
            self.oldest_open_dispute_days = max(self.oldest_open_dispute_days or 0, other.oldest_open_dispute_days)


@dataclass
class CollectionsReport:
    as_of: date
    agency: CollectionMetrics
    facilities: list[CollectionMetrics] = field(default_factory=list)


def _activity(as_of: date):
    """SQL rows (kind, facility_id, name, amount, n): each facility's month billed and collected, promises
    settled, disputes resolved in the window (amount: their days summed) and disputes open on as_of (amount:
    the oldest one's age)."""
    month, window = as_of.replace(day=1), as_of - timedelta(days=WINDOW_DAYS)
    amount = sa.Numeric(14, 2)

    def per_facility(kind, value, *joins_and_where, source=Invoice):
        joins, where = joins_and_where
        query = sa.select(kind.label("kind"), Facility.id, Facility.name, sa.cast(value, amount),
                          sa.func.count()).select_from(source)
        for target, on in joins:
            query = query.join(target, on)
        # A literal kind is the same on every row; only a column (a promise's status) is grouped by.
        by_kind = [kind] if isinstance(kind, sa.orm.InstrumentedAttribute) else []
        return query.join(Facility, Facility.id == Invoice.facility_id).where(*where).group_by(
            *by_kind, Facility.id, Facility.name)

    to_invoice = [(Invoice, Invoice.id == Payment.invoice_id)]
    return sa.union_all(
        per_facility(sa.literal("billed"), sa.func.sum(Invoice.total), [], [
            issued_by(as_of), Invoice.issued_on >= month]),
        per_facility(sa.literal("collected"), sa.func.sum(Payment.amount), to_invoice, [
            COLLECTED, Payment.received_on >= month, Payment.received_on <= as_of], source=Payment),
        per_facility(PaymentPromise.status, sa.literal(0), [(Invoice, Invoice.id == PaymentPromise.invoice_id)], [
            PaymentPromise.status.in_(("kept", "broken")), PaymentPromise.resolved_on > window,
            PaymentPromise.resolved_on <= as_of], source=PaymentPromise),
        per_facility(sa.literal("dispute_resolved"),
                     sa.func.sum(days_between(Dispute.opened_on, Dispute.resolved_on)),
                     [(Invoice, Invoice.id == Dispute.invoice_id)],
                     [Dispute.resolved_on > window, Dispute.resolved_on <= as_of], source=Dispute),
        per_facility(sa.literal("dispute_open"),
                     sa.func.max(days_between(Dispute.opened_on, sa.literal(as_of, sa.Date))),
                     [(Invoice, Invoice.id == Dispute.invoice_id)], [dispute_open_on(as_of)], source=Dispute),
    )


def _fill(row: CollectionMetrics, kind: str, value: Decimal, n: int) -> None:
    if kind == "billed":
        row.billed_month = value
    elif kind == "collected":
        row.collected_month = value
    elif kind == "kept":
        row.promises_kept = n
    elif kind == "broken":
        row.promises_broken = n
    elif kind == "dispute_resolved":
        row.disputes_resolved, row.dispute_days = n, int(value)
    else:
        row.disputes_open, row.oldest_open_dispute_days = n, int(value)


def collections_report(as_of: date, report: Aging | None = None) -> CollectionsReport:
    """Every facility with something to measure on as_of (an open balance, billing in the last 90 days or
    this month, a payment, a promise or a dispute), by name, and the agency's totals: two statements, one
    when the agency's aging of the day is already read (report)."""
    report = report or aging(as_of)
    rows: dict[int, CollectionMetrics] = {
        f.facility_id: CollectionMetrics(as_of, f.facility_id, f.name, f) for f in report.facilities + report.paid_up}
    for kind, facility_id, name, value, n in db.session.execute(_activity(as_of)):
        if facility_id not in rows:
            rows[facility_id] = CollectionMetrics(as_of, facility_id, name, FacilityAging(facility_id, name))
        # SQLite sums NUMERIC as a float: back to exact cents.
        _fill(rows[facility_id], kind, to_cents(Decimal(str(value or 0))), n)
    agency = CollectionMetrics(as_of, None, "All facilities", report)
    for row in rows.values():
        agency.add(row)
    return CollectionsReport(as_of, agency, sorted(rows.values(), key=lambda r: r.name.lower()))


# What the metrics table sorts by; a figure that is None (nothing to measure) sorts last either way.
SORTS = {
    "name": lambda r: r.name.lower(),
    "receivables": lambda r: r.receivables,
    "dso": lambda r: r.dso,
    "over_60": lambda r: r.over_60_share,
    "promises": lambda r: r.promise_kept_rate,
    "disputes": lambda r: r.dispute_cycle_days,
    "collected": lambda r: r.collected_share,
}


def sorted_rows(rows: list[CollectionMetrics], sort: str) -> tuple[list[CollectionMetrics], str]:
    """The rows by a SORTS key, '-key' for descending; an unknown key sorts by name. The rows and the sort used."""
    key = sort.removeprefix("-")
    if key not in SORTS:
        return rows, "name"
    value = SORTS[key]
    known = [r for r in rows if value(r) is not None]
    unknown = [r for r in rows if value(r) is None]
    return sorted(known, key=value, reverse=sort.startswith("-")) + unknown, sort


def to_watch(report: CollectionsReport, limit: int) -> list[CollectionMetrics]:
    """The facilities whose share over 60 days is not on target, the largest share first: the dashboards'
    short list beside the agency's figures."""
    rows, _ = sorted_rows([r for r in report.facilities if r.over_60_rating != "good"], "-over_60")
    return rows[:limit]


CSV_HEADER = ["facility_id", "facility", "receivables", "billed_90_days", "dso", "over_60", "over_60_share",
              "over_60_rating", "promises_kept", "promises_broken", "promise_kept_rate", "disputes_resolved",
              "dispute_cycle_days", "disputes_open", "oldest_open_dispute_days", "billed_month",
              "collected_month", "collected_share"]


def csv_row(row: CollectionMetrics) -> list:
    """A row of the metrics CSV: figures as numbers, an unmeasured one blank."""
    return [row.facility_id, row.name, row.receivables, row.aging.billed_90_days, row.dso, row.aging.over_60,
            row.over_60_share, RATINGS[row.over_60_rating], row.promises_kept, row.promises_broken,
            row.promise_kept_rate, row.disputes_resolved, row.dispute_cycle_days, row.disputes_open,
            row.oldest_open_dispute_days, row.billed_month, row.collected_month, row.collected_share]
