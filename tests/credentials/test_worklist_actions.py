"""The worklist narrowed to what one person works on, and each row cleared from the row itself."""

import csv
import io
import re
from datetime import timedelta
from html import unescape

import sqlalchemy as sa

from agency.credentials.models import Document, License, PanelEnrollment, Therapist
from agency.extensions import db
from tests import factories
from tests.factories import TODAY, files


def _rows(page) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-kind="[^"]+">.*?</tr>', page.data.decode(), re.S)


def _action(page, label) -> str:
    """The href (or form action) of the row action with this label, unescaped."""
    html = page.data.decode()
    match = (re.search(rf'<a class="button" href="([^"]+)">{label}</a>', html)
             or re.search(rf'<form method="post" action="([^"]+)" class="inline">\s*<input[^>]*>\s*'
                          rf'<button type="submit" class="">{label}</button>', html))
    assert match, f"no {label} action on the page"
    return unescape(match.group(1))


def test_the_worklist_narrows_to_a_therapist_by_name_or_npi(browser):
    mia = factories.therapist(first_name="Mia", last_name="Okafor", npi="1234567893")
    factories.license(mia, expires_on=TODAY + timedelta(days=20))
    other = factories.therapist(first_name="Ben", last_name="Shah")
    factories.license(other, expires_on=TODAY + timedelta(days=21))
    b = browser("credentialing")
    for q in ("mia okafor", "Okafor, Mia", "1234567893", "oka"):
        page = b.get(f"/worklist?q={q}")
        assert len(_rows(page)) == 1 and "Mia Okafor" in page.data.decode(), q
    assert b"<strong>0</strong> items" in b.get("/worklist?q=nobody").data


def test_the_due_window_picks_the_urgency_band(browser):
    person = factories.therapist()
    overdue = factories.license(person, expires_on=TODAY - timedelta(days=3))
    soon = factories.license(person, state="NJ", expires_on=TODAY + timedelta(days=5))
    month = factories.license(person, state="CT", expires_on=TODAY + timedelta(days=25))
    b = browser("credentialing")
    for window, expected in (("overdue", overdue), ("within_7", soon), ("within_30", month)):
        page = b.get(f"/worklist?window={window}").data.decode()
        assert f"/licenses/{expected.id}/renew" in page, window
        assert len(re.findall(r"/licenses/[0-9]+/renew", page)) == 1, window


def test_the_csv_export_keeps_the_filters(browser):
    mia = factories.therapist(first_name="Mia", last_name="Okafor")
    factories.license(mia, expires_on=TODAY + timedelta(days=20))
    factories.license(factories.therapist(first_name="Ben"), expires_on=TODAY + timedelta(days=21))
    response = browser("credentialing").get("/worklist?q=mia&window=within_30&format=csv")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["therapist"] for r in rows] == ["Mia Okafor"]


def test_a_renewal_is_one_form_that_returns_to_the_worklist_and_clears_the_item(browser):
    person = factories.therapist(first_name="Mia")
    lic = factories.license(person, number="LC777", expires_on=TODAY + timedelta(days=20))
    b = browser("credentialing")
    listed = b.get("/worklist?kind=license_expiring&state=NY")
    link = _action(listed, "Renew")
    assert link.startswith(f"/licenses/{lic.id}/renew?next=/worklist?")
    form = b.get(link)
    assert form.status_code == 200 and b'value="LC777"' in form.data
    response = b.post(link, {
        "number": "LC777", "issued_on": (TODAY - timedelta(days=1)).isoformat(),
        "expires_on": (TODAY + timedelta(days=730)).isoformat(), "verified_on": TODAY.isoformat(),
        "verification_source": "NY Office of the Professions lookup",
        "file": (io.BytesIO(files.pdf()), "renewed.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    assert response.headers["Location"] == "/worklist?kind=license_expiring&state=NY"
    db.session.expire_all()
    renewed = db.session.get(License, lic.id)
    assert renewed.expires_on == TODAY + timedelta(days=730) and renewed.verified_on == TODAY
    copy = db.session.scalar(sa.select(Document).where(Document.owner_id == person.id))
    assert copy.doc_type == "license_copy" and copy.expires_on == renewed.expires_on
    assert b"Nothing due" in b.get("/worklist?kind=license_expiring&state=NY").data


def test_a_renewal_that_does_not_extend_the_license_changes_nothing_and_keeps_no_file(browser):
    lic = factories.license(factories.therapist(), expires_on=TODAY + timedelta(days=20))
    b = browser("credentialing")
    response = b.post(f"/licenses/{lic.id}/renew?next=/worklist", {
        "number": lic.number, "issued_on": TODAY.isoformat(), "expires_on": (TODAY + timedelta(days=10)).isoformat(),
        "verified_on": TODAY.isoformat(), "verification_source": "board lookup",
        "file": (io.BytesIO(files.pdf()), "renewed.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 200 and b"a renewal runs past the current expiry" in response.data
    db.session.expire_all()
    assert db.session.get(License, lic.id).expires_on == TODAY + timedelta(days=20)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 0


def test_a_caqh_attestation_is_one_click_on_the_row(browser):
    person = factories.therapist(caqh_id="12345", caqh_attested_on=TODAY - timedelta(days=115))
    b = browser("credentialing")
    listed = b.get("/worklist?kind=caqh_due")
    action = _action(listed, "Attested today")
    assert action.startswith(f"/therapists/{person.id}/caqh-attested?next=")
    response = b.post(action, {}, form_url="/worklist?kind=caqh_due")
    assert response.status_code == 302 and response.headers["Location"].startswith("/worklist?kind")
    assert db.session.get(Therapist, person.id).caqh_attested_on == TODAY
    assert b"Nothing due" in b.get("/worklist?kind=caqh_due").data


def test_an_expiring_document_opens_the_upload_with_its_type_chosen_and_the_new_one_clears_it(browser):
    person = factories.therapist()
    factories.document(person, "bls_card", expires_on=TODAY + timedelta(days=5))
    b = browser("credentialing")
    link = _action(b.get("/worklist?kind=document_expiring"), "Upload renewal")
    assert link.startswith(f"/therapists/{person.id}/documents/new?")
    form = b.get(link).data.decode()
    assert re.search(r'<option selected value="bls_card">', form)
    response = b.post(link, {"doc_type": "bls_card", "issued_on": TODAY.isoformat(),
                             "expires_on": (TODAY + timedelta(days=730)).isoformat(),
                             "file": (io.BytesIO(files.pdf()), "bls.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"] == "/worklist?kind=document_expiring"
    assert b"Nothing due" in b.get("/worklist?kind=document_expiring").data


def test_a_panel_follow_up_opens_the_enrollment_and_a_new_date_clears_it(browser):
    person = factories.therapist()
    panel = factories.panel(person, payer="Aetna", next_follow_up_on=TODAY + timedelta(days=1))
    b = browser("credentialing")
    link = _action(b.get("/worklist?kind=panel_follow_up"), "Follow up")
    assert link.startswith(f"/panels/{panel.id}/edit?next=/worklist")
    response = b.post(link, {"payer": "Aetna", "status": "in_review", "submitted_on": "2026-09-01",
                             "next_follow_up_on": (TODAY + timedelta(days=30)).isoformat()})
    assert response.status_code == 302 and response.headers["Location"] == "/worklist?kind=panel_follow_up"
    assert db.session.get(PanelEnrollment, panel.id).status == "in_review"
    assert b"Nothing due" in b.get("/worklist?kind=panel_follow_up").data


def test_a_ce_shortfall_opens_the_ce_form_for_that_therapist(browser):
    factories.ce_rule(state="NY", license_type="LCSW", hours="30", months=24)
    person = factories.therapist()
    factories.license(person, expires_on=TODAY + timedelta(days=60))
    link = _action(browser("credentialing").get("/worklist?kind=ce_shortfall"), "Add CE")
    assert link.startswith(f"/therapists/{person.id}/ceus/new?next=/worklist")


def test_a_license_row_also_offers_verification_and_it_returns_to_the_worklist(browser):
    lic = factories.license(factories.therapist(), expires_on=TODAY + timedelta(days=20))
    b = browser("credentialing")
    html = unescape(b.get("/worklist").data.decode())
    link = re.search(rf'href="(/licenses/{lic.id}/verify\?next=[^"]+)"', html).group(1)
    response = b.post(link, {"verified_on": TODAY.isoformat(), "verification_source": "board lookup"})
    assert response.status_code == 302 and response.headers["Location"] == "/worklist"


def test_a_return_address_off_the_worklist_is_ignored(browser):
    lic = factories.license(factories.therapist(), expires_on=TODAY + timedelta(days=20))
    for target in ("https://evil.example/worklist", "//evil.example/worklist", "/admin/users"):
        response = browser("credentialing").post(f"/licenses/{lic.id}/verify?next={target}", {
            "verified_on": TODAY.isoformat(), "verification_source": "board lookup"})
        assert response.headers["Location"] == f"/therapists/{lic.therapist_id}", target


def test_a_recruiter_sees_only_the_actions_it_may_take(browser):
    factories.therapist(caqh_id="1", caqh_attested_on=TODAY - timedelta(days=115))
    factories.license(factories.therapist(), expires_on=TODAY + timedelta(days=20))
    page = browser("recruiter").get("/worklist").data.decode()
    assert "Attested today" in page  # recruiters keep therapist profiles
    assert "/renew?" not in page and "/verify?" not in page  # credentials are the credentialing team's


def test_each_urgency_count_links_to_its_due_window(browser):
    factories.license(factories.therapist(), expires_on=TODAY - timedelta(days=3))
    factories.license(factories.therapist(), expires_on=TODAY + timedelta(days=25))
    page = unescape(browser("credentialing").get("/worklist?state=NY").data.decode())
    link = re.search(r'href="(/worklist\?[^"]*window=overdue[^"]*)"', page).group(1)
    assert "state=NY" in link
    assert len(_rows(browser("credentialing").get(link))) == 1
