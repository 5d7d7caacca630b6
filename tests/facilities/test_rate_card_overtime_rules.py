"""A contract's overtime rule on its rate card, as billing and recruiters write it through the API and the page:
weekly, 8-and-80 from a period anchor, or daily with or without a weekly threshold. A combination no contract
could mean is refused naming its field, and leaves every card as it was."""

import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.extensions import db
from agency.facilities.models import RateCard
from tests import factories

RATES = [{"item": "direct_care_hour", "discipline": "LCSW", "amount": "92.50"}]
# A hospital system's 8-and-80 contract, its pay periods starting on a Sunday.
EIGHT_AND_EIGHTY = {"effective_from": "2026-01-01", "effective_to": "2026-12-31", "overtime_rule": "eight_and_eighty",
                    "period_anchor": "2026-01-04", "overtime_multiplier": "1.5", "rates": RATES}
# A California clinic: over 8 hours a day, and over 40 a week as well.
DAILY = {"effective_from": "2026-01-01", "effective_to": "2026-12-31", "overtime_rule": "daily",
         "daily_threshold_hours": 8, "overtime_threshold_hours": 40, "overtime_multiplier": "1.5", "rates": RATES}
OVERTIME_FIELDS = ("overtime_rule", "overtime_threshold_hours", "daily_threshold_hours", "period_anchor",
                   "overtime_multiplier")


def card_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RateCard))


def overtime_of(card: dict) -> dict:
    return {key: card[key] for key in OVERTIME_FIELDS}


def refused_naming(response, field: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["code"] == "validation_error" and field in error["fields"], error


# ----------------------------------------------------------------------------- through the API


def test_an_eight_and_eighty_contract_reads_back_with_its_period_anchor_and_no_weekly_threshold(api):
    billing = api("billing")
    place = factories.facility()
    made = billing.post(f"/api/v1/facilities/{place.id}/rate-cards", json=EIGHT_AND_EIGHTY)
    assert made.status_code == 201, made.json
    expected = {"overtime_rule": "eight_and_eighty", "overtime_threshold_hours": None,
                "daily_threshold_hours": None, "period_anchor": "2026-01-04", "overtime_multiplier": "1.50"}
    assert overtime_of(made.json) == expected
    read = billing.get(f"/api/v1/rate-cards/{made.json['id']}").json
    listed = billing.get(f"/api/v1/facilities/{place.id}/rate-cards").json["items"]
    assert overtime_of(read) == overtime_of(listed[0]) == expected
    assert read["facility_id"] == place.id and read["rates"] == RATES


def test_an_eight_and_eighty_contract_without_an_anchor_counts_its_periods_from_its_first_day(api):
    place = factories.facility()
    body = {key: value for key, value in EIGHT_AND_EIGHTY.items() if key != "period_anchor"}
    made = api("recruiter").post(f"/api/v1/facilities/{place.id}/rate-cards", json=body)
    assert made.status_code == 201, made.json
    assert made.json["period_anchor"] == "2026-01-01"


@pytest.mark.parametrize(("weekly", "read_back"), [(40, "40.00"), (None, None)])
def test_a_daily_contract_reads_back_with_its_daily_and_any_weekly_threshold(api, weekly, read_back):
    billing = api("billing")
    place = factories.facility()
    made = billing.post(f"/api/v1/facilities/{place.id}/rate-cards",
                        json={**DAILY, "overtime_threshold_hours": weekly, "daily_threshold_hours": "8.5"})
    assert made.status_code == 201, made.json
    read = billing.get(f"/api/v1/rate-cards/{made.json['id']}").json
    assert overtime_of(read) == {"overtime_rule": "daily", "overtime_threshold_hours": read_back,
                                 "daily_threshold_hours": "8.50", "period_anchor": None,
                                 "overtime_multiplier": "1.50"}


def test_a_weekly_contract_renegotiated_to_eight_and_eighty_and_then_to_daily_keeps_only_its_rules_fields(api):
    billing = api("billing")
    place = factories.facility()
    card = billing.post(f"/api/v1/facilities/{place.id}/rate-cards",
                        json={"effective_from": "2026-01-01", "overtime_threshold_hours": 40,
                              "rates": RATES}).json
    assert (card["overtime_rule"], card["overtime_threshold_hours"]) == ("weekly", "40.00")
    # The weekly threshold belongs to the weekly rule: 8-and-80's own 80 hours take its place.
    changed = billing.patch(f"/api/v1/rate-cards/{card['id']}",
                            json={"overtime_rule": "eight_and_eighty", "period_anchor": "2026-03-01"})
    assert changed.status_code == 200, changed.json
    assert (changed.json["overtime_threshold_hours"], changed.json["period_anchor"]) == (None, "2026-03-01")
    changed = billing.patch(f"/api/v1/rate-cards/{card['id']}",
                            json={"overtime_rule": "daily", "daily_threshold_hours": 10,
                                  "overtime_multiplier": 2})
    assert changed.status_code == 200, changed.json
    assert overtime_of(billing.get(f"/api/v1/rate-cards/{card['id']}").json) == {
        "overtime_rule": "daily", "overtime_threshold_hours": None, "daily_threshold_hours": "10.00",
        "period_anchor": None, "overtime_multiplier": "2.00"}
    assert card_count() == 1


@pytest.mark.parametrize(("daily", "multiplier"), [("0.01", 1), (24, "3"), ("24.00", "3.00")])
def test_a_daily_contract_at_the_edges_of_a_day_and_of_the_multiplier_is_saved(api, daily, multiplier):
    place = factories.facility()
    made = api("billing").post(f"/api/v1/facilities/{place.id}/rate-cards",
                               json={**DAILY, "daily_threshold_hours": daily, "overtime_multiplier": multiplier})
    assert made.status_code == 201, made.json
    assert (Decimal(made.json["daily_threshold_hours"]), Decimal(made.json["overtime_multiplier"])) == \
        (Decimal(daily), Decimal(multiplier))


NOT_NUMBERS = ["eight", "1e30", "1e400", "Infinity", "NaN", "-0.5", True, [8], {"hours": 8}]


@pytest.mark.parametrize(("body", "field"), [
    ({**EIGHT_AND_EIGHTY, "overtime_rule": "biweekly"}, "overtime_rule"),
    ({**EIGHT_AND_EIGHTY, "overtime_rule": "EIGHT_AND_EIGHTY"}, "overtime_rule"),
    ({**EIGHT_AND_EIGHTY, "overtime_rule": None}, "overtime_rule"),
    ({**EIGHT_AND_EIGHTY, "overtime_rule": 880}, "overtime_rule"),
    ({**EIGHT_AND_EIGHTY, "overtime_threshold_hours": 40}, "overtime_threshold_hours"),
    ({**EIGHT_AND_EIGHTY, "daily_threshold_hours": 8}, "daily_threshold_hours"),
    ({**EIGHT_AND_EIGHTY, "period_anchor": "next Sunday"}, "period_anchor"),
    ({**EIGHT_AND_EIGHTY, "period_anchor": "2026-02-30"}, "period_anchor"),
    ({**EIGHT_AND_EIGHTY, "period_anchor": "01/04/2026"}, "period_anchor"),
    ({**EIGHT_AND_EIGHTY, "period_anchor": 20260104}, "period_anchor"),
    ({**EIGHT_AND_EIGHTY, "period_anchor": "0001-01-01"}, "period_anchor"),
    ({**EIGHT_AND_EIGHTY, "period_anchor": "9999-12-31"}, "period_anchor"),
    ({**DAILY, "daily_threshold_hours": None}, "daily_threshold_hours"),
    ({key: value for key, value in DAILY.items() if key != "daily_threshold_hours"}, "daily_threshold_hours"),
    ({**DAILY, "daily_threshold_hours": ""}, "daily_threshold_hours"),
    ({**DAILY, "daily_threshold_hours": 0}, "daily_threshold_hours"),
    ({**DAILY, "daily_threshold_hours": -8}, "daily_threshold_hours"),
    ({**DAILY, "daily_threshold_hours": "24.01"}, "daily_threshold_hours"),
    ({**DAILY, "daily_threshold_hours": 80}, "daily_threshold_hours"),
    ({**DAILY, "daily_threshold_hours": "8.125"}, "daily_threshold_hours"),
    *[({**DAILY, "daily_threshold_hours": bad}, "daily_threshold_hours") for bad in NOT_NUMBERS],
    ({**DAILY, "period_anchor": "2026-01-04"}, "period_anchor"),
    ({**DAILY, "overtime_threshold_hours": 0}, "overtime_threshold_hours"),
    ({**DAILY, "overtime_threshold_hours": 169}, "overtime_threshold_hours"),
    ({"effective_from": "2026-01-01", "daily_threshold_hours": 8, "rates": RATES}, "daily_threshold_hours"),
    ({"effective_from": "2026-01-01", "period_anchor": "2026-01-04", "rates": RATES}, "period_anchor"),
    ({**EIGHT_AND_EIGHTY, "overtime_multiplier": "0.99"}, "overtime_multiplier"),
    ({**EIGHT_AND_EIGHTY, "overtime_multiplier": 0}, "overtime_multiplier"),
    ({**EIGHT_AND_EIGHTY, "overtime_multiplier": "3.01"}, "overtime_multiplier"),
    ({**EIGHT_AND_EIGHTY, "overtime_multiplier": None}, "overtime_multiplier"),
    *[({**EIGHT_AND_EIGHTY, "overtime_multiplier": bad}, "overtime_multiplier") for bad in NOT_NUMBERS],
])
def test_a_new_card_whose_overtime_rule_no_contract_could_mean_is_refused_naming_the_field_and_not_saved(
        api, body, field):
    billing = api("billing")
    place = factories.facility()
    factories.rate_card(place, date(2025, 1, 1), date(2025, 12, 31))
    response = billing.post(f"/api/v1/facilities/{place.id}/rate-cards", json=body)
    refused_naming(response, field)
    assert card_count() == 1
    assert [card["effective_from"] for card in billing.get(f"/api/v1/facilities/{place.id}/rate-cards")
            .json["items"]] == ["2025-01-01"]


# A change that also moves the end date and reprices: refused whole, neither lands.
ALSO = {"effective_to": "2027-06-30", "rates": [{"item": "direct_care_hour", "discipline": "LCSW", "amount": "99"}]}


@pytest.mark.parametrize(("start", "change", "field"), [
    (EIGHT_AND_EIGHTY, {"overtime_threshold_hours": 40}, "overtime_threshold_hours"),
    (EIGHT_AND_EIGHTY, {"daily_threshold_hours": 8}, "daily_threshold_hours"),
    (EIGHT_AND_EIGHTY, {"overtime_rule": "daily"}, "daily_threshold_hours"),
    (EIGHT_AND_EIGHTY, {"overtime_rule": "daily", "daily_threshold_hours": 0}, "daily_threshold_hours"),
    (EIGHT_AND_EIGHTY, {"overtime_rule": "daily", "daily_threshold_hours": 8, "period_anchor": "2026-01-04"},
     "period_anchor"),
    (EIGHT_AND_EIGHTY, {"overtime_rule": "weekly", "period_anchor": "2026-01-18"}, "period_anchor"),
    (EIGHT_AND_EIGHTY, {"overtime_rule": "fortnightly"}, "overtime_rule"),
    (EIGHT_AND_EIGHTY, {"overtime_rule": None}, "overtime_rule"),
    (EIGHT_AND_EIGHTY, {"period_anchor": "the first Sunday"}, "period_anchor"),
    (EIGHT_AND_EIGHTY, {"overtime_multiplier": "0.5"}, "overtime_multiplier"),
    (EIGHT_AND_EIGHTY, {"overtime_multiplier": 150}, "overtime_multiplier"),
    (DAILY, {"daily_threshold_hours": None}, "daily_threshold_hours"),
    (DAILY, {"daily_threshold_hours": 25}, "daily_threshold_hours"),
    (DAILY, {"daily_threshold_hours": -1}, "daily_threshold_hours"),
    (DAILY, {"daily_threshold_hours": "1e400"}, "daily_threshold_hours"),
    (DAILY, {"period_anchor": "2026-01-04"}, "period_anchor"),
    (DAILY, {"overtime_rule": "eight_and_eighty", "overtime_threshold_hours": 40}, "overtime_threshold_hours"),
    (DAILY, {"overtime_rule": "eight_and_eighty", "daily_threshold_hours": 8}, "daily_threshold_hours"),
    (DAILY, {"overtime_rule": "weekly", "daily_threshold_hours": 8}, "daily_threshold_hours"),
])
def test_a_change_to_a_cards_overtime_rule_no_contract_could_mean_is_refused_and_changes_nothing(
        api, start, change, field):
    billing = api("billing")
    place = factories.facility()
    card_id = billing.post(f"/api/v1/facilities/{place.id}/rate-cards", json=start).json["id"]
    before = billing.get(f"/api/v1/rate-cards/{card_id}").json
    response = billing.patch(f"/api/v1/rate-cards/{card_id}", json={**ALSO, **change})
    refused_naming(response, field)
    db.session.expire_all()
    assert billing.get(f"/api/v1/rate-cards/{card_id}").json == before
    assert card_count() == 1


def test_switching_a_daily_card_to_eight_and_eighty_drops_both_thresholds_and_anchors_on_its_first_day(api):
    billing = api("billing")
    place = factories.facility()
    card_id = billing.post(f"/api/v1/facilities/{place.id}/rate-cards", json=DAILY).json["id"]
    changed = billing.patch(f"/api/v1/rate-cards/{card_id}", json={"overtime_rule": "eight_and_eighty"})
    assert changed.status_code == 200, changed.json
    assert overtime_of(changed.json) == {"overtime_rule": "eight_and_eighty", "overtime_threshold_hours": None,
                                         "daily_threshold_hours": None, "period_anchor": "2026-01-01",
                                         "overtime_multiplier": "1.50"}


# ----------------------------------------------------------------------------- through the page


PAGE_CARD = {"effective_from": "2026-01-01", "effective_to": "2026-12-31", "overtime_rule": "eight_and_eighty",
             "overtime_threshold_hours": "", "daily_threshold_hours": "", "period_anchor": "2026-01-04",
             "overtime_multiplier": "1.5", "rates-0-item": "direct_care_hour", "rates-0-discipline": "LCSW",
             "rates-0-amount": "92.50"}


def error_beside(page: str, field: str) -> str:
    """The errors the page shows in the field's own box, under its input (the forms macro's layout)."""
    box = re.search(rf'<div class="field has-error">\s*<label for="{field}".*?</div>\s*</div>', page, re.S)
    assert box, f"no error beside {field}"
    assert f'aria-describedby="{field}-error"' in box.group(0)
    return box.group(0)


@pytest.mark.parametrize("role", ["admin", "billing"])
def test_an_eight_and_eighty_card_saved_on_the_page_keeps_its_anchor(browser, role):
    place = factories.facility()
    response = browser(role).post(f"/facilities/{place.id}/rate-cards/new", PAGE_CARD)
    assert response.status_code == 302, response.data
    card = db.session.scalar(sa.select(RateCard))
    assert (card.overtime_rule, card.period_anchor, card.overtime_threshold_hours, card.daily_threshold_hours,
            card.overtime_multiplier) == ("eight_and_eighty", date(2026, 1, 4), None, None, Decimal("1.50"))
    assert card.rate("direct_care_hour", "LCSW") == Decimal("92.50")


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"overtime_rule": "biweekly"}, "overtime_rule", "Not a valid choice"),
    ({"overtime_threshold_hours": "40"}, "overtime_threshold_hours", "leave the weekly threshold empty"),
    ({"daily_threshold_hours": "8"}, "daily_threshold_hours", "applies only when overtime_rule is daily"),
    ({"period_anchor": "next Sunday"}, "period_anchor", "Not a valid date value"),
    ({"period_anchor": "0001-01-01"}, "period_anchor", "The date must be between"),
    ({"overtime_rule": "daily"}, "daily_threshold_hours", "is required when overtime_rule is daily"),
    ({"overtime_rule": "daily", "daily_threshold_hours": "8"}, "period_anchor",
     "applies only when overtime_rule is eight_and_eighty"),
    ({"overtime_rule": "weekly", "overtime_threshold_hours": "40"}, "period_anchor",
     "applies only when overtime_rule is eight_and_eighty"),
    *[({"overtime_rule": "daily", "period_anchor": "", "daily_threshold_hours": bad}, "daily_threshold_hours",
       message) for bad, message in [("0", "Number must be between"), ("-8", "Number must be between"),
                                     ("24.5", "Number must be between"), ("eight", "Not a valid decimal value"),
                                     ("1e400", "Enter a number below"), ("NaN", "Enter a number below"),
                                     ("sNaN", "Enter a number below"),
                                     ("8.555", "must have at most 2 decimal places")]],
    ({"overtime_rule": "weekly", "period_anchor": "", "overtime_threshold_hours": "37.125"},
     "overtime_threshold_hours", "must have at most 2 decimal places"),
    ({"overtime_multiplier": "0.5"}, "overtime_multiplier", "Number must be between"),
    ({"overtime_multiplier": "4"}, "overtime_multiplier", "must be from 1 to 3"),
    ({"overtime_multiplier": "1.555"}, "overtime_multiplier", "must have at most 2 decimal places"),
    ({"overtime_multiplier": "1e30"}, "overtime_multiplier", "Enter a number below"),
    ({"overtime_multiplier": "sNaN"}, "overtime_multiplier", "Enter a number below"),
    ({"overtime_multiplier": ""}, "overtime_multiplier", "This field is required"),
])
def test_a_new_card_with_an_overtime_rule_no_contract_could_mean_is_refused_beside_the_field(
        browser, change, field, message):
    place = factories.facility()
    response = browser("billing").post(f"/facilities/{place.id}/rate-cards/new", {**PAGE_CARD, **change})
    assert response.status_code == 200, response.data
    assert message in error_beside(response.get_data(as_text=True), field)
    assert card_count() == 0


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"overtime_rule": "weekly", "overtime_threshold_hours": "40"}, "period_anchor",
     "applies only when overtime_rule is eight_and_eighty"),
    ({"overtime_threshold_hours": "40"}, "overtime_threshold_hours", "leave the weekly threshold empty"),
    ({"overtime_rule": "daily", "period_anchor": ""}, "daily_threshold_hours", "is required"),
    ({"overtime_multiplier": "3.5"}, "overtime_multiplier", "must be from 1 to 3"),
])
def test_editing_an_eight_and_eighty_card_into_a_combination_no_contract_could_mean_changes_nothing(
        browser, change, field, message):
    place = factories.facility()
    card = factories.rate_card(place, date(2026, 1, 1), date(2026, 12, 31), rule="eight_and_eighty",
                               anchor=date(2026, 1, 4))
    before = (card.effective_to, card.overtime_rule, card.period_anchor, card.overtime_threshold_hours,
              card.daily_threshold_hours, card.overtime_multiplier, card.rate("direct_care_hour", "LCSW"))
    b = browser("admin")
    # What the edit page offers, changed as the clerk changes it: a later end and a new price too.
    response = b.post(f"/rate-cards/{card.id}/edit", {**PAGE_CARD, "effective_to": "2027-06-30",
                                                      "rates-0-amount": "99.00", **change})
    assert response.status_code == 200, response.data
    assert message in error_beside(response.get_data(as_text=True), field)
    db.session.expire_all()
    card = db.session.get(RateCard, card.id)
    assert (card.effective_to, card.overtime_rule, card.period_anchor, card.overtime_threshold_hours,
            card.daily_threshold_hours, card.overtime_multiplier, card.rate("direct_care_hour", "LCSW")) == before


def test_the_edit_page_shows_an_eight_and_eighty_cards_anchor_and_saves_its_switch_to_daily(browser):
    place = factories.facility()
    card = factories.rate_card(place, date(2026, 1, 1), date(2026, 12, 31), rule="eight_and_eighty",
                               anchor=date(2026, 1, 4))
    b = browser("billing")
    page = b.get(f"/rate-cards/{card.id}/edit").get_data(as_text=True)
    assert re.search(r'id="period_anchor"[^>]*value="2026-01-04"', page)
    assert re.search(r'<option selected value="eight_and_eighty">|<option value="eight_and_eighty" selected>', page)
    response = b.post(f"/rate-cards/{card.id}/edit", {**PAGE_CARD, "overtime_rule": "daily", "period_anchor": "",
                                                      "daily_threshold_hours": "10"})
    assert response.status_code == 302, response.data
    db.session.expire_all()
    card = db.session.get(RateCard, card.id)
    assert (card.overtime_rule, card.daily_threshold_hours, card.period_anchor) == ("daily", Decimal("10.00"), None)


def test_the_audit_log_says_what_a_renegotiated_contract_changed_old_and_new(api, users):
    billing = api("billing")
    place = factories.facility()
    card = billing.post(f"/api/v1/facilities/{place.id}/rate-cards",
                        json={"effective_from": "2026-01-01", "overtime_threshold_hours": 40,
                              "rates": RATES}).json
    changed = billing.patch(f"/api/v1/rate-cards/{card['id']}",
                            json={"overtime_rule": "eight_and_eighty", "period_anchor": "2026-03-01",
                                  "rates": [{**RATES[0], "amount": "95.00"}]})
    assert changed.status_code == 200, changed.json
    event = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "rate_card", AuditEvent.object_id == card["id"], AuditEvent.action == "update")).one()
    assert event.user_id == users["billing"].id
    assert event.changes["overtime_rule"] == ["weekly", "eight_and_eighty"]
    assert event.changes["period_anchor"] == [None, "2026-03-01"]
    assert event.changes["overtime_threshold_hours"] == ["40.00", None]
    assert event.changes["rates"] == [{"direct_care_hour/LCSW": "92.50"}, {"direct_care_hour/LCSW": "95.00"}]
