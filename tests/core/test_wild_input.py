"""Wild input is a clear 400 or 404 that changes nothing: ids, days and numbers past what the records hold."""


import pytest
import sqlalchemy as sa

from agency.extensions import db
from agency.placements.models import Assignment
from tests import factories

HUGE = "99999999999999999999"


@pytest.mark.parametrize("url", [f"/api/v1/therapists/{HUGE}", f"/api/v1/invoices/{2**31}",
                                 f"/api/v1/placements/{HUGE}/readiness"])
def test_an_id_past_any_record_in_the_path_is_404(api, url):
    assert api("admin").get(url).status_code == 404


@pytest.mark.parametrize("url", [f"/therapists/{HUGE}", f"/placements/{2**31}"])
def test_an_id_past_any_record_in_a_page_address_is_404(browser, url):
    assert browser("admin").get(url).status_code == 404


@pytest.mark.parametrize("query", ["limit=%C2%B2", "limit=5000", f"cursor={'OTk5OTk5OTk5OTk5OTk5OTk5OTk'}",
                                   "cursor=garbage"])
def test_a_bad_limit_or_cursor_is_400(api, query):
    response = api("admin").get(f"/api/v1/therapists?{query}")
    assert response.status_code == 400 and response.json["error"]["code"] == "validation_error"


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31", "20261125", "2026-W48-3"])
def test_a_day_outside_the_records_or_not_written_yyyy_mm_dd_is_400(api, as_of):
    response = api("billing").get(f"/api/v1/receivables/aging?as_of={as_of}")
    assert response.status_code == 400 and "as_of" in response.json["error"]["fields"]


@pytest.mark.parametrize("amount", ["1e30", "1e400", "Infinity", "NaN", 1e30])
def test_an_amount_no_money_column_holds_is_400_and_records_nothing(api, amount):
    invoice = factories.invoiced_day(factories.facility())
    response = api("billing").post(f"/api/v1/invoices/{invoice.id}/payments",
                                   json={"amount": amount, "received_on": factories.TODAY.isoformat()})
    assert response.status_code == 400 and "amount" in response.json["error"]["fields"]
    assert api("billing").get(f"/api/v1/invoices/{invoice.id}").json["amount_paid"] == "0.00"


@pytest.mark.parametrize("therapist_id", [int(HUGE), 0, -1])
def test_an_id_in_a_body_that_no_record_could_have_is_400(api, therapist_id):
    place = factories.facility()
    response = api("recruiter").post("/api/v1/placements", json={
        "therapist_id": therapist_id, "facility_id": place.id, "start_on": "2026-12-01"})
    assert response.status_code == 400 and "therapist_id" in response.json["error"]["fields"]


def test_an_assignment_in_the_year_9999_is_refused_and_not_saved(api, browser):
    place = factories.facility()
    response = api("recruiter").post("/api/v1/assignments", json={
        "facility_id": place.id, "title": "Outpatient LCSW", "discipline": "LCSW", "start_on": "9999-12-31",
        "length_weeks": 12, "hours_per_week": 40})
    assert response.status_code == 400 and "start_on" in response.json["error"]["fields"]
    page = browser("recruiter").post("/assignments/new", {
        "facility_id": place.id, "title": "Outpatient LCSW", "discipline": "LCSW", "start_on": "0001-01-01",
        "length_weeks": 12, "hours_per_week": 40, "service_states": "NY"})
    assert page.status_code == 200 and b"The date must be between 1900 and 2199." in page.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assignment)) == 0


@pytest.mark.parametrize("amount", ["Infinity", "1e400"])
def test_a_payment_of_no_real_amount_on_the_page_is_refused_with_the_reason(browser, amount):
    invoice = factories.invoiced_day(factories.facility())
    page = browser("billing").post(f"/invoices/{invoice.id}/payments",
                                   {"amount": amount, "received_on": factories.TODAY.isoformat()},
                                   form_url=f"/invoices/{invoice.id}", follow_redirects=True)
    assert b"Payment not recorded" in page.data and b"Enter a number below 10,000,000,000" in page.data
    db.session.refresh(invoice)
    assert invoice.amount_paid == 0 and invoice.payments == []


def test_text_with_a_nul_character_is_refused_whole(api, browser):
    from agency.credentials.models import Therapist

    response = api("recruiter").post("/api/v1/therapists", json={
        "first_name": "Ana\u0000", "last_name": "Lopez", "email": "ana@example.org", "discipline": "LPC",
        "home_state": "TX"})
    assert response.status_code == 400
    page = browser("recruiter").post("/therapists/new", {
        "first_name": "Ana", "last_name": "Lo\x00pez", "email": "ana@example.org", "discipline": "LPC",
        "home_state": "TX", "status": "active", "availability": "available"}, form_url="/therapists/new")
    assert page.status_code == 400 and b"NUL" in page.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Therapist)) == 0


@pytest.mark.parametrize("url", ["/timesheets/new", "/facilities/{facility}/rate-cards/new"])
def test_a_form_sent_with_nothing_but_its_token_is_refused_beside_its_fields(browser, url):
    place = factories.facility()
    page = browser("billing").post(url.format(facility=place.id), {})
    assert page.status_code == 200 and b'class="error"' in page.data


def test_a_whole_number_of_four_hundred_digits_on_a_page_is_refused_beside_its_field(browser):
    from agency.facilities.models import Facility

    huge = "1" + "0" * 400
    b = browser("admin")
    page = b.post("/facilities/new", {"name": "Bayside PHP", "facility_type": "php", "state": "NJ",
                                      "payment_terms_days": huge})
    assert page.status_code == 200 and b"Enter a whole number below 2,147,483,648." in page.data
    assignment = b.post("/assignments/new", {
        "facility_id": factories.facility().id, "title": "Outpatient LCSW", "discipline": "LCSW",
        "start_on": factories.START.isoformat(), "length_weeks": huge, "hours_per_week": huge,
        "service_states": "NY"})
    assert assignment.status_code == 200 and b"Enter a whole number below 2,147,483,648." in assignment.data
    named = sa.select(sa.func.count()).select_from(Facility).where(Facility.name == "Bayside PHP")
    assert db.session.scalar(named) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assignment)) == 0
