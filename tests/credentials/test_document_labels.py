"""Document types read as people write them ("Malpractice COI", "BLS card"), wherever a page names one."""

from datetime import date, timedelta

import sqlalchemy as sa

from agency.core.dates import human_day
from agency.core.outbox import OutboxMessage
from agency.credentials.models import DOC_TYPE_LABELS, DOC_TYPES
from agency.credentials.scan import daily_credential_scan
from agency.extensions import db
from tests import factories
from tests.factories import TODAY


def test_every_document_type_has_a_label_and_acronyms_keep_their_capitals():
    assert set(DOC_TYPE_LABELS) == set(DOC_TYPES)
    assert [DOC_TYPE_LABELS[t] for t in ("malpractice_coi", "bls_card", "hipaa_training", "tb_test", "i9")] == [
        "Malpractice COI", "BLS card", "HIPAA training", "TB test", "I-9"]


def test_the_therapist_facility_and_placement_pages_name_document_types_in_words(browser):
    place = factories.facility(required_documents=["bls_card", "hipaa_training"])
    person = factories.licensed_therapist()
    factories.document(person, "malpractice_coi", expires_on=date(2027, 6, 30))
    factories.document(person, "bls_card", expires_on=date(2028, 1, 31))
    placement = factories.placement(person, place)
    staff = browser("admin")

    therapist_page = staff.get(f"/therapists/{person.id}").data.decode()
    assert "Malpractice COI" in therapist_page and "BLS card" in therapist_page
    assert "Malpractice coi" not in therapist_page and "Bls card" not in therapist_page
    assert "Jun 30, 2027" in therapist_page

    facility_page = staff.get(f"/facilities/{place.id}").data.decode()
    assert "BLS card, HIPAA training" in facility_page

    placement_page = staff.get(f"/placements/{placement.id}").data.decode()
    assert "HIPAA training is missing or expired on" in placement_page
    assert "Hipaa training" not in placement_page
    # The upload form offers the same words, and posts the code.
    upload = staff.get(f"/therapists/{person.id}/documents/new").data.decode()
    assert '<option value="malpractice_coi">Malpractice COI</option>' in upload


def test_a_document_reminder_names_the_type_in_words_and_is_signed_by_the_agency(app, setting):
    setting(AGENCY_NAME="Lakeshore Clinical Staffing, Inc.", CREDENTIALING_EMAIL="cred@lakeshore.example")
    person = factories.therapist(email="noor@example.org")
    factories.document(person, "hipaa_training", expires_on=TODAY + timedelta(days=30))
    daily_credential_scan(TODAY.isoformat())
    mail = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.to_addr == "noor@example.org"))
    due = human_day(TODAY + timedelta(days=30))
    assert mail.subject.startswith("HIPAA training for ") and mail.subject.endswith(f"({due})")
    assert f"Due: {due} (30 days from today)" in mail.body
    assert "credentialing team at Lakeshore Clinical Staffing, Inc." in mail.body
    assert mail.body.rstrip().endswith("cred@lakeshore.example")
    assert "Lakeshore Clinical Staffing, Inc.\n" + app.config["AGENCY_ADDRESS"] in mail.body
