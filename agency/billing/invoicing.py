"""Invoicing: approved, unbilled entries of one facility become one numbered invoice.

One facility's invoice is one transaction under a lock on the facility row:
a crash leaves nothing behind, a second run at the same time waits and then
finds nothing left to bill, and the partial unique index on billed entries
is the last guard against billing an entry twice.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from agency.billing.models import (
    BilledEntry,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    LineSource,
    TimesheetEntry,
)
from agency.billing.pdf import render_invoice_pdf
from agency.billing.pricing import (
    ZERO,
    BillingHistory,
    Pricing,
    Unpriced,
    WeekLedger,
    WorkedDay,
    price,
    week_start,
)
from agency.core import audit
from agency.core.dates import today
from agency.core.errors import Conflict, ValidationError
from agency.core.integrity import commit_or_conflict
from agency.core.outbox import queue_email
from agency.core.persistence import lock
from agency.extensions import db
from agency.facilities.models import Facility, RateCard
from agency.placements.models import Placement

# Biweekly invoice periods are counted in two-week blocks from this Monday.
BIWEEKLY_ANCHOR = date(2024, 1, 1)


@dataclass
class RunResult:
    invoice_ids: list[int] = field(default_factory=list)
    unpriced: list[dict] = field(default_factory=list)


def _live_billed():
    return sa.select(BilledEntry.entry_id).where(BilledEntry.live.is_(True), BilledEntry.entry_id ==
                                                 TimesheetEntry.id).exists()


def unbilled_entries_query(period_end: date, facility_id: int | None = None):
    """Approved entries up to period_end not on a live invoice, late approvals included."""
    query = (
        sa.select(TimesheetEntry)
        .join(TimesheetEntry.placement)
        .where(TimesheetEntry.status == "approved", TimesheetEntry.work_date <= period_end, ~_live_billed())
    )
    if facility_id is not None:
        query = query.where(Placement.facility_id == facility_id)
    return query


def next_invoice_number(year: int) -> str:
    """INV-YYYY-NNNNN, without gaps within a year: the counter row is locked until commit."""
    counter = lock(InvoiceCounter, year)
    if counter is None:
        try:
            with db.session.begin_nested():
                db.session.add(InvoiceCounter(year=year, last_number=0))
        except IntegrityError:
            pass  # another run created the year's counter first
        counter = lock(InvoiceCounter, year)
    counter.last_number += 1
    return f"INV-{year}-{counter.last_number:05d}"


def billing_history(entries: list[TimesheetEntry], facility_id: int, period_end: date) -> BillingHistory:
    """What live invoices already bill for these entries' placements: their weeks' direct-care hours,
    by entry and line kind, contract weeks and platform months; and the facility's weeks a void released."""
    history = BillingHistory(released=_released_weeks(facility_id, period_end))
    if history.released:
        history.hours = _week_ledgers({pid for pid, _ in history.released}, min(m for _, m in history.released),
                                      max(m for _, m in history.released) + timedelta(days=6))
    placement_ids = {e.placement_id for e in entries}
    if not placement_ids:
        return history
    first = week_start(min(e.work_date for e in entries))
    last = max(e.work_date for e in entries) + timedelta(days=6)
    history.hours |= _week_ledgers(placement_ids, first, last)
    periodic = db.session.execute(
        sa.select(InvoiceLine.id, InvoiceLine.placement_id, InvoiceLine.item, InvoiceLine.period_key)
        .join(InvoiceLine.invoice)
        .where(InvoiceLine.placement_id.in_(placement_ids), Invoice.status != "void",
               InvoiceLine.item.in_(("contract_week", "telehealth_platform_month")))
    )
    for line_id, placement_id, item, key in periodic:
        if item == "contract_week":
            history.weeks[(placement_id, key)] = line_id
        else:
            history.months.add((placement_id, key))
    return history


def _released_weeks(facility_id: int, period_end: date) -> dict[tuple[int, date], Placement]:
    """Hourly weeks up to period_end with an entry a void released that is not approved now (edited or
    rejected since): what live lines billed with its hours counted may be more than the week owes."""
    released = sa.select(BilledEntry.entry_id).where(BilledEntry.entry_id == TimesheetEntry.id).exists()
    rows = db.session.execute(
        sa.select(TimesheetEntry.work_date, Placement).join(TimesheetEntry.placement)
        .where(Placement.facility_id == facility_id, Placement.billing_basis == "hourly",
               TimesheetEntry.work_date <= period_end, TimesheetEntry.status.in_(("submitted", "rejected")),
               released)
        .options(joinedload(Placement.therapist))
    ).unique()
    return {(placement.id, week_start(work_date)): placement for work_date, placement in rows}


def _week_ledgers(placement_ids: set[int], first: date, last: date) -> dict[tuple[int, date], WeekLedger]:
    """Per (placement, Monday): the days live invoices bill, and the direct-care hours their lines bill,
    by entry and (overtime, unit price), credits included. Two queries, whatever the number of weeks."""
    ledgers: dict[tuple[int, date], WeekLedger] = defaultdict(WeekLedger)
    in_weeks = sa.and_(TimesheetEntry.placement_id.in_(placement_ids), TimesheetEntry.work_date.between(first, last))
    days = db.session.execute(
        sa.select(TimesheetEntry.id, TimesheetEntry.placement_id, TimesheetEntry.work_date,
                  TimesheetEntry.direct_care_hours)
        .join(BilledEntry, sa.and_(BilledEntry.entry_id == TimesheetEntry.id, BilledEntry.live.is_(True)))
        .where(in_weeks)
    )
    for entry_id, placement_id, work_date, hours in days:
        ledgers[(placement_id, week_start(work_date))].days.append(WorkedDay(entry_id, work_date, hours))
    billed = db.session.execute(
        sa.select(LineSource.entry_id, TimesheetEntry.placement_id, TimesheetEntry.work_date, InvoiceLine.overtime,
                  InvoiceLine.unit_price, LineSource.quantity, InvoiceLine.corrects_invoice_id, InvoiceLine.id,
                  Invoice.id, Invoice.number)
        .join(LineSource.line).join(InvoiceLine.invoice).join(LineSource.entry)
        .where(in_weeks, Invoice.status != "void", InvoiceLine.item == "direct_care_hour")
        .order_by(InvoiceLine.id)
    )
    for entry_id, placement_id, work_date, overtime, unit, quantity, corrects, line_id, invoice_id, number in billed:
        ledger = ledgers[(placement_id, week_start(work_date))]
        kinds = ledger.billed.setdefault(entry_id, {})
        kinds[(overtime, unit)] = kinds.get((overtime, unit), ZERO) + quantity
        billers = ledger.invoices.setdefault((overtime, unit), [])
        if corrects is None and (invoice_id, number) not in billers:
            billers.append((invoice_id, number))
        if corrects is None and line_id not in ledger.lines:
            ledger.lines.append(line_id)
    return dict(ledgers)


def preview(facility_id: int, period_end: date) -> Pricing:
    """What an invoice run would bill for the facility now, without writing anything."""
    entries = db.session.scalars(
        unbilled_entries_query(period_end, facility_id)
        .options(joinedload(TimesheetEntry.placement).joinedload(Placement.therapist))
    ).unique().all()
    cards = db.session.scalars(
        sa.select(RateCard).where(RateCard.facility_id == facility_id).options(selectinload(RateCard.rates))
    ).all()
    return price(entries, cards, billing_history(entries, facility_id, period_end))


def invoice_facility(facility_id: int, period_start: date, period_end: date,
                     actor=None) -> tuple[Invoice | None, list[Unpriced]]:
    """Bill a facility's approved, unbilled entries up to period_end in one invoice, or None."""
    if period_end < period_start:
        raise ValidationError.on("period_end", "must not be before period_start")
    # Serialises invoice runs of this facility (and its voids and entry decisions) without blocking rows
    # that merely reference it (placements, entries being recorded meanwhile).
    facility = lock(Facility, facility_id)
    if facility is None:
        raise ValidationError.on("facility_id", f"no facility with id {facility_id}")
    pricing = preview(facility_id, period_end)
    if pricing.covered:
        _bill_on_earlier_lines(pricing.covered)
    if not pricing.lines:
        db.session.commit()
        return None, pricing.unpriced

    issued = today()
    invoice = Invoice(
        number=next_invoice_number(issued.year), facility=facility, period_start=period_start,
        period_end=period_end, issued_on=issued, due_on=issued + timedelta(days=facility.payment_terms_days),
        total=pricing.total,
    )
    db.session.add(invoice)
    lines = []
    for position, priced in enumerate(pricing.lines, start=1):
        line = InvoiceLine(
            placement_id=priced.placement_id, position=position, item=priced.item,
            overtime=priced.overtime, period_key=priced.period_key, description=priced.description[:300],
            quantity=priced.quantity, unit_price=priced.unit_price, amount=priced.amount,
            corrects_invoice_id=priced.corrects_invoice_id,
        )
        invoice.lines.append(line)
        lines.append((line, priced))
    db.session.flush()
    _bill_entries(
        [(line.id, entry_id, qty) for line, priced in lines for entry_id, qty in priced.sources.items()],
        {entry_id: invoice.id for entry_id in pricing.billed_entries},
    )
    invoice.pdf = render_invoice_pdf(invoice)
    if facility.billing_email:
        _queue_invoice_email(invoice)
    audit.record("create", invoice, f"invoice {invoice.number} for {facility.name}: ${invoice.total}",
                 actor=actor)
    db.session.commit()
    return invoice, pricing.unpriced


def invoice_email_key(invoice: Invoice) -> str:
    return f"invoice:{invoice.number}"


def _queue_invoice_email(invoice: Invoice) -> bool:
    """Put the invoice with its PDF in the outbox to the facility's billing email; False if it was before."""
    facility = invoice.facility
    return queue_email(
        facility.billing_email, f"Invoice {invoice.number} from our agency: ${invoice.total} due "
        f"{invoice.due_on:%B %d, %Y}",
        f"Dear {facility.name} accounts payable,\n\nPlease find attached invoice {invoice.number} for "
        f"services from {invoice.period_start:%B %d} to {invoice.period_end:%B %d, %Y}: ${invoice.total}, "
        f"due {invoice.due_on:%B %d, %Y}.\n\nThank you.",
        dedupe_key=invoice_email_key(invoice),
        attachment=(f"{invoice.number}.pdf", "application/pdf", invoice.pdf),
    )


def email_invoice(invoice: Invoice, actor=None) -> Invoice:
    """Email an invoice that has not been emailed, e.g. one issued before the facility had a billing email.

    An invoice is emailed once, ever: a second request is a conflict.
    """
    if invoice.status == "void":
        raise Conflict(f"invoice {invoice.number} is void")
    if not invoice.facility.billing_email:
        raise ValidationError.on("billing_email", f"{invoice.facility.name} has no billing email; add it first")
    if not _queue_invoice_email(invoice):
        raise Conflict(f"invoice {invoice.number} was emailed already; it is never sent twice")
    audit.record("update", invoice, f"invoice {invoice.number} emailed to {invoice.facility.billing_email}",
                 actor=actor)
    commit_or_conflict(f"invoice {invoice.number} was emailed already; it is never sent twice")
    return invoice


def _bill_entries(sources: list[tuple[int, int, object]], invoice_of: dict[int, int]) -> None:
    """Trace entries to the lines that bill them and mark them billed on their invoice.

    Set-based: one statement each for the traces, the billed-entry guards and
    the statuses, whatever the size.
    """
    db.session.execute(sa.insert(LineSource), [
        {"line_id": line_id, "entry_id": entry_id, "quantity": qty} for line_id, entry_id, qty in sources
    ])
    db.session.execute(sa.insert(BilledEntry), [
        {"invoice_id": invoice_id, "entry_id": entry_id, "live": True}
        for entry_id, invoice_id in sorted(invoice_of.items())
    ])
    db.session.execute(
        sa.update(TimesheetEntry).where(TimesheetEntry.id.in_(invoice_of)).values(status="invoiced")
    )


def _bill_on_earlier_lines(covered: dict[int, int]) -> None:
    """Entries of a contract week an earlier invoice charged are billed by that line, at no extra charge.

    Voiding that invoice releases them with the rest of the week.
    """
    invoice_of_line = dict(db.session.execute(
        sa.select(InvoiceLine.id, InvoiceLine.invoice_id).where(InvoiceLine.id.in_(set(covered.values())))
    ).all())
    _bill_entries([(line_id, entry_id, ZERO) for entry_id, line_id in covered.items()],
                  {entry_id: invoice_of_line[line_id] for entry_id, line_id in covered.items()})


def facilities_with_unbilled(period_end: date, facility_id: int | None = None) -> list[int]:
    query = (
        sa.select(Placement.facility_id).distinct()
        .join(TimesheetEntry, TimesheetEntry.placement_id == Placement.id)
        .where(TimesheetEntry.status == "approved", TimesheetEntry.work_date <= period_end, ~_live_billed())
    )
    if facility_id is not None:
        query = query.where(Placement.facility_id == facility_id)
    return sorted(db.session.scalars(query))


def run_invoices(period_start: date, period_end: date, facility_ids: list[int] | None = None,
                 actor=None) -> RunResult:
    """Invoice every facility (or those listed) with approved, unbilled hours; each facility commits on its own."""
    result = RunResult()
    for fid in facilities_with_unbilled(period_end) if facility_ids is None else sorted(facility_ids):
        invoice, unpriced = invoice_facility(fid, period_start, period_end, actor)
        if invoice is not None:
            result.invoice_ids.append(invoice.id)
        result.unpriced += [{"entry_id": u.entry.id, "reason": u.reason} for u in unpriced]
    return result


def last_closed_period(schedule: str, as_of: date) -> tuple[date, date]:
    """The most recent complete invoice period before as_of for a weekly, biweekly or monthly schedule."""
    if schedule == "monthly":
        first_of_month = as_of.replace(day=1)
        return first_of_month - relativedelta(months=1), first_of_month - timedelta(days=1)
    this_monday = week_start(as_of)
    if schedule == "weekly":
        return this_monday - timedelta(days=7), this_monday - timedelta(days=1)
    blocks = (this_monday - BIWEEKLY_ANCHOR).days // 14
    end = BIWEEKLY_ANCHOR + timedelta(days=14 * blocks) - timedelta(days=1)
    return end - timedelta(days=13), end


def scheduled_runs(as_of: date) -> list[tuple[int, date, date]]:
    """(facility, period start, period end) for each active facility whose last closed period has hours
    to bill and no invoice yet.

    A facility is invoiced once per period of its schedule, however often the
    job runs: hours approved after their period's invoice wait for the next one.
    """
    facilities = db.session.scalars(sa.select(Facility).where(Facility.active.is_(True))).all()
    periods = {f.id: last_closed_period(f.invoice_schedule, as_of) for f in facilities}
    ends = {end for _, end in periods.values()}
    # At most one query per schedule (weekly, biweekly, monthly), whatever the number of facilities.
    pending = {(fid, end) for end in ends for fid in facilities_with_unbilled(end)}
    invoiced = {(fid, end) for fid, end in db.session.execute(
        sa.select(Invoice.facility_id, Invoice.period_end)
        .where(Invoice.status != "void", Invoice.period_end.in_(ends))
    )} if ends else set()
    return [(fid, start, end) for fid, (start, end) in sorted(periods.items())
            if (fid, end) in pending and (fid, end) not in invoiced]
