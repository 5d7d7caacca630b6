"""The ledger check names every broken promise, and finds none in a ledger the services kept."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from agency.billing.invoicing import invoice_facility
from agency.billing.ledger import ledger_problems
from agency.billing.models import BilledEntry, Invoice, InvoiceCounter, Payment, TimesheetEntry
from agency.billing.receivables import record_payment, void_invoice
from agency.core.money import format_money
from agency.extensions import db
from tests import factories

DAY = date(2026, 11, 2)


def kept_ledger():
    """Two facilities invoiced, one invoice part paid, one voided and billed again: all through the services."""
    first, second = factories.facility(), factories.facility()
    for place in (first, second):
        factories.rate_card(place)
        placement = factories.active_placement(place)
        for day in range(2, 7):
            factories.entry(placement, DAY.replace(day=day), direct="9")
    paid, _ = invoice_facility(first.id, DAY.replace(day=1), DAY.replace(day=28))
    record_payment(paid, Decimal("100.00"), factories.TODAY, "chk 1")
    voided, _ = invoice_facility(second.id, DAY.replace(day=1), DAY.replace(day=28))
    void_invoice(voided, "wrong period")
    rebilled, _ = invoice_facility(second.id, DAY.replace(day=1), DAY.replace(day=28))
    return paid, voided, rebilled


def raw(statement) -> None:
    """Break the ledger behind the services' back, as a race or a bug would."""
    db.session.execute(statement)
    db.session.commit()


def test_a_ledger_kept_by_the_services_is_sound():
    kept_ledger()
    assert ledger_problems(db.session) == []


def test_cash_that_disagrees_with_the_invoice_is_named():
    paid, voided, _ = kept_ledger()
    raw(sa.insert(Payment).values(invoice_id=paid.id, amount=Decimal("100.00"), received_on=date(2026, 11, 21)))
    raw(sa.insert(Payment).values(invoice_id=voided.id, amount=Decimal("5.00"), received_on=date(2026, 11, 21)))
    problems = ledger_problems(db.session)
    assert (f"invoice {paid.number}: payments sum to $200.00, amount paid reads $100.00, "
            f"total {format_money(paid.total)}") in problems
    assert f"void invoice {voided.number} holds 1 payment(s)" in problems


def test_a_day_over_24_hours_and_a_total_that_is_not_its_lines_are_named():
    paid, _, _ = kept_ledger()
    entry = db.session.scalars(sa.select(TimesheetEntry).order_by(TimesheetEntry.id)).first()
    raw(sa.insert(TimesheetEntry).values(placement_id=entry.placement_id, work_date=date(2026, 11, 9),
                                         direct_care_hours=Decimal(20), status="submitted"))
    other = factories.active_placement(entry.placement.facility)
    db.session.execute(sa.text("UPDATE placements SET therapist_id = :t WHERE id = :p"),
                       {"t": entry.placement.therapist_id, "p": other.id})
    raw(sa.insert(TimesheetEntry).values(placement_id=other.id, work_date=date(2026, 11, 9),
                                         direct_care_hours=Decimal(10), status="submitted"))
    total, therapist_id = paid.total, entry.placement.therapist_id
    raw(sa.update(Invoice).where(Invoice.id == paid.id).values(total=total + 1))
    problems = ledger_problems(db.session)
    assert f"therapist {therapist_id} has 30.00 hours on 2026-11-09, more than 24" in problems
    assert (f"invoice {paid.number}: total {format_money(total + 1)} but its lines add up to "
            f"{format_money(total)}") in problems


def test_a_gap_in_the_numbers_and_an_entry_billed_twice_or_not_at_all_are_named():
    paid, voided, rebilled = kept_ledger()
    raw(sa.update(Invoice).where(Invoice.id == rebilled.id).values(number="INV-2026-00009"))
    entry_id = db.session.scalar(sa.select(BilledEntry.entry_id).where(BilledEntry.invoice_id == paid.id))
    raw(sa.update(BilledEntry).where(BilledEntry.entry_id == entry_id).values(live=False))
    stale = db.session.scalar(sa.select(BilledEntry.entry_id).where(BilledEntry.invoice_id == voided.id))
    raw(sa.update(BilledEntry).where(BilledEntry.entry_id == stale).values(live=False))
    raw(sa.update(BilledEntry).where(BilledEntry.entry_id == stale, BilledEntry.invoice_id == voided.id)
        .values(live=True))
    problems = ledger_problems(db.session)
    assert "invoice numbers of 2026 skip 3, 4, 5, 6, 7, 8" in problems
    assert f"timesheet entry {entry_id} is invoiced and on 0 live invoice(s)" in problems
    assert f"timesheet entry {stale} still counts as billed on void invoice {voided.number}" in problems


def test_a_status_its_payments_do_not_make_a_counter_out_of_step_and_a_live_invoice_at_zero_are_named():
    paid, _, rebilled = kept_ledger()
    raw(sa.update(Invoice).where(Invoice.id == paid.id).values(status="paid"))
    raw(sa.update(Invoice).where(Invoice.id == rebilled.id).values(total=Decimal("0.00")))
    raw(sa.update(InvoiceCounter).values(last_number=InvoiceCounter.last_number + 1))
    problems = ledger_problems(db.session)
    assert (f"invoice {paid.number} reads paid with {format_money(paid.amount_paid)} paid of "
            f"{format_money(paid.total)}") in problems
    assert f"live invoice {rebilled.number} totals $0.00" in problems
    assert "the 2026 invoice counter reads 4 but 3 invoices carry its numbers" in problems
