"""Billing in the browser: hours approved in the portal become an invoice that is paid and aged."""

import io
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from agency.billing.models import Invoice, TimesheetEntry
from agency.extensions import db
from agency.facilities.models import Facility
from tests import factories


def own_facility(users) -> Facility:
    place = db.session.get(Facility, users["facility"].facility_id)
    place.billing_email = "ap@riverside.example.org"
    db.session.commit()
    factories.rate_card(place)
    return place


def test_a_facility_contact_approves_hours_and_a_billing_user_invoices_collects_and_ages(browser, users):
    place = own_facility(users)
    placement = factories.active_placement(place)
    first = factories.entry(placement, date(2026, 11, 2), direct="8", approve=False)
    second = factories.entry(placement, date(2026, 11, 3), direct="6", approve=False)

    contact = browser("facility")
    portal = contact.get("/portal")
    assert b"Hours waiting for your approval" in portal.data and b"Nov 2, 2026" in portal.data
    done = contact.post("/timesheets/decide", {"entry_ids": [str(first.id), str(second.id)], "approve": "1",
                                               "next": "/portal"}, form_url="/portal", follow_redirects=True)
    assert b"2 entries approved" in done.data
    assert {e.status for e in db.session.scalars(sa.select(TimesheetEntry))} == {"approved"}

    billing = browser("billing")
    ran = billing.post("/invoices/run", {"period_start": "2026-11-01", "period_end": "2026-11-30",
                                         "facility_id": ""}, follow_redirects=True)
    assert b"1 invoice(s) generated" in ran.data
    invoice = db.session.scalar(sa.select(Invoice))
    assert invoice.total == Decimal("1260.00") and invoice.number == "INV-2026-00001"

    page = contact.get(f"/invoices/{invoice.id}")
    assert page.status_code == 200 and b"INV-2026-00001" in page.data
    pdf = contact.get(f"/invoices/{invoice.id}/pdf")
    assert pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"

    paid = billing.post(f"/invoices/{invoice.id}/payments", {"amount": "1000.00",
                                                             "received_on": factories.TODAY.isoformat(),
                                                             "reference": "ACH 7781"},
                        form_url=f"/invoices/{invoice.id}", follow_redirects=True)
    assert b"balance $260.00" in paid.data
    too_much = billing.post(f"/invoices/{invoice.id}/payments", {"amount": "300.00",
                                                                 "received_on": factories.TODAY.isoformat()},
                            form_url=f"/invoices/{invoice.id}", follow_redirects=True)
    assert b"overpayments are not accepted" in too_much.data
    db.session.refresh(invoice)
    assert invoice.status == "partially_paid" and invoice.amount_paid == Decimal("1000.00")

    aging = billing.get("/receivables?as_of=2027-01-10")
    assert b"$260.00" in aging.data and b"<svg" in aging.data
    csv_export = billing.get("/receivables?as_of=2027-01-10&format=csv")
    assert b"1_30" in csv_export.data and b"260.00" in csv_export.data


def test_a_facility_contact_cannot_open_another_facilitys_invoice_or_approve_its_hours(browser, users):
    own_facility(users)
    other = factories.facility(name="Other Clinic")
    factories.rate_card(other)
    placement = factories.active_placement(other)
    entry = factories.entry(placement, date(2026, 11, 2), approve=False)
    contact = browser("facility")
    contact.post("/timesheets/decide", {"entry_ids": [str(entry.id)], "approve": "1", "next": "/portal"},
                 form_url="/portal")
    db.session.refresh(entry)
    assert entry.status == "submitted"
    from agency.billing.invoicing import invoice_facility

    factories.entry(placement, date(2026, 11, 3))
    invoice, _ = invoice_facility(other.id, date(2026, 11, 1), date(2026, 11, 30))
    assert contact.get(f"/invoices/{invoice.id}").status_code == 404
    assert contact.get(f"/invoices/{invoice.id}/pdf").status_code == 404
    assert contact.get("/invoices/run").status_code == 403


def test_a_csv_dry_run_reports_every_bad_row_and_imports_nothing(browser, users):
    place = own_facility(users)
    placement = factories.active_placement(place)
    text = ("placement_id,work_date,direct_care_hours,supervision_hours,travel_miles\n"
            f"{placement.id},2026-11-02,8,0,0\n"
            f"{placement.id},2026-11-03,-2,0,0\n"
            f"999,2026-11-04,8,0,0\n"
            f"{placement.id},2026-13-01,8,0,0\n")
    b = browser("billing")
    page = b.post("/timesheets/import", {"file": (io.BytesIO(text.encode()), "hours.csv"), "dry_run": ""},
                  content_type="multipart/form-data")
    body = page.data.decode()
    assert "3 problem(s) found" in body
    for line in ("<td>3</td>", "<td>4</td>", "<td>5</td>"):
        assert line in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetEntry)) == 0


def test_voiding_an_invoice_releases_its_hours_for_the_next_run(browser, users):
    place = own_facility(users)
    placement = factories.active_placement(place)
    factories.entry(placement, date(2026, 11, 2))
    from agency.billing.invoicing import invoice_facility

    invoice, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 30))
    b = browser("billing")
    b.post(f"/invoices/{invoice.id}/void", {"reason": "Wrong rate card"}, form_url=f"/invoices/{invoice.id}")
    db.session.refresh(invoice)
    assert invoice.status == "void"
    again, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 30))
    assert again is not None and again.number == "INV-2026-00002"


def test_every_billing_page_renders(browser, users):
    place = own_facility(users)
    placement = factories.active_placement(place)
    entry = factories.entry(placement, date(2026, 11, 2), approve=False)
    b = browser("admin")
    for url in ("/timesheets", "/timesheets?status=submitted&from=2026-11-01&to=bad", "/timesheets/new",
                f"/timesheets/{entry.id}/edit", "/timesheets/import", "/invoices", "/invoices/run",
                "/receivables", "/portal"):
        assert b.get(url, follow_redirects=True).status_code == 200, url


def test_rejecting_picked_hours_asks_first_on_the_staff_list_and_the_portal(browser, users):
    factories.entry(factories.active_placement(own_facility(users)), date(2026, 11, 2), approve=False)
    for role, url in (("billing", "/timesheets"), ("facility", "/portal")):
        page = browser(role).get(url).data
        assert b'name="reject"' in page and b'data-confirm="Reject the selected hours?' in page, role


def test_a_void_reason_or_payment_reference_with_a_line_break_is_refused_and_changes_nothing(browser, users):
    place = own_facility(users)
    factories.entry(factories.active_placement(place), date(2026, 11, 2))
    from agency.billing.invoicing import invoice_facility

    invoice, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 30))
    b = browser("billing")
    voided = b.post(f"/invoices/{invoice.id}/void", {"reason": "Wrong\r\nBcc: x@evil.example"},
                    form_url=f"/invoices/{invoice.id}", follow_redirects=True)
    paid = b.post(f"/invoices/{invoice.id}/payments", {"amount": "10.00", "received_on": "2026-11-20",
                                                       "reference": "ACH\r1"},
                  form_url=f"/invoices/{invoice.id}", follow_redirects=True)
    for page in (voided, paid):
        assert b"Must be one line" in page.data
    db.session.refresh(invoice)
    assert invoice.status == "issued" and invoice.amount_paid == 0 and not invoice.payments


def test_a_long_timesheet_list_counts_only_up_to_the_cap_and_still_pages_on(browser, users, monkeypatch):
    from agency.core import listing

    placement = factories.active_placement(own_facility(users))
    for day in range(1, 8):
        factories.entry(placement, date(2026, 11, day), direct="4", approve=False)
    monkeypatch.setattr(listing, "COUNT_CAP", 4)
    billing = browser("billing")

    first = billing.get("/timesheets?per_page=2")
    assert b"Page 1 of 2+ \xc2\xb7 4+ in all" in first.data and b"Next" in first.data
    # Paging past the cap counts as far as the page asked for: the last page knows it is the last.
    last = billing.get("/timesheets?per_page=2&page=4")
    assert b"Page 4 of 4 \xc2\xb7 7 in all" in last.data and b"Next &rarr;" not in last.data
    assert b"Nov 1, 2026" in last.data
    third = billing.get("/timesheets?per_page=2&page=3")
    assert b"Page 3 of 3+ \xc2\xb7 6+ in all" in third.data and b"Next &rarr;" in third.data

    monkeypatch.setattr(listing, "COUNT_CAP", 10)
    assert b"Page 1 of 4 \xc2\xb7 7 in all" in billing.get("/timesheets?per_page=2").data


def test_the_smallest_amounts_the_forms_offer_are_accepted_to_the_cent(browser, users):
    """A form's limits are decimals: a cent paid and a safety stop of 1.01 are within them, not just past
    them, as a float bound would have it."""
    invoice = factories.invoiced_day(factories.facility(name="Cedar Clinic", billing_email="ap@cedar.example.org"))
    billing = browser("billing")
    paid = billing.post(f"/invoices/{invoice.id}/payments", {"amount": "0.01",
                                                             "received_on": factories.TODAY.isoformat(),
                                                             "reference": "ACH 1"},
                        form_url=f"/invoices/{invoice.id}", follow_redirects=True)
    assert paid.status_code == 200
    db.session.refresh(invoice)
    assert invoice.amount_paid == Decimal("0.01")
    place = invoice.facility
    saved = billing.post(f"/facilities/{place.id}/edit", {
        "name": place.name, "facility_type": place.facility_type, "state": place.state, "funding": place.funding,
        "payment_terms_days": "30", "invoice_schedule": place.invoice_schedule, "approval_window_days": "3",
        "statement_schedule": place.statement_schedule, "invoicing": "automatic", "safety_factor": "1.01",
        "billing_email": place.billing_email, "active": "y"}, follow_redirects=True)
    assert saved.status_code == 200
    db.session.refresh(place)
    assert place.safety_factor == Decimal("1.01"), saved.data.decode()[:3000]
