"""Overtime as contracts write it: weekly, over a daily threshold, and 8-and-80 (over 8 h a day or 80 h in
the fixed 14 days from the card's anchor, whichever gives more: 29 CFR 778.601), with worked numbers at
$90.00 an hour, overtime 1.5x = $135.00."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility, preview
from agency.billing.ledger import ledger_problems
from agency.billing.models import Invoice, InvoiceLine, LineSource, TimesheetEntry
from agency.billing.pricing import regular_hours, week_price, week_start
from agency.billing.receivables import void_invoice
from agency.core.errors import ValidationError
from agency.extensions import db
from agency.facilities.services import save_rate_card
from tests import factories
from tests.billing.test_pricing_properties import active_placement, play

D = Decimal
ANCHOR = date(2026, 11, 4)  # a Wednesday: the periods run Wednesday to the second Tuesday after
EIGHTY = "over 8 h a day or 80 h in the 14 days from Nov 4, 2026, 1.5x"


def eighty_card(place, **kw):
    return factories.rate_card(place, rule="eight_and_eighty", anchor=ANCHOR, **kw)


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]


def hours(pricing_or_invoice):
    return [(line.overtime, line.is_credit, line.quantity, line.amount) for line in pricing_or_invoice.lines]


def work(placement, days, direct, approve=True):
    return [factories.entry(placement, day, direct=direct, approve=approve) for day in days]


def test_eight_and_eighty_where_the_days_over_eight_give_more_overtime(app):
    # Eight 12-hour days, Nov 4 to 11: 96 h. Over 8 a day: 8 x 4 = 32 h; over 80: 16 h. 32 wins.
    place = factories.facility()
    eighty_card(place)
    placement = factories.active_placement(place)
    work(placement, days_from(ANCHOR, 8), "12")
    pricing = preview(place.id, date(2026, 11, 30))
    assert hours(pricing) == [(False, False, D("64"), D("5760.00")), (True, False, D("32"), D("4320.00"))]
    assert EIGHTY in pricing.lines[1].description
    # The weekly rule bills the same days 20 h of overtime (60 h in the week of Nov 2, 36 h in the next).


def test_eight_and_eighty_where_the_eighty_gives_more_overtime(app):
    # Twelve 8-hour days, Nov 4 to 15: 96 h, no day over 8, 16 h over 80; no week over 40 h would be 16 h too
    # only by chance of the split: Nov 9 to 15 is 56 h, so weekly says 16 h as well but for another reason.
    place = factories.facility()
    eighty_card(place)
    placement = factories.active_placement(place)
    work(placement, days_from(ANCHOR, 12), "8")
    assert hours(preview(place.id, date(2026, 11, 30))) == [(False, False, D("80"), D("7200.00")),
                                                            (True, False, D("16"), D("2160.00"))]


def test_eight_and_eighty_periods_repeat_every_fourteen_days_before_the_anchor_too(app):
    place = factories.facility()
    factories.rate_card(place, rule="eight_and_eighty", anchor=date(2026, 11, 18))
    placement = factories.active_placement(place)
    # Nov 4 to 17 is the period before the anchor's: its 96 h give 16 h over 80, Nov 18's 9 h 1 h over 8.
    work(placement, days_from(ANCHOR, 12), "8")
    work(placement, [date(2026, 11, 18)], "9")
    pricing = preview(place.id, date(2026, 11, 30))
    assert [(line.quantity, line.period_key) for line in pricing.lines if line.overtime] == [
        (D("16"), ANCHOR), (D("1"), date(2026, 11, 18))]


def test_a_weekly_threshold_raised_mid_week_counts_every_hour_worked_that_week(app):
    # Over 8 h a week until Tuesday, Nov 3; over 12.5 h from Wednesday. Monday's 10 h: 8 regular, 2 over.
    # Wednesday's 4 h come after 10 h worked that week: 2.5 reach 12.5, the other 1.5 are overtime.
    place = factories.facility()
    factories.rate_card(place, end=date(2026, 11, 3), threshold="8")
    factories.rate_card(place, start=date(2026, 11, 4), threshold="12.5")
    placement = factories.active_placement(place)
    work(placement, [date(2026, 11, 2)], "10")
    work(placement, [date(2026, 11, 4)], "4")
    assert [(overtime, quantity) for overtime, _, quantity, _ in hours(preview(place.id, date(2026, 11, 30)))] == [
        (False, D("10.5")), (True, D("3.5"))]


def split_period(place, placement):
    """Eleven 9-hour days, Nov 4 to 14: 99 h, 11 h over 8 a day, 19 h over 80: 19 h of overtime. The first
    invoice bills Nov 4 to 8 (45 h: 5 h over 8 a day), the second Nov 9 to 14 (80 - 40 = 40 h regular left)."""
    days = work(placement, days_from(ANCHOR, 11), "9", approve=False)
    timesheets.decide(days[:5], True, None)
    first, _ = invoice_facility(place.id, date(2026, 11, 2), date(2026, 11, 8))
    timesheets.decide(days[5:], True, None)
    second, _ = invoice_facility(place.id, date(2026, 11, 9), date(2026, 11, 15))
    assert hours(first) == [(False, False, D("40"), D("3600.00")), (True, False, D("5"), D("675.00"))]
    assert hours(second) == [(False, False, D("40"), D("3600.00")), (True, False, D("14"), D("1890.00"))]
    return days, first, second


def live_hours(placement) -> dict:
    """(overtime) -> hours live lines bill for the placement, credits netted."""
    rows = db.session.execute(
        sa.select(InvoiceLine.overtime, sa.func.sum(LineSource.quantity)).join(LineSource.line)
        .join(InvoiceLine.invoice).where(InvoiceLine.placement_id == placement.id, Invoice.status != "void")
        .group_by(InvoiceLine.overtime))
    return {overtime: quantity for overtime, quantity in rows if quantity}


def test_a_period_split_across_invoices_bills_the_overtime_one_invoice_would(app):
    place = factories.facility()
    eighty_card(place)
    placement = factories.active_placement(place)
    split_period(place, placement)
    assert live_hours(placement) == {False: D("80"), True: D("19")}


def test_a_day_approved_after_its_period_was_billed_is_priced_with_it(app):
    place = factories.facility()
    eighty_card(place)
    placement = factories.active_placement(place)
    late = factories.entry(placement, date(2026, 11, 5), direct="9", approve=False)
    # Ten 9-hour days without Nov 5: 90 h, 10 over 8 a day, 10 over 80: 80 regular, 10 overtime.
    work(placement, [ANCHOR] + days_from(date(2026, 11, 6), 9), "9")
    first, _ = invoice_facility(place.id, date(2026, 11, 2), date(2026, 11, 17))
    assert hours(first) == [(False, False, D("80"), D("7200.00")), (True, False, D("10"), D("1350.00"))]
    timesheets.decide([late], True, None)
    # 99 h now: 19 h over 80, so the late day's 9 h are all overtime.
    second, _ = invoice_facility(place.id, date(2026, 11, 18), date(2026, 11, 30))
    assert hours(second) == [(True, False, D("9"), D("1215.00"))]


def test_void_and_rebill_of_part_of_a_period_bills_the_same_hours(app):
    place = factories.facility()
    eighty_card(place)
    placement = factories.active_placement(place)
    _, first, _ = split_period(place, placement)
    void_invoice(first, "billed in error", None)
    rebill, _ = invoice_facility(place.id, date(2026, 11, 2), date(2026, 11, 17))
    assert hours(rebill) == [(False, False, D("40"), D("3600.00")), (True, False, D("5"), D("675.00"))]
    assert live_hours(placement) == {False: D("80"), True: D("19")}
    assert ledger_problems(db.session) == []


def test_lowering_a_billed_day_credits_the_overtime_a_later_invoice_billed(app):
    place = factories.facility()
    eighty_card(place)
    placement = factories.active_placement(place)
    days, first, second = split_period(place, placement)
    void_invoice(first, "Nov 4 was 1 h, not 9", None)
    timesheets.update_entry(days[0], {"direct_care_hours": D("1")})
    timesheets.decide([days[0]], True, None)
    # 91 h now: 10 h over 8 a day, 11 h over 80, so 11 h of overtime where 19 were billed. In date order:
    # Nov 4 to 8 owe 33 h regular and 4 overtime, Nov 9 to 14 owe 47 and 7 where the second invoice billed
    # 40 and 14: the rebill charges 33 + 7 = 40 h regular and credits 4 - 7 = -3 h of overtime.
    rebill, _ = invoice_facility(place.id, date(2026, 11, 2), date(2026, 11, 17))
    assert hours(rebill) == [(False, False, D("40"), D("3600.00")), (True, True, D("-3"), D("-405.00"))]
    credit = rebill.lines[1]
    assert credit.corrects_invoice_id == second.id
    assert credit.description.startswith(
        f"Credit: direct care overtime hours of the 14 days from Nov 4, 2026 billed on {second.number}")
    assert rebill.total == D("3195.00")
    assert live_hours(placement) == {False: D("80"), True: D("11")}


def test_a_card_changed_to_eight_and_eighty_corrects_the_period_with_its_next_day(app):
    place = factories.facility()
    card = factories.rate_card(place)
    placement = factories.active_placement(place)
    # Weekly: Nov 4 to 8 is 60 h (20 over 40), Nov 9 to 11 is 36 h: 76 h regular, 20 overtime.
    work(placement, days_from(ANCHOR, 8), "12")
    first, _ = invoice_facility(place.id, date(2026, 11, 2), date(2026, 11, 15))
    assert hours(first) == [(False, False, D("76"), D("6840.00")), (True, False, D("20"), D("2700.00"))]
    save_rate_card(place, card, {"overtime_rule": "eight_and_eighty", "period_anchor": ANCHOR}, None)
    assert card.overtime_threshold_hours is None  # 8-and-80's own 80 h replace the weekly threshold
    work(placement, [date(2026, 11, 12)], "12")
    # Nine 12-hour days: 108 h, 36 over 8 a day, 28 over 80: 72 h regular, 36 overtime. Billed 76 and 20.
    second, _ = invoice_facility(place.id, date(2026, 11, 2), date(2026, 11, 15))
    assert hours(second) == [(True, False, D("16"), D("2160.00")), (False, True, D("-4"), D("-360.00"))]
    assert EIGHTY in second.lines[0].description
    assert second.lines[1].description.startswith(
        f"Credit: direct care hours of the 14 days from Nov 4, 2026 billed on {first.number}")


@pytest.mark.parametrize(("weekly", "regular", "overtime", "terms"), [
    (None, "52", "4", "over 10 h a day, week of Nov 2, 2026, 1.5x"),
    # The 8 h over 10 a day are not counted again towards the 40: 52 regular hours, 12 of them over 40.
    ("40", "40", "16", "over 10 h a day or 40 h, week of Nov 2, 2026, 1.5x"),
])
def test_daily_overtime_with_and_without_a_weekly_threshold(app, weekly, regular, overtime, terms):
    place = factories.facility()
    factories.rate_card(place, rule="daily", daily="10", threshold=weekly)
    placement = factories.active_placement(place)
    # Mon Nov 2 to Sat Nov 7: 12, 12, 8, 8, 8, 8 = 56 h, 4 of them over 10 a day.
    for day, direct in zip(days_from(date(2026, 11, 2), 6), ("12", "12", "8", "8", "8", "8"), strict=True):
        factories.entry(placement, day, direct=direct)
    pricing = preview(place.id, date(2026, 11, 8))
    assert [(line.overtime, line.quantity) for line in pricing.lines] == [(False, D(regular)), (True, D(overtime))]
    assert terms in pricing.lines[1].description


@pytest.mark.parametrize(("values", "field"), [
    ({"overtime_rule": "daily"}, "daily_threshold_hours"),
    ({"overtime_rule": "daily", "daily_threshold_hours": D("25")}, "daily_threshold_hours"),
    ({"overtime_rule": "weekly", "daily_threshold_hours": D("10")}, "daily_threshold_hours"),
    ({"overtime_rule": "weekly", "period_anchor": ANCHOR}, "period_anchor"),
    ({"overtime_rule": "eight_and_eighty", "overtime_threshold_hours": D("40")}, "overtime_threshold_hours"),
    ({"overtime_rule": "monthly"}, "overtime_rule"),
])
def test_an_overtime_rule_without_its_own_fields_is_refused_beside_the_field(app, values, field):
    place = factories.facility()
    with pytest.raises(ValidationError) as refused:
        save_rate_card(place, None, {"effective_from": date(2026, 1, 1), **values},
                       [{"item": "direct_care_hour", "discipline": "LCSW", "amount": D("90.00")}])
    assert field in refused.value.fields
    assert place.rate_cards == []


def test_an_eight_and_eighty_card_without_an_anchor_counts_from_its_first_day(app):
    place = factories.facility()
    card = factories.rate_card(place, start=ANCHOR, rule="eight_and_eighty")
    assert card.period_anchor == ANCHOR
    assert card.overtime_period(date(2026, 11, 20)) == (date(2026, 11, 18), 14)


def test_a_planned_week_under_a_daily_rule_is_five_equal_days(app):
    place = factories.facility()
    eighty = eighty_card(place, end=date(2026, 6, 30))
    daily = factories.rate_card(place, start=date(2026, 7, 1), rule="daily", daily="10", threshold=None)
    # 50 h as five 10-hour days: 10 h over 8 a day, and 40 of 8-and-80's 80 h to a week: 10 h overtime.
    assert week_price(eighty, "hourly", "LCSW", 50).amount == D("3600.00") + D("1350.00")
    # 48 h as five 9.6-hour days: none over 10.
    assert week_price(daily, "hourly", "LCSW", 48).amount == D("4320.00")


# ----------------------------------------------------------------------------- properties

day_hours = st.integers(min_value=0, max_value=64).map(lambda n: Decimal(n) / 4)  # 0 to 16 h


@given(st.lists(day_hours, min_size=14, max_size=14))
def test_the_walk_bills_eight_and_eighty_as_the_more_of_daily_excess_and_hours_over_eighty(days):
    regular = Decimal(0)
    for worked in days:
        regular += regular_hours(worked, (D(8), D(80)), Decimal(0), regular)
    total = sum(days)
    assert total - regular == max(sum(max(h - 8, 0) for h in days), total - 80)


def owed_overtime(card, days: dict) -> dict:
    """The oracle, from the contract's words, not the walk: overtime hours per period.
    8-and-80: max(sum over 8 a day, total over 80). Daily: over the day's threshold, and over the weekly
    threshold of what is left."""
    periods = defaultdict(list)
    for day, worked in days.items():
        key = (ANCHOR + timedelta(days=(day - ANCHOR).days // 14 * 14) if card["rule"] == "eight_and_eighty"
               else week_start(day))
        periods[key].append(worked)
    owed = {}
    for key, worked in periods.items():
        if card["rule"] == "eight_and_eighty":
            over = max(sum(max(h - 8, 0) for h in worked), sum(worked) - 80)
        else:
            over = sum(max(h - card["daily"], 0) for h in worked)
            if card["weekly"] is not None:
                over += max(sum(worked) - over - card["weekly"], 0)
        owed[key] = over
    return {key: over for key, over in owed.items() if over}


cards = st.sampled_from([{"rule": "eight_and_eighty"}, {"rule": "daily", "daily": D(8), "weekly": None},
                         {"rule": "daily", "daily": D(10), "weekly": D(40)},
                         {"rule": "daily", "daily": D(6), "weekly": D(20)}])
# Day of Nov 2 to 22 (a period and a half of 8-and-80, three weeks) -> (hours, the round it is approved in).
worked = st.dictionaries(st.integers(min_value=0, max_value=20),
                         st.tuples(st.integers(min_value=4, max_value=56).map(lambda n: Decimal(n) / 4),
                                   st.integers(0, 2)), min_size=1, max_size=14)
rounds = st.lists(st.tuples(st.integers(min_value=0, max_value=20), st.none() | st.integers(0, 5),
                            st.none() | st.integers(0, 9)), min_size=2, max_size=3)
FIRST = date(2026, 11, 2)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(card=cards, worked=worked, rounds=rounds)
def test_any_split_into_invoices_and_voids_bills_each_periods_overtime_as_one_invoice(app, card, worked, rounds):
    place = factories.facility(billing_email=None)
    factories.rate_card(place, rule=card["rule"], anchor=ANCHOR if card["rule"] == "eight_and_eighty" else None,
                        daily=card.get("daily") and str(card["daily"]),
                        threshold=card.get("weekly") and str(card["weekly"]), direct_care_hour="90.00",
                        per_diem_day="20000.00")
    placement = active_placement(place)
    entries = play(place, placement, worked, rounds, FIRST, FIRST)
    invoice_facility(place.id, FIRST, FIRST + timedelta(days=20))
    # A credit bigger than its invoice waits for the next one: a per-diem day outweighs any.
    sweeper = active_placement(place, billing_basis="per_diem")
    factories.entry(sweeper, date(2026, 11, 16))
    invoice_facility(place.id, FIRST, FIRST + timedelta(days=20))

    for entry in entries:
        db.session.refresh(entry)
    invoiced = {e.work_date: e.direct_care_hours for e in entries if e.status == "invoiced"}
    assert {e.status for e in entries} <= {"invoiced", "rejected"}, "no day is left behind"
    billed = defaultdict(Decimal)
    for key, quantity in db.session.execute(
            sa.select(InvoiceLine.period_key, LineSource.quantity).join(LineSource.line).join(InvoiceLine.invoice)
            .join(LineSource.entry).where(TimesheetEntry.placement_id == placement.id, Invoice.status != "void",
                                          InvoiceLine.overtime.is_(True))):
        billed[key] += quantity
    assert {key: h for key, h in billed.items() if h} == owed_overtime(card, invoiced)
    assert ledger_problems(db.session) == []
