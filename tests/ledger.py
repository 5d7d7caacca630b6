"""The money promises, checked on the database as an auditor would, whatever ran before.

assert_ledger_sound(session) reads with plain SQL, so it takes a session or a
connection, of the test or of anyone else; it sees what is committed (call
rollback() first on a session that has read before).
"""

import re
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa

from agency.billing.models import BilledEntry, Invoice, InvoiceCounter, InvoiceLine, LineSource, Payment, TimesheetEntry
from agency.placements.models import Placement

DAY_LIMIT = Decimal("24")
NUMBER = re.compile(r"INV-(\d{4})-(\d{5})")


def assert_ledger_sound(session) -> None:
    """Payments, voids, day limits, invoice numbers and billed entries all agree; fails naming what does not."""
    problems = (_payment_problems(session) + _day_problems(session) + _number_problems(session)
                + _billing_problems(session))
    assert not problems, "the ledger is unsound:\n  " + "\n  ".join(problems)


def _payment_problems(session) -> list[str]:
    """Payments sum to amount_paid, at most the total; a void invoice holds none; the status says so."""
    paid = (sa.select(Payment.invoice_id, sa.func.sum(Payment.amount).label("amount"))
            .group_by(Payment.invoice_id).subquery())
    rows = session.execute(
        sa.select(Invoice.number, Invoice.status, Invoice.total, Invoice.amount_paid,
                  sa.func.coalesce(paid.c.amount, 0))
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
    )
    problems = []
    for number, status, total, amount_paid, payments in rows:
        payments = Decimal(payments)
        if payments != amount_paid:
            problems.append(f"{number}: payments sum to {payments}, amount_paid is {amount_paid}")
        if amount_paid > total:
            problems.append(f"{number}: {amount_paid} paid on a total of {total}")
        if status == "void" and payments:
            problems.append(f"{number}: void but holds {payments} of payments")
        expected = ("paid" if amount_paid == total else "partially_paid" if amount_paid else "issued")
        if status in ("issued", "partially_paid", "paid") and status != expected:
            problems.append(f"{number}: {status} with {amount_paid} paid of {total}")
    return problems


def _day_problems(session) -> list[str]:
    """No therapist has more than 24 hours on a day, across all placements (rejected hours do not count)."""
    hours = sa.func.sum(TimesheetEntry.direct_care_hours + TimesheetEntry.supervision_hours)
    rows = session.execute(
        sa.select(Placement.therapist_id, TimesheetEntry.work_date, hours)
        .join(Placement, Placement.id == TimesheetEntry.placement_id)
        .where(TimesheetEntry.status != "rejected")
        .group_by(Placement.therapist_id, TimesheetEntry.work_date)
        .having(hours > DAY_LIMIT)
    )
    return [f"therapist {therapist} has {total} hours on {day}" for therapist, day, total in rows]


def _number_problems(session) -> list[str]:
    """Invoice numbers are unique and run 1, 2, 3... without gaps within each year, as the counter says."""
    by_year = defaultdict(list)
    problems = []
    for (number,) in session.execute(sa.select(Invoice.number).where(Invoice.number.is_not(None))):
        match = NUMBER.fullmatch(number)
        if match is None:
            problems.append(f"invoice number {number!r} is not INV-YYYY-NNNNN")
            continue
        by_year[int(match[1])].append(int(match[2]))
    counters = dict(session.execute(sa.select(InvoiceCounter.year, InvoiceCounter.last_number)).all())
    for year in sorted(set(by_year) | set(counters)):
        numbers = sorted(by_year[year])
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{year}: invoice numbers {numbers} are not 1..{len(numbers)} once each")
        if counters.get(year, 0) != len(numbers):
            problems.append(f"{year}: the counter says {counters.get(year, 0)}, {len(numbers)} invoices exist")
    return problems


def _billing_problems(session) -> list[str]:
    """Every invoiced entry is billed once, on a live invoice that has a line for it; nothing else is billed."""
    live = (sa.select(BilledEntry.entry_id, sa.func.count().label("times"),
                      sa.func.min(BilledEntry.invoice_id).label("invoice_id"))
            .where(BilledEntry.live.is_(True)).group_by(BilledEntry.entry_id).subquery())
    on_line = (sa.select(LineSource.entry_id, InvoiceLine.invoice_id).distinct()
               .join(InvoiceLine, InvoiceLine.id == LineSource.line_id).subquery())
    rows = session.execute(
        sa.select(TimesheetEntry.id, TimesheetEntry.status, sa.func.coalesce(live.c.times, 0), Invoice.status,
                  sa.func.count(on_line.c.entry_id))
        .outerjoin(live, live.c.entry_id == TimesheetEntry.id)
        .outerjoin(Invoice, Invoice.id == live.c.invoice_id)
        .outerjoin(on_line, sa.and_(on_line.c.entry_id == TimesheetEntry.id,
                                    on_line.c.invoice_id == live.c.invoice_id))
        .group_by(TimesheetEntry.id, TimesheetEntry.status, live.c.times, Invoice.status)
    )
    problems = []
    for entry_id, status, times, invoice_status, lines in rows:
        if status == "invoiced" and times != 1:
            problems.append(f"entry {entry_id} is invoiced and billed live {times} times")
        elif status != "invoiced" and times:
            problems.append(f"entry {entry_id} is {status} but billed live")
        elif times and invoice_status == "void":
            problems.append(f"entry {entry_id} is billed live on a void invoice")
        elif times and not lines:
            problems.append(f"entry {entry_id} is billed on an invoice with no line for it")
    return problems
