"""The credentials API: the same rules as the pages, in the JSON shapes API.md fixes."""

import io
from datetime import date

import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.credentials.models import Document, License, Therapist
from agency.extensions import db
from tests import factories
from tests.factories import files

PDF = files.pdf()
NEW = {"first_name": "Ana", "last_name": "Lopez", "email": "ana@example.org", "discipline": "LPC",
       "npi": "1234567893", "home_state": "TX"}


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_no_token_a_bad_token_or_a_revoked_one_is_401(client, api, users):
    from agency.auth.models import ApiToken
    from agency.auth.services import revoke_token

    assert client.get("/api/v1/therapists").status_code == 401
    assert client.get("/api/v1/therapists", headers={"Authorization": "Bearer nope"}).status_code == 401
    caller = api("credentialing")
    assert caller.get("/api/v1/therapists").status_code == 200
    revoke_token(db.session.scalar(sa.select(ApiToken.id)), users["admin"])
    response = caller.get("/api/v1/therapists")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_a_facility_contact_token_may_not_read_therapists(api):
    assert api("facility").get("/api/v1/therapists").status_code == 403


def test_create_read_page_and_patch_a_therapist(api):
    caller = api("recruiter")
    response = caller.post("/api/v1/therapists", json=NEW)
    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/api/v1/therapists/{response.json['id']}")
    for _ in range(3):
        factories.therapist()
    first = caller.get("/api/v1/therapists?limit=2").json
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = caller.get(f"/api/v1/therapists?limit=2&cursor={first['next_cursor']}").json
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    patched = caller.patch(f"/api/v1/therapists/{response.json['id']}",
                           json={"caqh_attested_on": "2026-10-01", "status": "do_not_place"})
    assert patched.json["caqh_attestation_due_on"] == "2027-01-29" and patched.json["status"] == "do_not_place"


def test_an_invalid_npi_or_state_is_400_and_saves_nothing(api):
    caller = api("recruiter")
    bad_npi = caller.post("/api/v1/therapists", json={**NEW, "npi": "1234567890"})
    assert bad_npi.status_code == 400 and "npi" in bad_npi.json["error"]["fields"]
    bad_state = caller.post("/api/v1/therapists", json={**NEW, "home_state": "XX", "discipline": "NURSE"})
    assert set(bad_state.json["error"]["fields"]) == {"home_state", "discipline"}
    not_json = caller.post("/api/v1/therapists", data="x", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 400
    assert count(Therapist) == 0


def test_licenses_duplicate_is_409_and_dates_must_follow(api):
    person = factories.therapist()
    caller = api("credentialing")
    body = {"state": "NY", "license_type": "LCSW", "number": "R1", "issued_on": "2025-01-01",
            "expires_on": "2028-01-01"}
    first = caller.post(f"/api/v1/therapists/{person.id}/licenses", json=body)
    assert first.status_code == 201 and first.json["status"] == "active"
    assert caller.post(f"/api/v1/therapists/{person.id}/licenses", json=body).status_code == 409
    backwards = caller.post(f"/api/v1/therapists/{person.id}/licenses",
                            json={**body, "number": "R2", "expires_on": "2024-01-01"})
    assert backwards.status_code == 400 and backwards.json["error"]["fields"]["expires_on"]
    assert count(License) == 1


def test_a_compact_privilege_rests_on_the_home_license_and_lapses_with_it(api):
    person = factories.therapist(discipline="PSYCHOLOGIST")
    home = factories.license(person, state="NY", license_type="PSYCHOLOGIST", expires_on=date(2026, 12, 20))
    caller = api("credentialing")
    body = {"state": "PA", "license_type": "PSYCHOLOGIST", "number": "APIT-1", "kind": "compact_privilege",
            "issued_on": "2025-06-01", "expires_on": "2028-01-01"}
    assert caller.post(f"/api/v1/therapists/{person.id}/licenses", json=body).status_code == 400
    made = caller.post(f"/api/v1/therapists/{person.id}/licenses", json={**body, "home_license_id": home.id})
    assert made.json["effective_expires_on"] == "2026-12-20" and made.json["status"] == "expiring"
    # The status filter judges the privilege by the home license it rests on, as the page does.
    listed = caller.get(f"/api/v1/therapists/{person.id}/licenses?status=expiring").json["items"]
    assert {item["state"] for item in listed} == {"NY", "PA"}
    assert caller.get(f"/api/v1/therapists/{person.id}/licenses?status=active").json["items"] == []
    # While a privilege rests on it, the home license keeps its state, profession and kind.
    for change in ({"state": "NJ"}, {"kind": "temporary"}, {"license_type": "LCSW"}):
        assert caller.patch(f"/api/v1/licenses/{home.id}", json=change).status_code == 409, change
    assert caller.patch(f"/api/v1/licenses/{home.id}", json={"expires_on": "2028-12-31"}).status_code == 200


def test_a_compact_privilege_needs_a_current_home_state_license_of_its_own_profession(api):
    person = factories.therapist(discipline="PSYCHOLOGIST", home_state="NY")
    elsewhere = factories.license(person, state="TX", license_type="PSYCHOLOGIST")
    social_work = factories.license(person, state="NY", license_type="LCSW")
    lapsed = factories.license(person, state="NY", license_type="PSYCHOLOGIST", issued_on=date(2022, 1, 1),
                               expires_on=date(2026, 11, 20))
    caller = api("credentialing")
    body = {"state": "CO", "license_type": "PSYCHOLOGIST", "number": "CO-P1", "kind": "compact_privilege",
            "issued_on": "2025-06-01", "expires_on": "2028-01-01"}
    for home, field in ((elsewhere, "home_license_id"), (social_work, "license_type"), (lapsed, "home_license_id")):
        refused = caller.post(f"/api/v1/therapists/{person.id}/licenses", json={**body, "home_license_id": home.id})
        assert refused.status_code == 400 and field in refused.json["error"]["fields"], refused.json
    assert count(License) == 3


def test_a_license_number_is_a_duplicate_whatever_its_case(api):
    person = factories.therapist()
    factories.license(person, state="TX", license_type="LCSW", number="AUD-1")
    response = api("credentialing").post(f"/api/v1/therapists/{person.id}/licenses", json={
        "state": "TX", "license_type": "LCSW", "number": "aud-1", "issued_on": "2025-01-01",
        "expires_on": "2028-01-01"})
    assert response.status_code == 409


def test_an_npi_is_ten_ascii_digits(api):
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in factories.npi())
    response = api("recruiter").post("/api/v1/therapists", json={**NEW, "npi": fullwidth})
    assert response.status_code == 400 and "npi" in response.json["error"]["fields"]


def test_ce_hours_accept_numbers_and_strings_and_come_back_as_strings(api):
    person = factories.therapist()
    caller = api("credentialing")
    for hours in (3, "1.5"):
        response = caller.post(f"/api/v1/therapists/{person.id}/ceus", json={
            "title": "Ethics", "provider": "NASW", "hours": hours, "topic": "ethics",
            "completed_on": "2026-05-01"})
        assert response.status_code == 201, response.json
    assert [r["hours"] for r in caller.get(f"/api/v1/therapists/{person.id}/ceus").json["items"]] == [
        "3.00", "1.50"]
    assert caller.post(f"/api/v1/therapists/{person.id}/ceus", json={
        "title": "X", "provider": "Y", "hours": "abc", "completed_on": "2026-05-01"}).status_code == 400


def test_panels_need_their_dates_and_a_payer_once(api):
    person = factories.therapist()
    caller = api("credentialing")
    approved = {"payer": "Aetna", "status": "approved", "submitted_on": "2026-03-01"}
    assert caller.post(f"/api/v1/therapists/{person.id}/panels", json=approved).status_code == 400
    made = caller.post(f"/api/v1/therapists/{person.id}/panels", json={**approved, "effective_on": "2026-06-01"})
    assert made.status_code == 201
    assert caller.post(f"/api/v1/therapists/{person.id}/panels",
                       json={"payer": "Aetna"}).status_code == 409


def test_upload_checks_content_and_every_download_is_audited(api, app):
    person = factories.therapist()
    caller = api("credentialing")
    url = f"/api/v1/therapists/{person.id}/documents"
    made = caller.post(url, data={"doc_type": "bls_card", "expires_on": "2027-01-01",
                                  "file": (io.BytesIO(PDF), "card.pdf")}, content_type="multipart/form-data")
    assert made.status_code == 201 and made.json["size"] == len(PDF)
    fake = caller.post(url, data={"doc_type": "bls_card", "file": (io.BytesIO(b"not a pdf"), "x.pdf")},
                       content_type="multipart/form-data")
    assert fake.status_code == 400 and "file" in fake.json["error"]["fields"]
    saved = app.config["MAX_UPLOAD_BYTES"]
    app.config["MAX_UPLOAD_BYTES"] = 20
    try:
        big = caller.post(url, data={"doc_type": "bls_card", "file": (io.BytesIO(PDF), "big.pdf")},
                          content_type="multipart/form-data")
    finally:
        app.config["MAX_UPLOAD_BYTES"] = saved
    assert big.status_code == 400
    assert count(Document) == 1
    download = caller.get(f"/api/v1/documents/{made.json['id']}/file")
    assert download.data == PDF
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "download")) == "download"
    assert api("billing").get(f"/api/v1/documents/{made.json['id']}/file").status_code == 403


def test_unknown_ids_are_404_in_the_error_shape(api):
    response = api("credentialing").get("/api/v1/licenses/999")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
