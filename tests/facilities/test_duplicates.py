"""A facility or contact that exists is a 409 naming the field and the record, on the pages and the API."""

import sqlalchemy as sa

from agency.extensions import db
from agency.facilities.models import Facility, FacilityContact

RIVERSIDE = "Riverside Community Mental Health Center"  # the users fixture's clinic
CLINIC = {"name": RIVERSIDE, "facility_type": "cmhc", "state": "NY", "payment_terms_days": 30}
CONTACT = {"role": "billing", "name": "Ana Ruiz", "email": "ap@riverside.example.org"}


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_facility_whose_name_exists_is_a_409_naming_the_facility(api, users):
    response = api("recruiter").post("/api/v1/facilities", json=CLINIC)
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert error["code"] == "conflict" and list(error["fields"]) == ["name"]
    assert error["message"] == (f"name: a facility named '{RIVERSIDE}' exists "
                                f"(id {users['facility'].facility_id})")
    assert count(Facility) == 1


def test_a_name_outside_ascii_given_twice_is_a_409_on_every_database(api, users):
    caller = api("recruiter")
    first = caller.post("/api/v1/facilities", json={**CLINIC, "name": "Évry Clinique Émile"})
    again = caller.post("/api/v1/facilities", json={**CLINIC, "name": "Évry Clinique Émile"})
    assert first.status_code == 201 and again.status_code == 409
    assert f"(id {first.json['id']})" in again.json["error"]["fields"]["name"][0]


def test_the_facility_page_shows_an_existing_name_beside_the_field(browser, users):
    b = browser("recruiter")
    page = b.post("/facilities/new", {**CLINIC, "facility_type": "cmhc", "invoice_schedule": "monthly",
                                      "statement_schedule": "monthly",
                                      "funding": "medicaid"})
    assert page.status_code == 200
    assert f"a facility named &#39;{RIVERSIDE}&#39; exists (id {users['facility'].facility_id})".encode() in page.data
    assert count(Facility) == 1


def test_a_contact_that_exists_is_a_409_whatever_the_case_of_its_email(api, users):
    caller = api("recruiter")
    url = f"/api/v1/facilities/{users['facility'].facility_id}/contacts"
    first = caller.post(url, json=CONTACT)
    again = caller.post(url, json={**CONTACT, "email": "AP@Riverside.Example.org"})
    assert first.status_code == 201 and again.status_code == 409, again.json
    assert again.json["error"]["fields"] == {
        "email": [f"ap@riverside.example.org is already this facility's billing contact (id {first.json['id']})"]}
    assert count(FacilityContact) == 1


def test_the_facility_page_says_why_a_contact_that_exists_is_not_added(browser, users):
    b = browser("recruiter")
    facility_url = f"/facilities/{users['facility'].facility_id}"
    first = b.post(f"{facility_url}/contacts", CONTACT, form_url=facility_url)
    again = b.post(f"{facility_url}/contacts", {**CONTACT, "email": "Ap@Riverside.example.org"},
                   form_url=facility_url, follow_redirects=True)
    assert first.status_code == 302 and again.status_code == 200
    assert b"is already this facility&#39;s billing contact (id" in again.data
    assert count(FacilityContact) == 1
