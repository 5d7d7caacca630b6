"""Invoicing: approved, unbilled entries of one facility become one numbered invoice.

A run reads what it prices for all its facilities in a few set-based queries,
prices each facility, and writes the invoices of a batch of facilities in a
short transaction under locks on their facility rows, the numbers taken last
and each table's rows in one statement: a crash leaves nothing of the batch
behind, and a second run at the same time waits for the locks and then finds
nothing left to bill. What changed between the run's read and the locks
(another run, a void, a decision) is seen by the conditional write of each
facility's entries' status; the batch is then written again facility by
facility, and the one that changed is read and priced again under its lock.
The partial unique index on billed entries is the last guard against billing an
entry twice. The PDF and the facility's email follow the commit, in a job.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from agency.billing import holds, receivables
from agency.billing.models import (
    ISSUED_STATUSES,
    LIVE,
    BilledEntry,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    LineSource,
    TimesheetEntry,
)
from agency.billing.pdf import queue_invoice_email, store_invoice_pdf
from agency.billing.pricing import (
    ZERO,
    BillingHistory,
    PeriodKey,
    Pricing,
    Unpriced,
    WeekLedger,
    WorkedDay,
    card_on,
    month_start,
    overtime_period,
    price,
    week_start,
)
from agency.core import audit
from agency.core.dates import human_day, today
from agency.core.errors import Conflict, ServiceUnavailable, ValidationError
from agency.core.integrity import commit_or_conflict
from agency.core.jobs import enqueue
from agency.core.money import format_money
from agency.core.persistence import lock, lock_all
from agency.extensions import db
from agency.facilities.models import Facility, RateCard
from agency.placements.models import Placement

log = logging.getLogger(__name__)

# Facilities whose invoices a run writes in one transaction: each table's rows of all of them go in one
# statement, and their locks and the year's number counter are held only for those few statements.
BATCH = 20
# Biweekly invoice periods are counted in two-week blocks from this Monday.
BIWEEKLY_ANCHOR = date(2024, 1, 1)


@dataclass
class FacilityOutcome:
    invoice_id: int | None = None
    unpriced: list[dict] = field(default_factory=list)
    error: Exception | None = None
    # Held entries up to the period's end: never billed while held, reported as unpriced ones are.
    held: list[dict] = field(default_factory=list)
    # The invoice the safety stop parked as a draft: {"invoice_id", "total", "reason"}.
    parked: list[dict] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class RunResult:
    invoice_ids: list[int] = field(default_factory=list)
    unpriced: list[dict] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)
    parked: list[dict] = field(default_factory=list)
    # facility id -> what its invoice came to; only facilities that had something to bill
    facilities: dict[int, FacilityOutcome] = field(default_factory=dict)


def _live_billed():
    return sa.select(BilledEntry.entry_id).where(BilledEntry.entry_id == TimesheetEntry.id, LIVE).exists()


def unbilled_entries_query(period_end: date, facility_ids: Iterable[int] | None = None):
    """Approved entries up to period_end not on a live invoice, late approvals included."""
    query = (
        sa.select(TimesheetEntry)
        .join(TimesheetEntry.placement)
        .where(TimesheetEntry.status == "approved", TimesheetEntry.work_date <= period_end, ~_live_billed())
    )
    if facility_ids is not None:
        query = query.where(Placement.facility_id.in_(sorted(set(facility_ids))))
    return query


def unbilled_by_facility(as_of: date) -> list[tuple[str, int, object]]:
    """(facility name, entries, direct-care hours) of what an invoice run up to as_of would bill, by facility.

    Counted straight from the run's own query (entries joined to their facility), not as entries IN that
    query: the IN made the database read the entries twice over.
    """
    return db.session.execute(
        unbilled_entries_query(as_of)
        .with_only_columns(Facility.name, sa.func.count(TimesheetEntry.id),
                           sa.func.sum(TimesheetEntry.direct_care_hours))
        .join(Placement.facility).group_by(Facility.name).order_by(Facility.name)
    ).all()


# The statements each invoice is written with, built once: building them again for every facility of a
# run costs more than sending them.
_BUMP = (sa.update(InvoiceCounter).where(InvoiceCounter.year == sa.bindparam("of_year"))
         .values(last_number=InvoiceCounter.last_number + sa.bindparam("count")).returning(InvoiceCounter.last_number))
_MARK = (sa.update(TimesheetEntry).where(TimesheetEntry.id.in_(sa.bindparam("ids", expanding=True)))
         .values(status="invoiced"))
# Marks only entries still approved and not decided again since the run read them (an edit sends an
# entry back to submitted, and approving it again stamps decided_at anew), and only while the facility's
# invoices are as the run read them.
_MARK_IF_UNCHANGED = _MARK.where(
    TimesheetEntry.status == "approved",
    sa.or_(TimesheetEntry.decided_at.is_(None), TimesheetEntry.decided_at <= sa.bindparam("decided_by")),
    sa.select(sa.func.count()).where(Invoice.facility_id == sa.bindparam("of_facility"))
    .scalar_subquery() == sa.bindparam("made"),
    sa.select(sa.func.count(Invoice.voided_at)).where(Invoice.facility_id == sa.bindparam("of_facility"))
    .scalar_subquery() == sa.bindparam("voided"),
)


def _write(statement, params):
    """A prepared write on the session's connection, without the ORM's bookkeeping around it."""
    return db.session.connection().execute(statement, params)


def invoice_numbers(year: int, count: int) -> list[str]:
    """The next count numbers INV-YYYY-NNNNN, without gaps within a year: the counter row stays locked
    until commit.

    One conditional UPDATE takes the row lock and the numbers at once; callers take them last, just
    before the invoices are written, so other invoices wait for it only for that write and the commit.
    """
    last = _write(_BUMP, {"of_year": year, "count": count}).scalar()
    if last is None:
        try:
            with db.session.begin_nested():
                db.session.add(InvoiceCounter(year=year, last_number=0))
        except IntegrityError:
            pass  # another run created the year's counter first
        last = _write(_BUMP, {"of_year": year, "count": count}).scalar()
    return [f"INV-{year}-{number:05d}" for number in range(last - count + 1, last + 1)]


@dataclass
class _Bill:
    """What one facility's invoice is priced from, read for a whole run at once."""

    facility: Facility
    entries: list[TimesheetEntry]
    cards: list[RateCard]
    history: BillingHistory
    # The facility's invoices (all, voided) when this was read: a run that finds them changed once it
    # holds the facility's lock knows another run or a void came between, and prices it again.
    invoices_seen: tuple[int, int]
    # Invoice of each earlier line an entry may be billed on without charge (a contract week's).
    line_invoices: dict[int, int]
    # The latest live invoice of the facility whose period overlaps the run's: the one a new invoice of
    # that period supplements. Read with invoices_seen, so a change to it shows as theirs does.
    supplements: int | None = None
    # Totals of the facility's latest issued invoices, newest first: what the safety stop compares with.
    recent_totals: list = field(default_factory=list)


def _load(facility_ids: Iterable[int], period_end: date, period_start: date | None = None) -> dict[int, _Bill]:
    """Everything the facilities' invoices are priced from, in a fixed number of queries for any number
    of facilities: entries, placements, therapists, rate cards and rates, what live invoices bill, and
    (given the period's start) the earlier invoice of the period a new one would supplement."""
    ids = sorted(set(facility_ids))
    if not ids:
        return {}
    # Read first, so that an invoice made or voided while the rest is read shows as a change.
    same_period = (sa.and_(Invoice.status != "void", Invoice.period_start <= period_end,
                           Invoice.period_end >= period_start) if period_start else sa.false())
    seen, supplements = {}, {}
    for fid, made, voided, earlier in db.session.execute(
            sa.select(Invoice.facility_id, sa.func.count(), sa.func.count(Invoice.voided_at),
                      sa.func.max(sa.case((same_period, Invoice.id))))
            .where(Invoice.facility_id.in_(ids)).group_by(Invoice.facility_id)):
        seen[fid], supplements[fid] = (made, voided), earlier
    facilities = db.session.scalars(sa.select(Facility).where(Facility.id.in_(ids))).all()
    # Placements and therapists once each: an entry then finds its placement in the session, no query
    # (held here until each entry holds its own).
    placements = db.session.scalars(sa.select(Placement).where(Placement.facility_id.in_(ids))
                                    .options(joinedload(Placement.therapist))).all()
    entries = db.session.scalars(unbilled_entries_query(period_end, ids)).all()
    cards = db.session.scalars(
        sa.select(RateCard).where(RateCard.facility_id.in_(ids)).options(selectinload(RateCard.rates))
    ).all()
    recent = _recent_totals(ids)
    cards_of: dict[int, list[RateCard]] = defaultdict(list)
    for card in cards:
        cards_of[card.facility_id].append(card)
    period_of = _periods({p.id: cards_of[p.facility_id] for p in placements})
    released = _released_weeks(ids, period_end, period_of)
    shared, line_invoices = _billed_history(entries, released, period_of)
    by_facility: dict[int, list] = defaultdict(list)
    for entry in entries:
        by_facility[entry.placement.facility_id].append(entry)
    del placements
    return {
        facility.id: _Bill(
            facility, by_facility[facility.id], cards_of[facility.id],
            BillingHistory(hours=shared.hours, weeks=shared.weeks, months=shared.months,
                           released={week: p for week, p in released.items() if p.facility_id == facility.id}),
            seen.get(facility.id, (0, 0)), line_invoices, supplements.get(facility.id),
            recent.get(facility.id, []),
        )
        for facility in facilities
    }


def _recent_totals(facility_ids: list[int]) -> dict[int, list]:
    """Each facility's last INVOICE_SAFETY_HISTORY issued, not void, invoice totals, newest first (one query)."""
    rank = sa.func.row_number().over(partition_by=Invoice.facility_id,
                                     order_by=(Invoice.issued_on.desc(), Invoice.id.desc())).label("rank")
    ranked = (sa.select(Invoice.facility_id, Invoice.total, rank)
              .where(Invoice.facility_id.in_(facility_ids), Invoice.status.in_(ISSUED_STATUSES)).subquery())
    totals: dict[int, list] = defaultdict(list)
    for facility_id, total in db.session.execute(
            sa.select(ranked.c.facility_id, ranked.c.total)
            .where(ranked.c.rank <= int(current_app.config["INVOICE_SAFETY_HISTORY"]))
            .order_by(ranked.c.facility_id, ranked.c.rank)):
        totals[facility_id].append(total)
    return totals


def safety_stop(facility: Facility, total, recent: list, supplemental: bool = False) -> str | None:
    """Why an automatic invoice of this total must wait for review, or None to issue it.

    Judged against the average of the facility's recent issued invoices, only with enough of them to
    know what is usual. A supplement bills hours approved late, a part of a period: it is stopped only
    for being large, never for being small.
    """
    if len(recent) < int(current_app.config["INVOICE_SAFETY_MINIMUM"]):
        return None
    average = sum(recent, ZERO) / len(recent)
    if average <= 0:
        return None
    factor = Decimal(facility.safety_factor or current_app.config["INVOICE_SAFETY_FACTOR"])
    if not (total > average * factor or (not supplemental and total < average / factor)):
        return None
    return (f"total {format_money(total)} is {total / average:.1f}x the average of the last {len(recent)} "
            f"invoices, {format_money(average.quantize(Decimal('0.01')))}")


def _periods(cards_of_placement: dict[int, list[RateCard]]):
    """placement id, day -> the day's overtime period under the placement's facility's card in effect on it."""
    def period_of(placement_id: int, day: date) -> PeriodKey:
        return (placement_id, *overtime_period(card_on(cards_of_placement.get(placement_id, []), day), day))
    return period_of


def _billed_history(entries: list[TimesheetEntry], released: dict[PeriodKey, Placement],
                    period_of) -> tuple[BillingHistory, dict[int, int]]:
    """What live invoices already bill for the overtime periods and months of these entries and of the
    released periods: their direct-care hours by entry and line kind, contract weeks and platform months.
    Three queries."""
    history = BillingHistory()
    placement_ids = {e.placement_id for e in entries} | {pid for pid, _, _ in released}
    if not placement_ids:
        return history, {}
    periods = [period_of(e.placement_id, e.work_date) for e in entries] + list(released)
    # From a Monday: the contract weeks (keyed by their Monday) of the entries fall in the range too.
    first = week_start(min(start for _, start, _ in periods))
    last = max(start + timedelta(days=days - 1) for _, start, days in periods)
    history.hours, line_invoices = _week_ledgers(placement_ids, first, last, period_of)
    periodic = db.session.execute(
        sa.select(InvoiceLine.id, InvoiceLine.invoice_id, InvoiceLine.placement_id, InvoiceLine.item,
                  InvoiceLine.period_key)
        .join(InvoiceLine.invoice)
        .where(InvoiceLine.placement_id.in_(sorted(placement_ids)), Invoice.status != "void",
               InvoiceLine.period_key.between(month_start(first), last),
               InvoiceLine.item.in_(("contract_week", "telehealth_platform_month")))
    )
    for line_id, invoice_id, placement_id, item, key in periodic:
        if item == "contract_week":
            history.weeks[(placement_id, key)] = line_id
            line_invoices[line_id] = invoice_id
        else:
            history.months.add((placement_id, key))
    return history, line_invoices


def _released_weeks(facility_ids: list[int], period_end: date, period_of) -> dict[PeriodKey, Placement]:
    """Hourly overtime periods up to period_end with an entry a void released that is not approved now
    (edited, held or rejected since): what live lines billed with its hours counted may be more than the
    period owes."""
    released = sa.select(BilledEntry.entry_id).where(BilledEntry.entry_id == TimesheetEntry.id).exists()
    rows = db.session.execute(
        sa.select(TimesheetEntry.work_date, Placement).join(TimesheetEntry.placement)
        .where(Placement.facility_id.in_(facility_ids), Placement.billing_basis == "hourly",
               TimesheetEntry.work_date <= period_end,
               TimesheetEntry.status.in_(("submitted", "held", "rejected")),
               released)
    )
    return {period_of(placement.id, work_date): placement for work_date, placement in rows}


def _week_ledgers(placement_ids: set[int], first: date, last: date,
                  period_of) -> tuple[dict[PeriodKey, WeekLedger], dict[int, int]]:
    """Per overtime period of a placement (period_of gives a day's): the days live invoices bill, and the
    direct-care hours their lines bill, by entry and (overtime, unit price), credits included; and each
    such line's invoice. Two queries."""
    ledgers: dict[PeriodKey, WeekLedger] = defaultdict(WeekLedger)
    line_invoices: dict[int, int] = {}
    in_weeks = sa.and_(TimesheetEntry.placement_id.in_(sorted(placement_ids)),
                       TimesheetEntry.work_date.between(first, last))
    days = db.session.execute(
        sa.select(TimesheetEntry.id, TimesheetEntry.placement_id, TimesheetEntry.work_date,
                  TimesheetEntry.direct_care_hours)
        .join(BilledEntry, sa.and_(BilledEntry.entry_id == TimesheetEntry.id, LIVE))
        .where(in_weeks)
    )
    for entry_id, placement_id, work_date, hours in days:
        ledgers[period_of(placement_id, work_date)].days.append(WorkedDay(entry_id, work_date, hours))
    billed = db.session.execute(
        sa.select(LineSource.entry_id, TimesheetEntry.placement_id, TimesheetEntry.work_date, InvoiceLine.overtime,
                  InvoiceLine.unit_price, LineSource.quantity, InvoiceLine.corrects_invoice_id, InvoiceLine.id,
                  Invoice.id, Invoice.number)
        .join(LineSource.line).join(InvoiceLine.invoice).join(LineSource.entry)
        .where(in_weeks, Invoice.status != "void", InvoiceLine.item == "direct_care_hour")
        .order_by(InvoiceLine.id)
    )
    for entry_id, placement_id, work_date, overtime, unit, quantity, corrects, line_id, invoice_id, number in billed:
        ledger = ledgers[period_of(placement_id, work_date)]
        kinds = ledger.billed.setdefault(entry_id, {})
        kinds[(overtime, unit)] = kinds.get((overtime, unit), ZERO) + quantity
        billers = ledger.invoices.setdefault((overtime, unit), [])
        if corrects is None and (invoice_id, number) not in billers:
            billers.append((invoice_id, number))
        if corrects is None and line_id not in ledger.lines:
            ledger.lines.append(line_id)
            line_invoices[line_id] = invoice_id
    return dict(ledgers), line_invoices


def _price(bill: _Bill) -> Pricing:
    return price(bill.entries, bill.cards, bill.history)


def preview(facility_id: int, period_end: date) -> Pricing:
    """What an invoice run would bill for the facility now, without writing anything."""
    bill = _load([facility_id], period_end).get(facility_id)
    return _price(bill) if bill else Pricing([], [])


def invoice_facility(facility_id: int, period_start: date, period_end: date,
                     actor=None) -> tuple[Invoice | None, list[Unpriced]]:
    """Bill a facility's approved, unbilled entries up to period_end in one invoice, or None."""
    check_period(period_start, period_end)
    # Serialises invoice runs of this facility (and its voids and entry decisions) without blocking rows
    # that merely reference it (placements, entries being recorded meanwhile).
    if (facility := lock(Facility, facility_id)) is None:
        raise ValidationError.on("facility_id", f"no facility with id {facility_id}")
    if facility.invoicing == "off":
        raise Conflict(f"{facility.name} is not invoiced: {OFF}")
    invoice_id, unpriced = _invoice_locked(facility_id, period_start, period_end, actor)
    invoice = db.session.get(Invoice, invoice_id) if invoice_id else None
    if invoice is not None and invoice.status != "draft":
        _queue_pdf(invoice_id)
    return invoice, unpriced


def _invoice_locked(facility_id: int, period_start: date, period_end: date,
                    actor) -> tuple[int | None, list[Unpriced]]:
    """The facility's invoice, read, priced and written under its lock (taken by the caller); committed."""
    bill = _load([facility_id], period_end, period_start)[facility_id]
    pricing = _price(bill)
    invoice_id = _issue([(bill, pricing)], period_start, period_end, actor, read_under_lock=True).get(facility_id)
    db.session.commit()
    return invoice_id, pricing.unpriced


def check_period(period_start: date, period_end: date) -> None:
    """A billing period runs forward and ends by the end of this month: no hours are worked past today, so
    a later end would only print a period the invoice does not bill (and mark it the supplement of periods
    not yet come)."""
    if period_end < period_start:
        raise ValidationError.on("period_end", "must not be before period_start")
    latest = today().replace(day=1) + relativedelta(months=1) - timedelta(days=1)
    if period_end > latest:
        raise ValidationError.on("period_end", f"must not be after the end of this month ({human_day(latest)})")


class _Changed(Exception):
    """What a run priced changed before it held the facility's lock: price it again under the lock."""


def _issue(batch: list[tuple[_Bill, Pricing]], period_start: date, period_end: date, actor,
           read_under_lock: bool = False) -> dict[int, int]:
    """Write the priced invoices in the transaction holding their facilities' locks, the numbers last; their
    ids by facility. Each table's rows go in one statement for the whole batch.

    Unless what was priced was read under those locks, raises _Changed, having written nothing, when the
    entries priced are no longer all approved or a facility's invoices changed since they were read.
    """
    invoiced, on_earlier_lines, billed_on = [], [], {}
    for bill, pricing in batch:
        covered = {entry_id: bill.line_invoices[line_id] for entry_id, line_id in pricing.covered.items()}
        new = pricing.billed_entries if pricing.lines else set()
        if not pricing.lines and not covered:
            continue
        _mark_invoiced(bill, new | covered.keys(), read_under_lock)
        on_earlier_lines += [(line_id, entry_id, ZERO) for entry_id, line_id in pricing.covered.items()]
        if pricing.lines:
            invoiced.append((bill, pricing, new, covered))
        else:
            billed_on.update(covered)
    if not invoiced:
        _bill_entries(on_earlier_lines, billed_on)
        return {}
    issued = today()
    # Review facilities get drafts, and so does an automatic invoice the safety stop parks: a draft
    # holds its entries as any live invoice does, and takes its number only when issued.
    reasons = {bill.facility.id: safety_stop(bill.facility, pricing.total, bill.recent_totals,
                                             bill.supplements is not None)
               for bill, pricing, _, _ in invoiced if bill.facility.invoicing == "automatic"}
    drafts = {bill.facility.id for bill, _, _, _ in invoiced
              if bill.facility.invoicing != "automatic" or reasons[bill.facility.id]}
    to_number = [bill.facility.id for bill, _, _, _ in invoiced if bill.facility.id not in drafts]
    number_of = dict(zip(to_number, invoice_numbers(issued.year, len(to_number)) if to_number else [],
                         strict=True))
    id_of = dict(_insert(Invoice, [{
        "facility_id": bill.facility.id, "period_start": period_start, "period_end": period_end,
        "issued_on": issued, "due_on": issued + timedelta(days=bill.facility.payment_terms_days),
        "total": pricing.total, "number": number_of.get(bill.facility.id),
        "status": "draft" if bill.facility.id in drafts else "issued",
        "review_reason": reasons.get(bill.facility.id), "supplements_invoice_id": bill.supplements,
    } for bill, pricing, _, _ in invoiced], "facility_id", "id"))
    invoice_ids = [id_of[bill.facility.id] for bill, _, _, _ in invoiced]
    line_id_of = {(invoice_id, position): line_id for invoice_id, position, line_id in _insert(InvoiceLine, [{
        "invoice_id": invoice_id, "placement_id": priced.placement_id, "position": position, "item": priced.item,
        "overtime": priced.overtime, "period_key": priced.period_key, "description": priced.description[:300],
        "quantity": priced.quantity, "unit_price": priced.unit_price, "amount": priced.amount,
        "corrects_invoice_id": priced.corrects_invoice_id,
    } for (_, pricing, _, _), invoice_id in zip(invoiced, invoice_ids, strict=True)
        for position, priced in enumerate(pricing.lines, start=1)], "invoice_id", "position", "id")}
    sources = list(on_earlier_lines)
    for (bill, pricing, new, covered), invoice_id in zip(invoiced, invoice_ids, strict=True):
        sources += [(line_id_of[(invoice_id, position)], entry_id, qty)
                    for position, priced in enumerate(pricing.lines, start=1)
                    for entry_id, qty in priced.sources.items()]
        billed_on.update({**dict.fromkeys(new, invoice_id), **covered})
        if bill.facility.id in drafts:
            why = reasons.get(bill.facility.id) or "the facility's invoices are reviewed before issue"
            summary = f"draft invoice #{invoice_id} for {bill.facility.name}: {format_money(pricing.total)} ({why})"
        else:
            summary = f"invoice {number_of[bill.facility.id]} for {bill.facility.name}: {format_money(pricing.total)}"
        audit.record("create", None, summary, actor=actor, object_type=Invoice.__audit_type__, object_id=invoice_id)
    _bill_entries(sources, billed_on)
    return {bill.facility.id: invoice_id for (bill, _, _, _), invoice_id in zip(invoiced, invoice_ids, strict=True)}


def _mark_invoiced(bill: _Bill, billed: set[int], read_under_lock: bool) -> None:
    """Mark the entries invoiced, only if they are all still approved and the facility's invoices are as
    the run read them (one statement, which also locks the entries); else raise _Changed."""
    if read_under_lock:
        _write(_MARK, {"ids": sorted(billed)})
        return
    if not billed:
        raise _Changed()  # lines that bill no new entry (a correction alone): nothing would show a change
    made, voided = bill.invoices_seen
    decided_by = max((entry.decided_at for entry in bill.entries if entry.decided_at is not None), default=None)
    marked = _write(_MARK_IF_UNCHANGED, {"ids": sorted(billed), "of_facility": bill.facility.id, "made": made,
                                         "voided": voided, "decided_by": decided_by}).rowcount
    if marked != len(billed):
        raise _Changed()


def _bill_entries(sources: list[tuple[int, int, object]], invoice_of: dict[int, int]) -> None:
    """Trace entries to the lines that bill them and mark them billed on their invoice.

    Set-based: one statement each for the traces and the billed-entry guards, whatever the size.
    An entry of a contract week an earlier invoice charged is billed by that line, at no extra charge;
    voiding that invoice releases it with the rest of the week.
    """
    _insert(LineSource, [{"line_id": line_id, "entry_id": entry_id, "quantity": qty}
                         for line_id, entry_id, qty in sources])
    _insert(BilledEntry, [{"invoice_id": invoice_id, "entry_id": entry_id, "live": True}
                          for entry_id, invoice_id in sorted(invoice_of.items())])


def _insert(model, rows: list[dict], *returned: str) -> list[tuple]:
    """Insert rows in one statement per thousand or so (no ORM bookkeeping per row); the returned columns
    of each row, in no particular order.

    RETURNING is what makes SQLAlchemy batch the rows into multi-row VALUES on both databases, rather
    than send them one by one; asking for the rows back in parameter order would send them one by one
    again on SQLite, which cannot promise the order: a caller that needs to know which id is which row's
    returns a column that tells.
    """
    if not rows:
        return []
    table = model.__table__
    statement = sa.insert(table).returning(*(table.c[name] for name in returned or ("id",)))
    return [tuple(row) for row in _write(statement, rows)]


def _queue_pdf(invoice_id: int | None) -> None:
    """Render the committed invoice's PDF in a job of its own; with Redis down it waits for the sweep."""
    if invoice_id is None or not current_app.config["INVOICE_PDF_JOBS"]:
        return
    from agency.billing.jobs import render_invoice_pdf  # the jobs module calls this one

    try:
        enqueue(render_invoice_pdf, invoice_id)
    except ServiceUnavailable:
        log.warning("invoice %s committed without its PDF; render_missing_pdfs renders it", invoice_id)
    except Exception:  # noqa: BLE001 - the invoice is committed: a PDF that fails (inline) must not undo its outcome
        db.session.rollback()
        log.exception("invoice %s committed, its PDF failed; render_missing_pdfs or a download renders it",
                      invoice_id)


def email_invoice(invoice: Invoice, actor=None) -> Invoice:
    """Email an invoice that has not been emailed, e.g. one issued before the facility had a billing email.

    An invoice is emailed once, ever: a second request is a conflict. Its PDF is rendered first if no
    job has yet.
    """
    if invoice.status in ("void", "draft"):
        raise Conflict(f"invoice {invoice.label} is {invoice.status}; only an issued invoice is emailed")
    if not invoice.facility.billing_email:
        raise ValidationError.on("billing_email", f"{invoice.facility.name} has no billing email; add it first")
    # A PDF rendered only now is stored with its email queued; else the email is queued here, once ever.
    if not store_invoice_pdf(invoice.id) and not queue_invoice_email(invoice):
        raise Conflict(f"invoice {invoice.number} was emailed already; it is never sent twice")
    audit.record("update", invoice, f"invoice {invoice.number} emailed to {invoice.facility.billing_email}",
                 actor=actor)
    commit_or_conflict(f"invoice {invoice.number} was emailed already; it is never sent twice")
    return invoice


def issue_invoice(invoice: Invoice, actor=None) -> Invoice:
    """Issue a draft: it takes the year's next number now (so numbers stay gapless whatever drafts wait or
    are discarded), is dated today and due by the facility's terms, and its PDF and email follow.

    Under the invoice's lock: of two requests to issue it, one issues and the other is a conflict.
    """
    invoice = lock(Invoice, invoice.id)
    if invoice.status != "draft":
        raise Conflict(f"invoice {invoice.label} is not a draft; it was issued or discarded already")
    issued = today()
    invoice.number = invoice_numbers(issued.year, 1)[0]
    invoice.status, invoice.issued_on = "issued", issued
    invoice.due_on = issued + timedelta(days=invoice.facility.payment_terms_days)
    audit.record("update", invoice, f"draft #{invoice.id} issued as {invoice.number}: {format_money(invoice.total)}",
                 actor=actor, changes={"status": ["draft", "issued"], "number": [None, invoice.number]})
    commit_or_conflict(f"draft #{invoice.id} was issued by someone else at the same moment")
    _queue_pdf(invoice.id)
    return invoice


def discard_invoice(invoice: Invoice, reason: str, actor=None) -> Invoice:
    """Discard a draft: its entries are freed exactly as a void frees them (approved again, judged again),
    and it stays as a void without a number, so no number is lost and nothing of it is owed."""
    if invoice.status == "void":
        raise Conflict(f"invoice {invoice.label} is {'discarded' if invoice.number is None else 'void'} already")
    if invoice.status != "draft":
        raise Conflict(f"invoice {invoice.label} is not a draft; void an issued invoice instead")
    return receivables.void_invoice(invoice, reason, actor, draft=True)


def facilities_with_unbilled(period_end: date, facility_id: int | None = None) -> list[int]:
    """Facilities with approved entries up to period_end not on a live invoice (or just this one)."""
    return _with_unbilled(period_end, None if facility_id is None else [facility_id])


def _with_unbilled(period_end: date, facility_ids: Iterable[int] | None) -> list[int]:
    query = (
        sa.select(Placement.facility_id).distinct()
        .join(TimesheetEntry, TimesheetEntry.placement_id == Placement.id)
        .where(TimesheetEntry.status == "approved", TimesheetEntry.work_date <= period_end, ~_live_billed())
    )
    if facility_ids is not None:
        query = query.where(Placement.facility_id.in_(sorted(set(facility_ids))))
    return sorted(db.session.scalars(query))


def run_invoices(period_start: date, period_end: date, facility_ids: list[int] | None = None,
                 actor=None, isolate: bool = False) -> RunResult:
    """Invoice the facilities (None: all) with approved, unbilled hours, BATCH facilities per commit.

    What is priced is read for all of them at once; each batch's invoices are then written in a short
    transaction under their facilities' locks, and where a facility's entries or invoices changed in
    between (another run, a void, a decision) the batch is written facility by facility, the changed one
    read and priced again under its lock. PDFs follow in jobs of their own. With isolate, a facility
    that fails is rolled back and its error kept in its outcome; the others are invoiced.
    """
    check_period(period_start, period_end)
    result = RunResult()
    bills = _load(_with_unbilled(period_end, facility_ids), period_end, period_start)
    for facility_id in [fid for fid, bill in bills.items() if bill.facility.invoicing == "off"]:
        del bills[facility_id]
        result.facilities[facility_id] = FacilityOutcome(skipped=OFF)
    session = db.session()
    # What was read for the run stays as read across its facilities' commits (each facility's writes
    # are guarded against changes since), instead of being reloaded row by row.
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        ordered = [bill for _, bill in sorted(bills.items())]
        for first in range(0, len(ordered), BATCH):
            bills_of_batch = ordered[first:first + BATCH]
            try:
                batch = [(bill, _price(bill)) for bill in bills_of_batch]
                made = _issue_locked(batch, period_start, period_end, actor)
            except Exception as exc:
                db.session.rollback()
                if not isinstance(exc, _Changed) and not isolate:
                    raise
                # Something changed, or one facility fails: each is then written on its own.
                outcomes = {bill.facility.id: _one_by_one(bill, period_start, period_end, actor, isolate)
                            for bill in bills_of_batch}
            else:
                outcomes = {bill.facility.id: FacilityOutcome(made.get(bill.facility.id), _reported(pricing.unpriced))
                            for bill, pricing in batch}
            drafts = _drafts([o.invoice_id for o in outcomes.values() if o.invoice_id is not None])
            for facility_id, outcome in outcomes.items():
                if outcome.invoice_id in drafts:
                    outcome.parked = drafts[outcome.invoice_id]
                    result.parked += outcome.parked
                else:
                    _queue_pdf(outcome.invoice_id)  # a draft has no PDF and is sent nothing until issued
                result.facilities[facility_id] = outcome
                if outcome.invoice_id is not None:
                    result.invoice_ids.append(outcome.invoice_id)
                result.unpriced += outcome.unpriced
    finally:
        session.expire_on_commit = expire_on_commit
        session.expire_all()
    _report_held(result, period_end, facility_ids)
    return result


OFF = "invoicing is off"


def _drafts(invoice_ids: list[int]) -> dict[int, list[dict]]:
    """Which of these invoices are drafts, with what the safety stop parked of them (one query)."""
    if not invoice_ids:
        return {}
    return {invoice_id: ([{"invoice_id": invoice_id, "facility_id": facility_id, "total": str(total),
                           "reason": reason}] if reason else [])
            for invoice_id, facility_id, total, reason in db.session.execute(
                sa.select(Invoice.id, Invoice.facility_id, Invoice.total, Invoice.review_reason)
                .where(Invoice.id.in_(invoice_ids), Invoice.status == "draft"))}


def _report_held(result: RunResult, period_end: date, facility_ids: list[int] | None) -> None:
    """The held entries of the run's facilities up to period_end, on each facility's outcome (one query)."""
    for facility_id, held in holds.held_by_facility(period_end, facility_ids).items():
        outcome = result.facilities.setdefault(facility_id, FacilityOutcome())
        if outcome.error is None:
            outcome.held = held
            result.held += held


def _reported(unpriced: list[Unpriced]) -> list[dict]:
    return [{"entry_id": u.entry.id, "reason": u.reason} for u in unpriced]


def _one_by_one(bill: _Bill, period_start: date, period_end: date, actor, isolate: bool) -> FacilityOutcome:
    """A facility of a batch something changed or failed in, alone: written as priced if it is not the one
    that changed, else read and priced again under its lock. With isolate, its failure is its outcome."""
    try:
        pricing = _price(bill)
        try:
            made = _issue_locked([(bill, pricing)], period_start, period_end, actor)
            return FacilityOutcome(made.get(bill.facility.id), _reported(pricing.unpriced))
        except _Changed:
            db.session.rollback()
        lock(Facility, bill.facility.id)
        invoice_id, unpriced = _invoice_locked(bill.facility.id, period_start, period_end, actor)
        return FacilityOutcome(invoice_id, _reported(unpriced))
    except Exception as exc:
        db.session.rollback()  # nothing of the facility's is left in the transaction, raised or kept
        if not isolate:
            raise
        return FacilityOutcome(error=exc)


def _issue_locked(batch: list[tuple[_Bill, Pricing]], period_start: date, period_end: date,
                  actor) -> dict[int, int]:
    """The batch's invoices written and committed under their facilities' locks; their ids by facility."""
    to_write = [(bill, pricing) for bill, pricing in batch if pricing.lines or pricing.covered]
    if not to_write:
        return {}  # nothing to write: no lock, no transaction
    lock_all(Facility, [bill.facility.id for bill, _ in to_write])
    invoice_ids = _issue(to_write, period_start, period_end, actor)
    db.session.commit()
    return invoice_ids


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
    facilities = db.session.scalars(sa.select(Facility).where(Facility.active.is_(True),
                                                              Facility.invoicing != "off")).all()
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


@dataclass
class ScheduleReport:
    """What the invoice schedule tells billing beside the runs it starts: facilities it did not invoice
    because their invoicing is off, closed periods with hours still waiting for the facility's approval,
    and drafts still waiting for review after their period closed."""

    off: list[dict] = field(default_factory=list)
    unapproved_at_close: list[dict] = field(default_factory=list)
    drafts_waiting: list[dict] = field(default_factory=list)


def schedule_report(as_of: date) -> ScheduleReport:
    """The schedule's report for a day: a query per invoice schedule and two more, whatever the size."""
    report = ScheduleReport()
    facilities = db.session.scalars(sa.select(Facility).where(Facility.active.is_(True))
                                    .order_by(Facility.name)).all()
    periods = {f.id: last_closed_period(f.invoice_schedule, as_of)[1] for f in facilities}
    pending = {(fid, end) for end in set(periods.values()) for fid in facilities_with_unbilled(end)}
    report.off = [{"facility_id": f.id, "name": f.name, "period_end": periods[f.id].isoformat(), "reason": OFF}
                  for f in facilities if f.invoicing == "off" and (f.id, periods[f.id]) in pending]
    waiting = {}
    for end in sorted(set(periods.values())):
        for facility_id, entries, hours, oldest in db.session.execute(
                sa.select(Placement.facility_id, sa.func.count(TimesheetEntry.id),
                          sa.func.sum(TimesheetEntry.direct_care_hours), sa.func.min(TimesheetEntry.work_date))
                .join(TimesheetEntry.placement)
                .where(TimesheetEntry.status == "submitted", TimesheetEntry.work_date <= end)
                .group_by(Placement.facility_id)):
            waiting[(facility_id, end)] = (entries, hours, oldest)
    report.unapproved_at_close = [
        {"facility_id": f.id, "name": f.name, "period_end": periods[f.id].isoformat(), "entries": entries,
         "hours": str(hours), "oldest_work_date": oldest.isoformat()}
        for f in facilities if (f.id, periods[f.id]) in waiting
        for entries, hours, oldest in [waiting[(f.id, periods[f.id])]]]
    report.drafts_waiting = [
        {"invoice_id": draft.id, "facility_id": draft.facility_id, "name": draft.facility.name,
         "period_end": draft.period_end.isoformat(), "waiting_since": draft.waiting_since(as_of).isoformat(),
         "total": str(draft.total), "reason": draft.review_reason}
        for draft in drafts_waiting(as_of)]
    return report


def drafts_waiting(as_of: date, limit: int = 100) -> list[Invoice]:
    """Drafts whose period closed before as_of, longest waiting first: each a period not yet billed."""
    return db.session.scalars(
        sa.select(Invoice).where(Invoice.status == "draft", Invoice.period_end < as_of)
        .options(joinedload(Invoice.facility)).order_by(Invoice.period_end, Invoice.id).limit(limit)
    ).all()
