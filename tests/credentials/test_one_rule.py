"""One rule in one function: an email, a license number and a line of text are judged alike on every path.

The paths are the page form, the JSON API, the roster CSV and the command line.
"""

import io

import pytest
import sqlalchemy as sa

from agency.core.errors import DomainError
from agency.credentials import services
from agency.credentials.models import License, Therapist
from agency.credentials.roster import import_roster
from agency.extensions import db
from tests import factories
from tests.conftest import PASSWORD

HEADER = ("first_name,last_name,email,phone,discipline,npi,home_state,caqh_id,caqh_attested_on,"
          "license_state,license_type,license_number,license_kind,license_issued_on,license_expires_on\n")
PERSON = {"first_name": "Dana", "last_name": "Rivera", "email": "Dana.Rivera@Example.org",
          "discipline": "LCSW", "home_state": "NY"}
PAGE_EXTRAS = {"status": "active", "availability": "available"}


def roster_row(first_name="Dana", last="Rivera", email="dana.rivera@example.org", npi="", license_number=""):
    license = f"NY,LCSW,{license_number},,2025-01-01,2027-12-31" if license_number else ",,,,,"
    return f"{first_name},{last},{email},,LCSW,{npi},NY,,,{license}\n"


def roster_errors(*rows: str) -> list[tuple[int, str]]:
    return import_roster(HEADER + "".join(rows), dry_run=True).errors


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def refusal(call) -> str:
    with pytest.raises(DomainError) as refused:
        call()
    db.session.rollback()
    return refused.value.message


# ----------------------------------------------------------------------------- email


def test_a_therapist_email_differing_only_in_case_is_a_duplicate_on_every_path(browser, api, app):
    page = browser("recruiter").post("/therapists/new", {**PERSON, **PAGE_EXTRAS})
    assert page.status_code == 302
    dana = db.session.scalar(sa.select(Therapist))
    assert dana.email == "dana.rivera@example.org"
    says = f"email: a therapist with email dana.rivera@example.org exists (id {dana.id})"

    again = browser("recruiter").post("/therapists/new", {**PERSON, **PAGE_EXTRAS, "email": "DANA.RIVERA@example.org"})
    assert again.status_code == 200 and says.removeprefix("email: ").encode() in again.data
    through_api = api("recruiter").post("/api/v1/therapists", json={**PERSON, "email": "dana.rivera@EXAMPLE.ORG"})
    assert through_api.status_code == 409 and through_api.json["error"]["message"] == says
    assert roster_errors(roster_row(email="Dana.RIVERA@example.org")) == [(2, says)]
    assert refusal(lambda: services.create_therapist({**PERSON, "email": "dana.Rivera@example.org"})) == says
    assert count(Therapist) == 1


def test_a_user_email_differing_only_in_case_is_a_duplicate_on_the_command_line_and_the_page(app, browser, users):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "Casey.Kim@Staff.example.org", "--role", "billing",
                               "--password", PASSWORD])
    assert made.exit_code == 0 and "casey.kim@staff.example.org" in made.output
    again = runner.invoke(args=["users", "create", "casey.kim@staff.EXAMPLE.org", "--role", "billing",
                                "--password", PASSWORD])
    assert again.exit_code != 0
    assert "email: a user with email casey.kim@staff.example.org exists (id" in again.output
    page = browser("admin").post("/admin/users", {"email": "CASEY.KIM@staff.example.org", "role": "billing",
                                                  "password": PASSWORD})
    assert page.status_code == 200 and b"a user with email casey.kim@staff.example.org exists" in page.data


@pytest.mark.parametrize("address", ["a b@@c", "dana@localhost", "dana@example..org", "dana@exam_ple.org",
                                     "dana@example.org\r\nBcc: x@example.org"])
def test_an_address_email_validator_refuses_is_refused_on_every_path(browser, api, app, address):
    message = refusal(lambda: services.create_therapist({**PERSON, "email": address}))
    assert message.startswith("email: ")
    through_api = api("recruiter").post("/api/v1/therapists", json={**PERSON, "email": address})
    assert through_api.status_code == 400 and list(through_api.json["error"]["fields"]) == ["email"]
    page = browser("recruiter").post("/therapists/new", {**PERSON, **PAGE_EXTRAS, "email": address})
    assert page.status_code == 200 and count(Therapist) == 0
    if "\n" not in address:  # a CSV cell cannot hold a line break unquoted
        assert roster_errors(roster_row(email=address)) == [(2, message)]
    made = app.test_cli_runner().invoke(args=["users", "create", address, "--role", "billing",
                                              "--password", PASSWORD])
    assert made.exit_code != 0 and "email: " in made.output
    assert count(Therapist) == 0


def test_the_api_keeps_the_address_in_the_form_the_service_does(api):
    made = api("recruiter").post("/api/v1/therapists", json={**PERSON, "email": "  Dana.Rivera@EXAMPLE.org "})
    assert made.status_code == 201 and made.json["email"] == "dana.rivera@example.org"
    facility = api("recruiter").post("/api/v1/facilities", json={
        "name": "Bayside", "facility_type": "php", "state": "NJ", "payment_terms_days": 30,
        "billing_email": "AP@Bayside.Example.org"})
    assert facility.status_code == 201 and facility.json["billing_email"] == "ap@bayside.example.org"


# ----------------------------------------------------------------------------- licenses


def test_roster_import_refuses_what_the_service_refuses(app):
    dana = factories.therapist(email="dana.rivera@example.org", npi=factories.npi(7))
    on_file = factories.license(dana, number="LC-77AB")
    cases = [
        ({"email": "a b@@c"}, lambda: services.create_therapist({**PERSON, "email": "a b@@c"}), ""),
        ({"npi": "1234567890"}, lambda: services.create_therapist({**PERSON, "npi": "1234567890"}), ""),
        ({"npi": dana.npi}, lambda: services.create_therapist({**PERSON, "email": "x@example.org",
                                                                "npi": dana.npi}), ""),
        ({"first_name": "Da\x0bna"}, lambda: services.create_therapist({**PERSON, "first_name": "Da\x0bna"}), ""),
        ({"license_number": "lc-77ab"}, lambda: services.add_license(dana, {
            "state": "NY", "license_type": "LCSW", "number": "lc-77ab",
            "issued_on": on_file.issued_on, "expires_on": on_file.expires_on}), "license_"),
    ]
    for cells, service_call, column_prefix in cases:
        row = roster_row(**{"email": "new.person@example.org", **cells})
        says = refusal(service_call)
        assert roster_errors(row) == [(2, column_prefix + says)], (cells, says)
    assert count(Therapist) == 1 and count(License) == 1


def test_a_license_number_differing_only_in_case_is_on_file_for_the_api_the_page_and_the_roster(api, browser):
    dana = factories.therapist()
    on_file = factories.license(dana, number="AB-100")
    says = f"number: a NY LCSW license number ab-100 is already on file (id {on_file.id})"
    body = {"state": "NY", "license_type": "LCSW", "number": "ab-100", "issued_on": "2025-01-01",
            "expires_on": "2027-01-01"}
    through_api = api("credentialing").post(f"/api/v1/therapists/{dana.id}/licenses", json=body)
    assert through_api.status_code == 409 and through_api.json["error"]["message"] == says
    url = f"/therapists/{dana.id}/licenses/new"
    page = browser("credentialing").post(url, {**body, "kind": "state_license", "home_license_id": ""})
    assert page.status_code == 200 and b"is already on file (id" in page.data
    assert roster_errors(roster_row(email="new@example.org", license_number="ab-100")) == [(2, "license_" + says)]
    assert count(License) == 1


def test_the_same_license_twice_in_one_roster_is_refused_at_its_second_line():
    rows = [roster_row(email="a@example.org", license_number="NY-1"),
            roster_row(first_name="Bo", email="b@example.org", license_number="ny-1")]
    errors = roster_errors(*rows)
    assert [line for line, _ in errors] == [3]
    assert errors[0][1].startswith("license_number: a NY LCSW license number ny-1 is already on file")
    assert count(Therapist) == 0


# ----------------------------------------------------------------------------- one line of text


def test_control_characters_in_a_name_are_refused(browser, api, app):
    for name in ("Dana\rRivera", "Dana\nRivera", "Dana\tRivera", "Dana\x1b[31m", "Dana\x7f", "Dana\u2028Rivera",
                 "Dana\x85Rivera"):
        says = refusal(lambda name=name: services.create_therapist({**PERSON, "first_name": name}))
        assert says == "first_name: must be one line, without line breaks, tabs or other control characters"
        through_api = api("recruiter").post("/api/v1/therapists", json={**PERSON, "first_name": name})
        assert through_api.status_code == 400 and list(through_api.json["error"]["fields"]) == ["first_name"]
        page = browser("recruiter").post("/therapists/new", {**PERSON, **PAGE_EXTRAS, "first_name": name})
        assert page.status_code == 200 and b"Must be one line" in page.data
        if "\n" not in name and "\r" not in name:
            assert roster_errors(roster_row(first_name=name)) == [(2, says)]
        facility = api("recruiter").post("/api/v1/facilities", json={
            "name": f"Bayside {name}", "facility_type": "php", "state": "NJ", "payment_terms_days": 30})
        assert facility.status_code == 400 and list(facility.json["error"]["fields"]) == ["name"]
        made = app.test_cli_runner().invoke(args=["users", "create", "new.user@example.org", "--role", "billing",
                                                  "--password", PASSWORD, "--name", name])
        assert made.exit_code != 0 and "name: must be one line" in made.output
    assert count(Therapist) == 0


def test_a_quoted_line_break_in_a_roster_name_is_refused():
    assert roster_errors('"Dana\r\nRivera",Rivera,d@example.org,,LCSW,,NY,,,,,,,,\n') == [
        (2, "first_name: must be one line, without line breaks, tabs or other control characters")]


def test_notes_keep_their_line_breaks_and_tabs(api):
    made = api("recruiter").post("/api/v1/therapists", json={
        **PERSON, "notes": "Prefers mornings.\r\n\tAsk about the Bronx site."})
    assert made.status_code == 201
    assert db.session.get(Therapist, made.json["id"]).notes == "Prefers mornings.\r\n\tAsk about the Bronx site."
    refused = api("recruiter").post("/api/v1/therapists", json={**PERSON, "email": "x@example.org",
                                                                "notes": "a bell \x07 rings"})
    assert refused.status_code == 400 and list(refused.json["error"]["fields"]) == ["notes"]


def test_the_roster_page_reports_what_the_service_refuses(browser):
    text = HEADER + roster_row(email="a b@@c")
    page = browser("recruiter").post("/therapists/import", {"file": (io.BytesIO(text.encode()), "roster.csv"),
                                                            "dry_run": "y"}, content_type="multipart/form-data")
    assert page.status_code == 200 and b"invalid characters before the @-sign" in page.data


def test_the_roster_command_refuses_a_file_that_is_not_utf8_text_or_holds_nul(app):
    runner = app.test_cli_runner()
    latin1 = runner.invoke(args=["credentials", "import-roster", "-"], input=(HEADER + roster_row(
        first_name="José")).encode("latin-1"))
    assert latin1.exit_code == 1 and "line 1: the file is not UTF-8 text" in latin1.output
    nul = runner.invoke(args=["credentials", "import-roster", "-"], input=HEADER + roster_row(first_name="Da\x00na"))
    assert nul.exit_code == 1 and "line 2: holds a NUL character" in nul.output
