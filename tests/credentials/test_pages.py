"""Credentialing in the browser: forms save through the services, refuse bad input beside the field."""

import io
from datetime import date

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.credentials.models import CERule, Document, License, Therapist
from agency.extensions import db
from tests import factories
from tests.factories import files

PDF = files.pdf()


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_recruiter_adds_a_therapist_and_sees_the_profile(browser):
    b = browser("recruiter")
    response = b.post("/therapists/new", {
        "first_name": "Ana", "last_name": "Lopez", "email": "ana.lopez@example.org",
        "discipline": "LPC", "npi": "1234567893", "home_state": "TX", "status": "active",
        "availability": "available", "specialties": "trauma, adolescents",
    })
    assert response.status_code == 302
    person = db.session.scalar(sa.select(Therapist))
    assert person.specialties == ["trauma", "adolescents"]
    page = b.get(response.headers["Location"])
    assert b"Ana Lopez" in page.data and b"trauma, adolescents" in page.data


def test_a_bad_npi_is_shown_beside_its_field_and_nothing_is_saved(browser):
    b = browser("recruiter")
    response = b.post("/therapists/new", {
        "first_name": "Ana", "last_name": "Lopez", "email": "ana@example.org",
        "discipline": "LPC", "npi": "1234567890", "home_state": "TX", "status": "active",
        "availability": "available",
    })
    assert response.status_code == 200
    assert b"not a valid NPI" in response.data
    assert count(Therapist) == 0


def test_a_form_without_its_csrf_token_is_refused(browser):
    b = browser("recruiter")
    response = b.client.post("/therapists/new", data={"first_name": "Ana"})
    assert response.status_code == 400
    assert count(Therapist) == 0


def test_credentialing_adds_a_license_and_a_duplicate_is_refused(browser):
    person = factories.therapist()
    b = browser("credentialing")
    data = {"state": "NY", "license_type": "LCSW", "number": "R-100", "kind": "state_license",
            "home_license_id": "", "issued_on": "2025-01-01", "expires_on": "2027-01-01"}
    url = f"/therapists/{person.id}/licenses/new"
    assert b.post(url, data).status_code == 302
    again = b.post(url, data)
    assert again.status_code == 200 and b"already on file" in again.data
    assert count(License) == 1


def test_verifying_a_license_records_who_and_where(browser, users):
    lic = factories.license(factories.therapist())
    b = browser("credentialing")
    response = b.post(f"/licenses/{lic.id}/verify",
                      {"verified_on": "2026-11-20", "verification_source": "NY OP online lookup"})
    assert response.status_code == 302
    db.session.refresh(lic)
    assert lic.verified_on == date(2026, 11, 20)
    assert lic.verified_by_id == users["credentialing"].id


def test_uploading_a_document_stores_it_and_every_download_is_audited(browser):
    person = factories.therapist()
    b = browser("credentialing")
    url = f"/therapists/{person.id}/documents/new"
    response = b.post(url, {"doc_type": "bls_card", "file": (io.BytesIO(PDF), "bls.pdf"),
                            "expires_on": "2027-06-01"}, content_type="multipart/form-data")
    assert response.status_code == 302
    doc = db.session.scalar(sa.select(Document))
    download = b.get(f"/documents/{doc.id}/file")
    assert download.status_code == 200 and download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"]
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_type == "document")).all()
    assert actions == ["create", "download"]


def test_a_text_file_named_pdf_is_refused_beside_the_file_field(browser, app):
    person = factories.therapist()
    b = browser("credentialing")
    response = b.post(f"/therapists/{person.id}/documents/new",
                      {"doc_type": "bls_card", "file": (io.BytesIO(b"hello"), "bls.pdf")},
                      form_url=f"/therapists/{person.id}/documents/new",
                      content_type="multipart/form-data")
    assert response.status_code == 200 and b"must be a PDF, PNG or JPEG" in response.data
    assert count(Document) == 0


RULE = {"state": "NY", "license_type": "LCSW", "hours_required": "36", "cycle_months": "36", "topics-shown": "1",
        "source": "NYSED Office of the Professions", "checked_on": "2026-11-02"}


def _rows(*pairs):
    return {key: value for i, (topic, hours) in enumerate(pairs)
            for key, value in ((f"topics-{i}-topic", topic), (f"topics-{i}-hours", hours))}


def test_the_ce_rule_form_shows_one_row_per_topic_and_blank_rows_to_add_more(browser):
    rule = factories.ce_rule(topics={"ethics": "3", "implicit_bias": "2"})
    page = browser("admin").get(f"/ce-rules/{rule.id}/edit").data.decode()
    assert page.count("<tr data-topic-row>") == 2 + 3  # two topics and three blank rows
    assert '<option selected value="ethics">' in page and 'name="topics-1-hours"' in page
    assert 'value="2.00"' in page and "implicit_bias: 2" not in page


def test_an_admin_edits_the_ce_rule_topics_as_rows(browser):
    rule = factories.ce_rule(topics={"ethics": "3"})
    b = browser("admin")
    response = b.post(f"/ce-rules/{rule.id}/edit", {
        **RULE, **_rows(("ethics", "4"), ("", ""), ("implicit_bias", "2"), ("", ""))})
    assert response.status_code == 302
    db.session.expire_all()
    rule = db.session.get(CERule, rule.id)
    assert {t.topic: str(t.hours) for t in rule.topics} == {"ethics": "4.00", "implicit_bias": "2.00"}


def test_removing_every_topic_row_clears_the_topics(browser):
    rule = factories.ce_rule(topics={"ethics": "3"})
    assert browser("admin").post(f"/ce-rules/{rule.id}/edit", RULE).status_code == 302
    db.session.expire_all()
    assert db.session.get(CERule, rule.id).topics == []


@pytest.mark.parametrize("rows, message", [
    ((("ethics", "3"), ("ethics", "1")), "Row 2: ethics is listed twice; keep one row."),
    ((("ethics", "0"),), "Row 1: hours must be a positive number, at most 2 decimals."),
    ((("ethics", "-2"),), "Row 1: hours must be a positive number, at most 2 decimals."),
    ((("ethics", "1.255"),), "Row 1: hours must be a positive number, at most 2 decimals."),
    ((("ethics", "three"),), "Not a valid decimal value."),
    ((("", "2"),), "Row 1: choose the topic these hours are for."),
    ((("implicit_bias", ""),), "Row 1: give the hours implicit bias needs."),
    ((("astrology", "2"),), "Not a valid choice."),
])
def test_a_bad_topic_row_is_refused_beside_it_and_nothing_changes(browser, rows, message):
    rule = factories.ce_rule(topics={"ethics": "3"})
    response = browser("admin").post(f"/ce-rules/{rule.id}/edit", {**RULE, **_rows(*rows)})
    page = response.data.decode()
    assert response.status_code == 200 and message in page and "Fix the topic rows marked below." in page
    db.session.expire_all()
    assert {t.topic: str(t.hours) for t in db.session.get(CERule, rule.id).topics} == {"ethics": "3.00"}


def test_a_form_sent_without_its_list_boxes_keeps_the_lists(browser):
    rule = factories.ce_rule(topics={"ethics": "3"})
    person = factories.therapist(specialties=["trauma"])
    b = browser("admin")
    assert b'value="trauma"' in b.get(f"/therapists/{person.id}/edit").data
    response = b.post(f"/ce-rules/{rule.id}/edit", {
        "state": "NY", "license_type": "LCSW", "hours_required": "36", "cycle_months": "36",
        "source": RULE["source"], "checked_on": RULE["checked_on"]})
    assert response.status_code == 302
    response = b.post(f"/therapists/{person.id}/edit", {
        "first_name": person.first_name, "last_name": person.last_name, "email": person.email,
        "discipline": person.discipline, "npi": person.npi, "home_state": person.home_state,
        "status": "active", "availability": "available"})
    assert response.status_code == 302, response.data
    db.session.expire_all()
    assert {t.topic: str(t.hours) for t in db.session.get(CERule, rule.id).topics} == {"ethics": "3.00"}
    assert db.session.get(Therapist, person.id).specialties == ["trauma"]


def test_topic_hours_beyond_the_cycle_total_are_refused(browser):
    b = browser("admin")
    response = b.post("/ce-rules/new", {
        **RULE, "state": "TX", "license_type": "LPC", "hours_required": "4", "cycle_months": "24",
        **_rows(("ethics", "3"), ("suicide_prevention", "2")),
    })
    assert response.status_code == 200 and b"exceed" in response.data
    assert count(CERule) == 0


def test_the_worklist_shows_an_expiring_license_and_filters_by_kind(browser):
    person = factories.therapist(first_name="Mia")
    factories.license(person, expires_on=factories.days_from_today(20))
    b = browser("credentialing")
    page = b.get("/worklist")
    assert b"Mia" in page.data and b"License expiring" in page.data
    filtered = b.get("/worklist?kind=caqh_due")
    assert b"Mia" not in filtered.data


def test_every_list_page_renders_with_data(browser):
    person = factories.therapist()
    factories.license(person)
    factories.ce_record(person)
    factories.panel(person)
    b = browser("admin")
    for url in ("/", "/worklist", "/therapists", "/therapists?q=dana&status=active",
                f"/therapists/{person.id}", f"/therapists/{person.id}/edit", "/licenses",
                "/licenses?status=active", "/ce-rules", "/outbox", "/admin/audit", "/account"):
        response = b.get(url, follow_redirects=True)
        assert response.status_code == 200, url
