"""Pricing with worked examples: overtime per week, rate changes, late approvals, rounding."""

from datetime import date
from decimal import Decimal

import pytest

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility, preview
from agency.billing.receivables import void_invoice
from tests import factories

D = Decimal


def lines_of(pricing):
    return [(line.item, line.overtime, line.quantity, line.unit_price, line.amount) for line in pricing.lines]


def test_direct_care_over_forty_hours_in_a_monday_to_sunday_week_is_overtime():
    place = factories.facility()
    factories.rate_card(place)
    placement = factories.active_placement(place)
    # Mon Nov 2 to Sat Nov 7, 2026: 5 x 9 h + 3 h Saturday = 48 h in one week.
    for day in range(2, 7):
        factories.entry(placement, date(2026, 11, day), direct="9")
    factories.entry(placement, date(2026, 11, 7), direct="3")
    # The next Monday starts a new week: 8 h regular.
    factories.entry(placement, date(2026, 11, 9), direct="8")
    pricing = preview(place.id, date(2026, 11, 15))
    assert lines_of(pricing) == [
        ("direct_care_hour", False, D("48"), D("90.00"), D("4320.00")),
        ("direct_care_hour", True, D("8"), D("135.00"), D("1080.00")),
    ]
    assert pricing.total == D("5400.00")


def test_a_rate_change_mid_period_prices_each_day_by_the_card_in_effect_that_day():
    place = factories.facility()
    factories.rate_card(place, end=date(2026, 10, 14), threshold=None)
    factories.rate_card(place, start=date(2026, 10, 15), threshold=None, direct_care_hour="95.00")
    placement = factories.active_placement(place)
    factories.entry(placement, date(2026, 10, 14), direct="6")
    factories.entry(placement, date(2026, 10, 15), direct="6")
    pricing = preview(place.id, date(2026, 10, 31))
    assert sorted((line.unit_price, line.quantity) for line in pricing.lines) == [
        (D("90.00"), D("6")), (D("95.00"), D("6"))]


def test_late_approved_hours_count_toward_weekly_overtime_with_what_was_billed():
    place = factories.facility()
    factories.rate_card(place)
    placement = factories.active_placement(place)
    for day in (3, 4, 5, 6):  # Tue to Fri, 36 h billed first
        factories.entry(placement, date(2026, 11, day), direct="9")
    late = factories.entry(placement, date(2026, 11, 2), direct="9", approve=False)  # Monday, approved late
    first, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    assert first.total == D("3240.00")

    timesheets.decide([late], True, None)
    second, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    # 36 h already billed that week: 4 h regular, 5 h overtime.
    assert [(line.overtime, line.quantity) for line in second.lines] == [(False, D("4")), (True, D("5"))]
    assert second.total == D("4") * D("90") + D("5") * D("135.00")


def test_each_line_rounds_half_up_to_cents_and_the_total_is_their_exact_sum():
    place = factories.facility()
    factories.rate_card(place, threshold=None, direct_care_hour="87.35", supervision_hour="10.01",
                       travel_mile="0.67")
    placement = factories.active_placement(place)
    factories.entry(placement, date(2026, 11, 2), direct="7.25", supervision="2.5", miles="12.3")
    pricing = preview(place.id, date(2026, 11, 8))
    amounts = {line.item: line.amount for line in pricing.lines}
    assert amounts["direct_care_hour"] == D("633.29")  # 7.25 x 87.35 = 633.2875
    assert amounts["supervision_hour"] == D("25.03")  # 2.5 x 10.01 = 25.025: half-up, not half-even
    assert amounts["travel_mile"] == D("8.24")  # 12.3 x 0.67 = 8.241
    assert pricing.total == D("666.56")


def test_an_entry_without_a_rate_for_one_of_its_parts_stays_unbilled_and_is_reported():
    place = factories.facility()
    factories.rate_card(place, threshold=None, direct_care_hour="90.00")
    placement = factories.active_placement(place)
    made = factories.entry(placement, date(2026, 11, 2), direct="8", supervision="1")
    pricing = preview(place.id, date(2026, 11, 8))
    assert pricing.lines == []
    assert [(u.entry.id, "supervision_hour" in u.reason) for u in pricing.unpriced] == [(made.id, True)]


@pytest.mark.parametrize("basis, item, quantity", [("per_diem", "per_diem_day", D("2")),
                                                   ("weekly", "contract_week", D("1"))])
def test_per_diem_days_and_contract_weeks(basis, item, quantity):
    place = factories.facility()
    factories.rate_card(place, threshold=None, per_diem_day="720.00", contract_week="3400.00")
    placement = factories.active_placement(place, billing_basis=basis)
    factories.entry(placement, date(2026, 11, 2))
    factories.entry(placement, date(2026, 11, 3))
    pricing = preview(place.id, date(2026, 11, 8))
    assert [(line.item, line.quantity) for line in pricing.lines] == [(item, quantity)]


def test_overtime_is_priced_at_the_multiplied_rate_quoted_in_cents():
    place = factories.facility()
    factories.rate_card(place, threshold="40", direct_care_hour="45.55")
    placement = factories.active_placement(place)
    for day in range(2, 7):  # Mon to Fri, Nov 2026: 50 h
        factories.entry(placement, date(2026, 11, day), direct="10")
    pricing = preview(place.id, date(2026, 11, 8))
    # 45.55 x 1.5 = 68.325, printed as 68.33 a hour; the line is 10 x 68.33 so anyone can check it.
    assert lines_of(pricing) == [
        ("direct_care_hour", False, D("40"), D("45.55"), D("1822.00")),
        ("direct_care_hour", True, D("10"), D("68.33"), D("683.30")),
    ]


def test_a_contract_week_split_across_two_invoices_is_charged_once_and_bills_every_entry():
    place = factories.facility()
    factories.rate_card(place, threshold=None, contract_week="3400.00")
    placement = factories.active_placement(place, billing_basis="weekly")
    # The week of Mon Nov 16, 2026 is split by invoice periods ending Wed Nov 18 and Sun Nov 22.
    first_days = [factories.entry(placement, date(2026, 11, day)) for day in (16, 17)]
    first, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 18))
    assert [(line.item, line.quantity, line.amount) for line in first.lines] == [
        ("contract_week", D("1"), D("3400.00"))]
    later_days = [factories.entry(placement, date(2026, 11, day)) for day in (19, 20)]
    second, unpriced = invoice_facility(place.id, date(2026, 11, 19), date(2026, 11, 22))
    assert second is None and unpriced == []
    assert {e.status for e in first_days + later_days} == {"invoiced"}
    assert sorted(s.entry_id for s in first.lines[0].sources) == sorted(e.id for e in first_days + later_days)
    assert preview(place.id, date(2026, 11, 22)).lines == []

    void_invoice(first, "wrong contract", None)
    rebilled, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 22))
    assert [(line.item, line.quantity) for line in rebilled.lines] == [("contract_week", D("1"))]
    assert len(rebilled.lines[0].sources) == 4


def test_the_telehealth_platform_fee_is_charged_once_a_month_the_placement_works():
    place = factories.facility(facility_type="telehealth")
    factories.rate_card(place, threshold=None, direct_care_hour="90.00", telehealth_platform_month="150.00")
    placement = factories.active_placement(place, telehealth=True)
    for day in (date(2026, 10, 30), date(2026, 11, 2), date(2026, 11, 3)):
        factories.entry(placement, day, direct="4")
    october, _ = invoice_facility(place.id, date(2026, 10, 1), date(2026, 10, 31))
    assert [(line.item, line.quantity) for line in october.lines] == [
        ("direct_care_hour", D("4")), ("telehealth_platform_month", D("1"))]
    factories.entry(placement, date(2026, 11, 4), direct="4")
    november = preview(place.id, date(2026, 11, 30))
    assert [(line.item, line.quantity, line.description.split(",")[0]) for line in november.lines] == [
        ("direct_care_hour", D("12"), "Direct care hours"),
        ("telehealth_platform_month", D("1"), "Telehealth platform"),
    ]
    assert "November 2026" in november.lines[1].description


def test_travel_is_billed_per_mile_or_else_as_a_flat_charge_per_day_travelled():
    place = factories.facility()
    factories.rate_card(place, threshold=None, direct_care_hour="90.00", travel_flat="40.00")
    placement = factories.active_placement(place)
    factories.entry(placement, date(2026, 11, 2), miles="31")
    factories.entry(placement, date(2026, 11, 3), miles="12.5")
    factories.entry(placement, date(2026, 11, 4))
    pricing = preview(place.id, date(2026, 11, 8))
    assert [(line.item, line.quantity, line.amount) for line in pricing.lines] == [
        ("direct_care_hour", D("24"), D("2160.00")), ("travel_flat", D("2"), D("80.00"))]


def test_a_counselor_under_another_states_title_is_priced_at_the_contracts_counselor_rate():
    place = factories.facility()
    factories.rate_card(place, threshold=None, discipline="LPC", direct_care_hour="85.00")
    counselor = factories.licensed_therapist(discipline="LMHC")  # New York's title for the same license
    placement = factories.active_placement(place, counselor)
    factories.entry(placement, date(2026, 11, 2), direct="6")
    pricing = preview(place.id, date(2026, 11, 8))
    assert lines_of(pricing) == [("direct_care_hour", False, D("6"), D("85.00"), D("510.00"))]
