"""The main journey of each role, in a real browser."""

from datetime import date

import sqlalchemy as sa
from playwright.sync_api import expect

from agency.billing.models import Invoice, TimesheetEntry
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Placement
from tests import factories
from tests.e2e.conftest import Journey
from tests.factories import files


def pick(page, label: str, typed: str, choice: str) -> None:
    """Type into a picker and choose one of the matches the server offers."""
    box = page.get_by_role("combobox", name=label)
    box.fill(typed)
    page.get_by_role("option", name=choice).click()
    expect(box).to_have_value(choice)


def test_a_recruiter_proposes_a_placement_by_searching_for_the_therapist_and_the_facility(journey, users):
    factories.facility(name="Hudson Valley CMHC")
    factories.facility(name="Hudson Bay Clinic")
    rosa = factories.therapist(first_name="Rosa", last_name="Diaz")
    for n in range(30):
        factories.therapist(first_name=f"Dina{n}", last_name="Diamond")
    journey.sign_in(users["recruiter"].email)
    page = journey.go("/placements/new")
    pick(page, "Therapist", "diaz", f"Diaz, Rosa ({rosa.discipline})")
    pick(page, "Facility", "valley", "Hudson Valley CMHC")
    page.get_by_label("Start date").fill("2026-12-14")
    journey.shot("placement-form")
    page.get_by_role("button", name="Save placement").click()
    expect(page.locator(".flash-success")).to_contain_text("Placement proposed")
    placement = db.session.scalar(sa.select(Placement))
    assert (placement.therapist_id, placement.facility.name) == (rosa.id, "Hudson Valley CMHC")


def test_without_scripts_the_placement_form_lists_the_matches_of_what_was_typed(chromium, live_server, users):
    factories.facility(name="Hudson Valley CMHC")
    rosa = factories.therapist(first_name="Rosa", last_name="Diaz")
    context = chromium.new_context(java_script_enabled=False)
    try:
        journey = Journey(context.new_page(), live_server, "placement-form-without-scripts")
        journey.sign_in(users["recruiter"].email)
        page = journey.go("/placements/new")
        page.locator("#therapist_id-q").fill("diaz")
        page.locator("#facility_id-q").fill("hudson")
        page.get_by_label("Start date").fill("2026-12-14")
        page.get_by_role("button", name="Save placement").click()
        expect(page.locator(".error").first).to_contain_text("Choose one of the therapists matching “diaz”")
        page.get_by_label("Therapist: matches").select_option(str(rosa.id))
        page.get_by_label("Facility: matches").select_option(label="Hudson Valley CMHC")
        page.get_by_role("button", name="Save placement").click()
        expect(page.locator(".flash-success")).to_contain_text("Placement proposed")
        assert not journey.blocked, journey.blocked
    finally:
        context.close()
    assert db.session.scalar(sa.select(Placement.therapist_id)) == rosa.id


def test_a_recruiter_matches_a_therapist_works_the_checklist_and_activates_the_placement(journey, users):
    place = factories.facility(name="Hudson Valley CMHC")
    rosa = factories.therapist(first_name="Rosa", last_name="Diaz")
    factories.license(rosa, state="NY", expires_on=date(2028, 5, 31))
    factories.therapist(first_name="Tom", last_name="Unlicensed")
    from agency.placements.services import save_assignment

    # It starts today: a recruiter activates nothing before its start date.
    job = save_assignment(None, {"facility_id": place.id, "title": "Adult outpatient LCSW", "discipline": "LCSW",
                                 "start_on": date(2026, 11, 25), "length_weeks": 26, "hours_per_week": 40})
    journey.sign_in(users["recruiter"].email)
    page = journey.go(f"/assignments/{job.id}")
    rows = page.locator("#candidates tbody tr")
    expect(rows.first).to_contain_text("Rosa Diaz")
    expect(rows.nth(1)).to_contain_text("No active license or compact privilege in NY")
    journey.shot("matches")
    rows.first.get_by_role("button", name="Propose").click()
    expect(page.locator(".flash-success")).to_contain_text("Rosa Diaz proposed")

    page.get_by_label("New status").select_option("onboarding")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".flash-success")).to_contain_text("now onboarding")
    while page.locator("#checklist").get_by_role("button", name="Mark done").count():
        page.locator("#checklist").get_by_role("button", name="Mark done").first.click()
        page.wait_for_load_state()
    journey.shot("checklist-done")
    expect(page.locator("#readiness")).to_contain_text("Everything needed to start is in place")
    page.get_by_label("New status").select_option("active")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".flash-success")).to_contain_text("now active")
    journey.shot("active")
    assert db.session.scalar(sa.select(Placement.status)) == "active"


def test_a_credentialing_user_uploads_a_renewed_license_and_sees_the_worklist_clear(journey, users, tmp_path):
    noor = factories.therapist(first_name="Noor", last_name="Haddad")
    lic = factories.license(noor, state="NJ", number="NJ-4471", expires_on=date(2026, 12, 15))
    journey.sign_in(users["credentialing"].email)
    page = journey.go("/worklist")
    expect(page.locator("#worklist")).to_contain_text("Noor Haddad")
    journey.shot("worklist-before")

    page.get_by_role("link", name="Noor Haddad").first.click()
    page.get_by_role("link", name="Upload document").click()
    page.get_by_label("Document type").select_option("license_copy")
    pdf = tmp_path / "nj-license-renewal.pdf"
    pdf.write_bytes(files.pdf())
    page.get_by_label("File (PDF, PNG or JPEG)").set_input_files(str(pdf))
    page.get_by_label("Issued on").fill("2026-11-20")
    page.get_by_label("Expires on").fill("2028-12-15")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash-success")).to_contain_text("nj-license-renewal.pdf uploaded")

    page.locator("#licenses").get_by_role("link", name="Edit").first.click()
    page.get_by_label("Expires on").fill("2028-12-15")
    page.get_by_role("button", name="Save license").click()
    expect(page.locator(".flash-success")).to_contain_text("License saved")
    journey.shot("renewed")

    page = journey.go("/worklist")
    expect(page.locator("#worklist")).not_to_contain_text("Noor Haddad")
    journey.shot("worklist-clear")
    db.session.refresh(lic)
    assert lic.expires_on == date(2028, 12, 15)


def test_a_facility_contact_approves_hours_opens_the_invoice_and_downloads_its_pdf(journey, users):
    own = db.session.get(Facility, users["facility"].facility_id)
    factories.rate_card(own)
    placement = factories.active_placement(own)
    for day in (2, 3, 4):
        factories.entry(placement, date(2026, 11, day), approve=False)
    journey.sign_in(users["facility"].email)
    page = journey.page
    expect(page.locator("#approvals")).to_contain_text("Nov 2, 2026")
    journey.shot("portal")
    page.get_by_label("Pick all").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator(".flash-success")).to_contain_text("3 entries approved")

    from agency.billing.invoicing import invoice_facility

    invoice, _ = invoice_facility(own.id, date(2026, 11, 1), date(2026, 11, 30))
    page = journey.go("/portal")
    page.get_by_role("link", name=invoice.number).click()
    expect(page.locator("h1")).to_contain_text(invoice.number)
    journey.shot("invoice")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    assert open(download.path(), "rb").read(5) == b"%PDF-"
    assert set(db.session.scalars(sa.select(TimesheetEntry.status))) == {"invoiced"}


def test_a_billing_user_runs_invoicing_records_a_payment_and_sees_the_aging_change(journey, users):
    place = factories.facility(name="Lakeshore Hospital", payment_terms_days=30)
    factories.rate_card(place)
    placement = factories.active_placement(place)
    for day in (2, 3):
        factories.entry(placement, date(2026, 11, day))
    factories.facility(name="Lakeside Clinic")
    journey.sign_in(users["billing"].email)
    page = journey.go("/invoices/run")
    page.get_by_label("Period start").fill("2026-11-01")
    page.get_by_label("Period end").fill("2026-11-30")
    pick(page, "Facility", "lakesh", "Lakeshore Hospital")
    page.get_by_role("button", name="Generate invoices").click()
    expect(page.locator(".flash-success")).to_contain_text("1 invoice(s) generated")
    journey.shot("invoices")

    page = journey.go("/receivables")
    expect(page.locator("#aging")).to_contain_text("$1,440.00")
    journey.shot("aging-before")

    invoice = db.session.scalar(sa.select(Invoice))
    page = journey.go(f"/invoices/{invoice.id}")
    page.get_by_label("Amount ($)").fill("1000.00")
    page.get_by_label("Reference (check or ACH number)").fill("ACH 88812")
    page.get_by_role("button", name="Record payment").click()
    expect(page.locator(".flash-success")).to_contain_text("balance $440.00")
    journey.shot("payment")

    page = journey.go("/receivables")
    expect(page.locator("#aging")).to_contain_text("$440.00")
    journey.shot("aging-after")
