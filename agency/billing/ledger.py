"""The ledger's promises, checked over the whole database: what races, faults and load must never break.

One implementation for the load test, the race tests and anyone auditing a
database: each check is one set-based query, and each problem found is one
plain sentence naming the record.
"""

import re
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa

from agency.billing.models import (
    LIVE,
    OPEN_INVOICE_STATUSES,
    BilledEntry,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    LineSource,
    Payment,
    TimesheetEntry,
)
from agency.billing.timesheets import DAY_LIMIT
from agency.core.money import format_money
from agency.placements.models import Placement

NUMBER = re.compile(r"^INV-(\d{4})-(\d+)$")


def ledger_problems(session) -> list[str]:
    """Every broken promise of the ledger, as sentences; an empty list means the ledger is sound."""
    return [
        *_payments_disagree(session),
        *_statuses_disagree(session),
        *_void_invoices_holding_cash(session),
        *_totals_disagree(session),
        *_live_invoices_not_positive(session),
        *_days_over_limit(session),
        *_number_gaps(session),
        *_entries_not_billed_once(session),
    ]


def _cents(amount):
    """An amount as whole cents, so sums compare exactly on SQLite too, which adds NUMERIC as floating point."""
    return sa.cast(sa.func.round(amount * 100), sa.BigInteger)


def _payments_disagree(session) -> list[str]:
    paid = sa.select(Payment.invoice_id, sa.func.sum(_cents(Payment.amount)).label("sum")).group_by(
        Payment.invoice_id).subquery()
    rows = session.execute(
        sa.select(Invoice.number, Invoice.total, Invoice.amount_paid, sa.func.coalesce(paid.c.sum, 0))
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(sa.or_(_cents(Invoice.amount_paid) != sa.func.coalesce(paid.c.sum, 0),
                      _cents(Invoice.amount_paid) > _cents(Invoice.total)))
        .order_by(Invoice.id))
    return [f"invoice {number}: payments sum to {format_money(Decimal(received) / 100)}, amount paid reads "
            f"{format_money(amount_paid)}, total {format_money(total)}"
            for number, total, amount_paid, received in rows]


def _statuses_disagree(session) -> list[str]:
    """An open or paid invoice's status is what its payments make it."""
    expected = sa.case((_cents(Invoice.amount_paid) == _cents(Invoice.total), "paid"),
                       (Invoice.amount_paid > 0, "partially_paid"),
                       else_="issued")
    rows = session.execute(
        sa.select(Invoice.number, Invoice.status, Invoice.amount_paid, Invoice.total)
        .where(Invoice.status.in_((*OPEN_INVOICE_STATUSES, "paid")), Invoice.status != expected)
        .order_by(Invoice.id))
    return [f"invoice {number} reads {status} with {format_money(paid)} paid of {format_money(total)}"
            for number, status, paid, total in rows]


def _live_invoices_not_positive(session) -> list[str]:
    """Credits wait for an invoice they fit on: no live invoice is at zero or below."""
    rows = session.execute(sa.select(Invoice.number, Invoice.total)
                           .where(Invoice.status != "void", Invoice.total <= 0).order_by(Invoice.id))
    return [f"live invoice {number} totals {format_money(total)}" for number, total in rows]


def _void_invoices_holding_cash(session) -> list[str]:
    rows = session.execute(
        sa.select(Invoice.number, sa.func.count(Payment.id))
        .outerjoin(Payment, Payment.invoice_id == Invoice.id)
        .where(Invoice.status == "void").group_by(Invoice.id, Invoice.number)
        .having(sa.or_(sa.func.count(Payment.id) > 0, sa.func.max(Invoice.amount_paid) > 0)))
    return [f"void invoice {number} holds {count} payment(s)" for number, count in rows]


def _totals_disagree(session) -> list[str]:
    lines = sa.select(InvoiceLine.invoice_id, sa.func.sum(_cents(InvoiceLine.amount)).label("sum")).group_by(
        InvoiceLine.invoice_id).subquery()
    rows = session.execute(
        sa.select(Invoice.number, Invoice.total, sa.func.coalesce(lines.c.sum, 0))
        .outerjoin(lines, lines.c.invoice_id == Invoice.id)
        .where(_cents(Invoice.total) != sa.func.coalesce(lines.c.sum, 0)))
    return [f"invoice {number}: total {format_money(total)} but its lines add up to "
            f"{format_money(Decimal(added) / 100)}"
            for number, total, added in rows]


def _days_over_limit(session) -> list[str]:
    hours = sa.func.sum(TimesheetEntry.direct_care_hours + TimesheetEntry.supervision_hours)
    rows = session.execute(
        sa.select(Placement.therapist_id, TimesheetEntry.work_date, hours)
        .join(TimesheetEntry.placement).where(TimesheetEntry.status != "rejected")
        .group_by(Placement.therapist_id, TimesheetEntry.work_date).having(hours > DAY_LIMIT)
        .order_by(Placement.therapist_id, TimesheetEntry.work_date))
    return [f"therapist {therapist_id} has {total} hours on {day.isoformat()}, more than {DAY_LIMIT}"
            for therapist_id, day, total in rows]


def _number_gaps(session) -> list[str]:
    by_year: dict[str, list[int]] = defaultdict(list)
    problems = []
    for (number,) in session.execute(sa.select(Invoice.number).where(Invoice.number.is_not(None))):
        match = NUMBER.match(number)
        if match is None:
            problems.append(f"invoice number {number} is not of the form INV-YYYY-NNNNN")
            continue
        by_year[match[1]].append(int(match[2]))
    for year, numbers in sorted(by_year.items()):
        if len(set(numbers)) != len(numbers):
            problems.append(f"invoice numbers of {year} repeat")
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        if missing:
            problems.append(f"invoice numbers of {year} skip {', '.join(map(str, missing[:10]))}")
    counters = {str(year): last for year, last in session.execute(
        sa.select(InvoiceCounter.year, InvoiceCounter.last_number))}
    for year in sorted(set(by_year) | set(counters)):
        if counters.get(year, 0) != len(by_year.get(year, ())):
            problems.append(f"the {year} invoice counter reads {counters.get(year, 0)} but "
                            f"{len(by_year.get(year, ()))} invoices carry its numbers")
    return problems


def _entries_not_billed_once(session) -> list[str]:
    """An invoiced entry is on exactly one live invoice, with a line tracing it; nothing else is."""
    live = (sa.select(BilledEntry.entry_id, sa.func.count().label("n"), sa.func.min(BilledEntry.invoice_id)
                      .label("invoice_id"))
            .join(Invoice, Invoice.id == BilledEntry.invoice_id)
            .where(LIVE, Invoice.status != "void").group_by(BilledEntry.entry_id).subquery())
    traced = (sa.select(LineSource.id).join(InvoiceLine, InvoiceLine.id == LineSource.line_id)
              .where(LineSource.entry_id == TimesheetEntry.id, InvoiceLine.invoice_id == live.c.invoice_id)
              .exists())
    rows = session.execute(
        sa.select(TimesheetEntry.id, TimesheetEntry.status, sa.func.coalesce(live.c.n, 0), traced)
        .outerjoin(live, live.c.entry_id == TimesheetEntry.id)
        .where(sa.or_(
            sa.and_(TimesheetEntry.status == "invoiced", sa.func.coalesce(live.c.n, 0) != 1),
            sa.and_(TimesheetEntry.status != "invoiced", sa.func.coalesce(live.c.n, 0) > 0),
            sa.and_(TimesheetEntry.status == "invoiced", live.c.n == 1, ~traced),
        )).order_by(TimesheetEntry.id))
    problems = [f"timesheet entry {entry_id} is {status} and on {count} live invoice(s)"
                if not (status == "invoiced" and count == 1)
                else f"timesheet entry {entry_id} is billed by an invoice with no line tracing it"
                for entry_id, status, count, _traced in rows]
    stale = session.execute(
        sa.select(BilledEntry.entry_id, Invoice.number).join(Invoice, Invoice.id == BilledEntry.invoice_id)
        .where(LIVE, Invoice.status == "void"))
    return problems + [f"timesheet entry {entry_id} still counts as billed on void invoice {number}"
                       for entry_id, number in stale]
