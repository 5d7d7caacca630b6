"""Corrections price exactly like the first time: per Monday-to-Sunday week, live lines bill what the
week's hours owe, however the week was split, voided and rebilled; a line that billed too much is
credited on the next invoice, never edited."""

import io
from datetime import date
from decimal import Decimal

from pypdf import PdfReader

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility, preview, run_invoices
from agency.billing.ledger import ledger_problems
from agency.billing.models import InvoiceLine
from agency.billing.pricing import CREDIT_WAITS
from agency.billing.receivables import void_invoice
from agency.extensions import db
from tests import factories
from tests.billing.ledger import week_bills

D = Decimal
WEEK = date(2026, 11, 2)  # Monday


def hours(invoice):
    return [(line.overtime, line.is_credit, line.quantity, line.unit_price, line.amount) for line in invoice.lines]


def split_week(direct="10"):
    """Mon to Wed, 30 h, on a first invoice; Thu to Sat, 30 h, on a second: 10 h regular, 20 h overtime."""
    place = factories.facility()
    factories.rate_card(place)
    placement = factories.active_placement(place)
    days = [factories.entry(placement, date(2026, 11, day), direct=direct) for day in (2, 3, 4)]
    first, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 4))
    days += [factories.entry(placement, date(2026, 11, day), direct=direct) for day in (5, 6, 7)]
    second, _ = invoice_facility(place.id, date(2026, 11, 5), date(2026, 11, 8))
    assert hours(second) == [(False, False, D("10"), D("90.00"), D("900.00")),
                             (True, False, D("20"), D("135.00"), D("2700.00"))]
    return place, placement, days, first, second


def correct(entry, direct):
    timesheets.update_entry(entry, {"direct_care_hours": D(direct)})
    timesheets.decide([entry], True, None)


def test_voiding_the_first_half_of_a_week_bills_its_overtime_once():
    place, placement, _, first, second = split_week()
    void_invoice(first, "wrong purchase order", None)
    rebill, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    # The second invoice already bills the week's 20 overtime hours: the rebill is 30 regular hours.
    assert hours(rebill) == [(False, False, D("30"), D("90.00"), D("2700.00"))]
    assert week_bills([placement.id]) == {(placement.id, WEEK): {(False, D("90.00")): D("40"),
                                                                 (True, D("135.00")): D("20")}}
    assert ledger_problems(db.session) == []


def test_voiding_the_second_half_of_a_week_rebills_its_overtime_once():
    place, placement, _, first, second = split_week()
    void_invoice(second, "wrong purchase order", None)
    rebill, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    assert hours(rebill) == hours(second)
    assert ledger_problems(db.session) == []


def test_correction_that_lowers_a_live_line_issues_a_credit_naming_the_week_and_invoice(browser):
    place, placement, days, first, second = split_week()
    issued = (second.total, hours(second), second.pdf)
    void_invoice(first, "Tuesday and Wednesday were 2 hours each", None)
    correct(days[1], "2")
    correct(days[2], "2")
    rebill, unpriced = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    # The week is 44 h now: 40 regular, 4 overtime. The second invoice billed 20 overtime hours of it,
    # so 16 are credited at the overtime rate and billed again as regular hours.
    assert unpriced == []
    assert hours(rebill) == [(False, False, D("30"), D("90.00"), D("2700.00")),
                             (True, True, D("-16"), D("135.00"), D("-2160.00"))]
    assert rebill.total == D("540.00")
    credit = rebill.lines[1]
    assert credit.corrects_invoice_id == second.id
    assert "week of Nov 2, 2026" in credit.description and second.number in credit.description
    assert week_bills([placement.id]) == {(placement.id, WEEK): {(False, D("90.00")): D("40"),
                                                                 (True, D("135.00")): D("4")}}
    # Nothing already issued changes.
    db.session.refresh(second)
    assert (second.total, hours(second), second.pdf) == issued
    assert ledger_problems(db.session) == []

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(rebill.pdf)).pages)
    for expected in ("Credit: direct care overtime hours of the week of Nov 2, 2026", second.number,
                     "($2,160.00)", "Charges", "$2,700.00", "$540.00"):
        assert expected in text, expected
    page = browser("billing").get(f"/invoices/{rebill.id}").data.decode()
    assert f'href="/invoices/{second.id}">the invoice it corrects' in page
    assert "($2,160.00)" in page and "Credits for hours billed on earlier invoices" in page


def test_rerun_never_credits_twice():
    place, placement, days, first, second = split_week()
    void_invoice(first, "Tuesday and Wednesday were 2 hours each", None)
    correct(days[1], "2")
    correct(days[2], "2")
    rebill, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    assert invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8)) == (None, [])
    assert run_invoices(date(2026, 11, 1), date(2026, 11, 30)).invoice_ids == []
    assert preview(place.id, date(2026, 11, 30)).lines == []
    # Voiding the invoice that carries the credit takes the credit back with it; the rebill credits once again.
    void_invoice(rebill, "sent to the wrong address", None)
    again, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    assert hours(again) == hours(rebill)
    assert db.session.query(InvoiceLine).filter(InvoiceLine.corrects_invoice_id == second.id).count() == 2
    assert week_bills([placement.id]) == {(placement.id, WEEK): {(False, D("90.00")): D("40"),
                                                                 (True, D("135.00")): D("4")}}
    assert ledger_problems(db.session) == []


def test_hours_a_void_released_and_that_were_then_rejected_are_credited_on_the_next_invoice():
    place, placement, days, first, second = split_week()
    void_invoice(first, "the therapist was not on site", None)
    timesheets.decide(days[:3], False, None, reason="not on site")
    for day in range(9, 14):  # the next week, 40 h
        factories.entry(placement, date(2026, 11, day), direct="8")
    following, _ = invoice_facility(place.id, date(2026, 11, 9), date(2026, 11, 15))
    # The week of Nov 2 is Thu to Sat alone now, 30 h, all regular: 20 overtime hours come back.
    assert hours(following) == [(False, False, D("60"), D("90.00"), D("5400.00")),
                                (True, True, D("-20"), D("135.00"), D("-2700.00"))]
    assert week_bills([placement.id])[(placement.id, WEEK)] == {(False, D("90.00")): D("30")}
    assert invoice_facility(place.id, date(2026, 11, 9), date(2026, 11, 15)) == (None, [])
    assert ledger_problems(db.session) == []


def test_a_credit_larger_than_the_invoice_waits_whole_for_the_next_invoice():
    place, placement, days, first, second = split_week()
    void_invoice(first, "the therapist was not on site Monday and Tuesday", None)
    timesheets.decide(days[:2], False, None, reason="not on site")
    correct(days[2], "2")
    # The week owes 32 regular hours; 22 more than billed, but 20 overtime hours come back: -$720.
    invoice, unpriced = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    assert invoice is None
    assert [(u.entry.id, u.reason) for u in unpriced] == [(days[2].id, CREDIT_WAITS)]
    result = run_invoices(date(2026, 11, 1), date(2026, 11, 8))
    assert result.invoice_ids == [] and result.unpriced == [{"entry_id": days[2].id, "reason": CREDIT_WAITS}]

    for day in range(9, 14):  # the next week, 40 h
        factories.entry(placement, date(2026, 11, day), direct="8")
    following, unpriced = invoice_facility(place.id, date(2026, 11, 9), date(2026, 11, 15))
    assert unpriced == []
    assert hours(following) == [(False, False, D("62"), D("90.00"), D("5580.00")),
                                (True, True, D("-20"), D("135.00"), D("-2700.00"))]
    assert following.total == D("2880.00")
    assert week_bills([placement.id])[(placement.id, WEEK)] == {(False, D("90.00")): D("32")}
    assert ledger_problems(db.session) == []


def test_a_late_day_before_a_rate_change_credits_the_hours_it_pushes_into_overtime():
    place = factories.facility()
    factories.rate_card(place, end=date(2026, 11, 4))
    factories.rate_card(place, start=date(2026, 11, 5), direct_care_hour="100.00")
    placement = factories.active_placement(place)
    for day in (3, 4, 5, 6):  # Tue to Fri, 40 h: Tue and Wed at $90, Thu and Fri at $100
        factories.entry(placement, date(2026, 11, day), direct="10")
    late = factories.entry(placement, WEEK, direct="10", approve=False)
    first, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    timesheets.decide([late], True, None)
    second, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    # With Monday the week is 50 h: Friday's 10 h, billed at $100, are overtime at $150.
    assert hours(second) == [(False, False, D("10"), D("90.00"), D("900.00")),
                             (True, False, D("10"), D("150.00"), D("1500.00")),
                             (False, True, D("-10"), D("100.00"), D("-1000.00"))]
    assert second.lines[2].corrects_invoice_id == first.id
    assert week_bills([placement.id]) == {(placement.id, WEEK): {
        (False, D("90.00")): D("30"), (False, D("100.00")): D("10"), (True, D("150.00")): D("10")}}
    assert ledger_problems(db.session) == []


def test_a_late_day_before_a_full_week_is_billed_as_its_overtime_and_traced_to_that_line():
    place = factories.facility()
    factories.rate_card(place)
    placement = factories.active_placement(place)
    for day in (3, 4, 5, 6):  # Tue to Fri, 40 h, all regular
        factories.entry(placement, date(2026, 11, day), direct="10")
    late = factories.entry(placement, WEEK, direct="10", approve=False)
    invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    timesheets.decide([late], True, None)
    second, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    # Monday takes 10 of the regular hours Friday was billed, and Friday's 10 h become overtime: the
    # week bills 10 more overtime hours, and Monday is the day this line bills.
    assert hours(second) == [(True, False, D("10"), D("135.00"), D("1350.00"))]
    assert {s.entry_id: s.quantity for s in second.lines[0].sources if s.quantity} == {late.id: D("10")}
    assert ledger_problems(db.session) == []
