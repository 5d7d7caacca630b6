"""A timesheet CSV names its placement by placement_id, or by therapist (name or NPI) and facility name."""

from datetime import date
from io import BytesIO

import sqlalchemy as sa

from agency.billing import timesheets
from agency.billing.models import TimesheetEntry
from agency.extensions import db
from tests import factories


def _count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetEntry))


def _clinic():
    place = factories.facility(name="Maple Grove Behavioral Health")
    factories.rate_card(place)
    return place


def test_a_row_by_therapist_name_or_npi_and_facility_name_goes_to_that_therapists_placement(app):
    place = _clinic()
    dana = factories.licensed_therapist(first_name="Dana", last_name="Whitfield", npi="1234567893")
    placement = factories.active_placement(place, dana)
    factories.active_placement(place)  # a colleague at the same clinic takes none of Dana's hours
    text = ("therapist,facility,work_date,direct_care_hours\n"
            "dana  whitfield,MAPLE GROVE BEHAVIORAL HEALTH,2026-11-02,7.5\n"
            "1234567893,Maple Grove Behavioral Health,2026-11-03,8\n")
    report = timesheets.import_csv(text, dry_run=False)
    assert report.ok and report.imported == 2
    entries = db.session.scalars(sa.select(TimesheetEntry).order_by(TimesheetEntry.work_date)).all()
    assert [(e.placement_id, e.work_date, e.direct_care_hours) for e in entries] == [
        (placement.id, date(2026, 11, 2), 7.5), (placement.id, date(2026, 11, 3), 8)]


def test_placement_id_and_names_mix_in_one_file(app):
    place = _clinic()
    first = factories.active_placement(place, factories.licensed_therapist(first_name="Ana", last_name="Lopez"))
    second = factories.active_placement(place)
    text = ("placement_id,therapist,facility,work_date,direct_care_hours\n"
            f"{second.id},,,2026-11-02,6\n"
            ",Ana Lopez,Maple Grove Behavioral Health,2026-11-02,4\n")
    assert timesheets.import_csv(text, dry_run=False).imported == 2
    assert {e.placement_id for e in db.session.scalars(sa.select(TimesheetEntry))} == {first.id, second.id}


def test_two_therapists_of_one_name_at_one_facility_are_refused_as_ambiguous_and_nothing_is_imported(app):
    place = _clinic()
    first = factories.active_placement(place, factories.licensed_therapist(first_name="Sam", last_name="Lee"))
    factories.active_placement(place, factories.licensed_therapist(first_name="Sam", last_name="Lee"))
    text = ("placement_id,therapist,facility,work_date,direct_care_hours\n"
            f"{first.id},,,2026-11-02,6\n"
            ",Sam Lee,Maple Grove Behavioral Health,2026-11-03,4\n")
    report = timesheets.import_csv(text, dry_run=False)
    assert report.errors == [(3, "therapist: Sam Lee has more than one active placement at Maple Grove "
                                 "Behavioral Health on 2026-11-03; give the placement_id instead")]
    assert _count() == 0


def test_unknown_therapist_facility_or_placement_date_is_refused_row_by_row(app):
    place = _clinic()
    factories.active_placement(place, factories.licensed_therapist(first_name="Ana", last_name="Lopez"),
                               start=date(2026, 9, 1))
    text = ("therapist,facility,work_date,direct_care_hours\n"
            "Ana Lopez,Maple Grove Behavioral Health,2026-11-02,4\n"
            "Nobody Known,Maple Grove Behavioral Health,2026-11-02,4\n"
            "Ana Lopez,Elsewhere Clinic,2026-11-02,4\n"
            "Ana Lopez,Maple Grove Behavioral Health,2026-08-01,4\n"
            ",Maple Grove Behavioral Health,2026-11-03,4\n")
    report = timesheets.import_csv(text, dry_run=False)
    assert report.errors == [
        (3, "therapist: nobody on the roster is named Nobody Known (give the full name, First Last, "
            "or the 10-digit NPI)"),
        (4, "facility: no facility is named Elsewhere Clinic (give its name as on its page)"),
        (5, "placement_id: Ana Lopez has no active or completed placement at Maple Grove Behavioral Health "
            "on 2026-08-01"),
        (6, "placement_id: give placement_id, or both therapist and facility"),
    ]
    assert _count() == 0


def test_the_import_page_documents_every_accepted_column(browser):
    page = browser("billing").get("/timesheets/import").data.decode()
    for column in timesheets.CSV_COLUMNS:
        assert f"<code>{column}</code>" in page
    assert "therapist's full name (First Last) or 10-digit NPI" in page.replace("&#39;", "'")


def test_the_import_page_takes_a_file_by_names(browser):
    place = _clinic()
    factories.active_placement(place, factories.licensed_therapist(first_name="Ana", last_name="Lopez"))
    body = b"therapist,facility,work_date,direct_care_hours\nAna Lopez,Maple Grove Behavioral Health,2026-11-02,4\n"
    response = browser("billing").post("/timesheets/import", data={
        "file": (BytesIO(body), "hours.csv"), "dry_run": ""}, content_type="multipart/form-data",
        follow_redirects=True)
    assert response.status_code == 200 and "Imported 1 entries" in response.data.decode()
    assert _count() == 1


def test_the_api_import_takes_rows_by_names_too(api):
    place = _clinic()
    factories.active_placement(place, factories.licensed_therapist(first_name="Ana", last_name="Lopez"))
    body = "therapist,facility,work_date,direct_care_hours\nAna Lopez,Maple Grove Behavioral Health,2026-11-02,4\n"
    response = api("billing").post("/api/v1/timesheets/import", json={"csv": body, "dry_run": False})
    assert response.status_code == 200 and response.get_json()["imported"] == 1
    refused = api("billing").post("/api/v1/timesheets/import", json={
        "csv": body.replace("Ana Lopez", "Ann Lopez"), "dry_run": False})
    assert refused.status_code == 400 and refused.get_json()["errors"][0]["line"] == 2
