"""Per-facility invoicing: automatic, review (drafts billing issues, numbered only then), or off; and the
safety stop that parks an unusual automatic invoice as a draft instead of sending it."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.billing import receivables
from agency.billing.invoicing import (
    discard_invoice,
    issue_invoice,
    run_invoices,
    schedule_report,
    scheduled_runs,
)
from agency.billing.models import Invoice, TimesheetEntry
from agency.core.dates import today
from agency.core.errors import Conflict
from agency.extensions import db
from agency.facilities.services import update_facility
from tests import factories

CLERK = None
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
MONTHS = [(date(2026, 8, 1), date(2026, 8, 31)), (date(2026, 9, 1), date(2026, 9, 30)),
          (date(2026, 10, 1), date(2026, 10, 31))]
# $100 an hour and no overtime, so hours read as dollars: 20 hours are $2,000.00.
RATES = {"direct_care_hour": "100.00", "supervision_hour": "55.00", "travel_mile": "0.67"}


@pytest.fixture(autouse=True)
def _billing_clerk(users):
    global CLERK
    CLERK = users["billing"]  # only billing staff change how a facility is invoiced


def a_clinic(invoicing="automatic", **values):
    place = factories.facility(**values)
    if invoicing != "automatic":
        update_facility(place, {"invoicing": invoicing}, CLERK)
    factories.rate_card(place, threshold=None, **RATES)
    return place, factories.active_placement(place, start=date(2026, 8, 1))


def bill_days(placement, first_day: date, hours: list[str]):
    return [factories.entry(placement, first_day.replace(day=first_day.day + n), direct=h)
            for n, h in enumerate(hours)]


def with_three_months_of_2000(invoicing="automatic"):
    """A clinic whose August, September and October invoices came to $2,000.00 each."""
    place, placement = a_clinic(invoicing)
    for start, end in MONTHS:
        bill_days(placement, start.replace(day=3), ["10", "10"])
        run_invoices(start, end, facility_ids=[place.id])
    totals = db.session.scalars(sa.select(Invoice.total).where(Invoice.facility_id == place.id)).all()
    assert totals == [Decimal("2000.00")] * 3
    return place, placement


def test_a_review_run_makes_a_draft_that_takes_the_next_number_only_when_issued(app):
    reviewed, placement = a_clinic("review")
    bill_days(placement, date(2026, 11, 2), ["8", "8"])
    automatic, other = a_clinic()
    factories.entry(other, date(2026, 11, 2), direct="5")

    run = run_invoices(*NOVEMBER, facility_ids=[reviewed.id, automatic.id])
    draft = db.session.get(Invoice, run.facilities[reviewed.id].invoice_id)
    issued = db.session.get(Invoice, run.facilities[automatic.id].invoice_id)
    assert (draft.status, draft.number, draft.total) == ("draft", None, Decimal("1600.00"))
    assert issued.status == "issued" and issued.number is not None
    # The draft holds its hours: a second run bills nothing of them.
    assert db.session.scalars(sa.select(TimesheetEntry.status).where(
        TimesheetEntry.placement_id == placement.id)).all() == ["invoiced", "invoiced"]
    assert run_invoices(*NOVEMBER, facility_ids=[reviewed.id]).invoice_ids == []

    # Another automatic invoice goes out while the draft waits; the draft then takes the number after it.
    third, third_placement = a_clinic()
    factories.entry(third_placement, date(2026, 11, 4), direct="3")
    [between] = run_invoices(*NOVEMBER, facility_ids=[third.id]).invoice_ids
    between = db.session.get(Invoice, between)
    issue_invoice(draft)
    year, last = between.number.rsplit("-", 1)
    assert draft.number == f"{year}-{int(last) + 1:05d}"
    assert int(last) == int(issued.number.rsplit("-", 1)[1]) + 1  # no gap where the draft waited
    assert (draft.status, draft.issued_on) == ("issued", today())
    with pytest.raises(Conflict):
        issue_invoice(draft)


def test_discarding_a_draft_frees_its_hours_for_the_next_run_and_uses_no_number(app):
    place, placement = a_clinic("review")
    bill_days(placement, date(2026, 11, 2), ["8", "4"])
    [first] = run_invoices(*NOVEMBER, facility_ids=[place.id]).invoice_ids
    discarded = discard_invoice(db.session.get(Invoice, first), "wrong rate card")
    assert (discarded.status, discarded.number, discarded.void_reason) == ("void", None, "wrong rate card")
    assert set(db.session.scalars(sa.select(TimesheetEntry.status).where(
        TimesheetEntry.placement_id == placement.id))) == {"approved"}

    [again] = run_invoices(*NOVEMBER, facility_ids=[place.id]).invoice_ids
    again = db.session.get(Invoice, again)
    assert again.id != first and again.total == Decimal("1200.00") and again.status == "draft"
    with pytest.raises(Conflict, match=f"invoice draft #{first} is discarded already"):
        discard_invoice(discarded, "twice")
    with pytest.raises(Conflict, match=f"invoice draft #{again.id} is draft"):
        receivables.record_payment(again, Decimal("10.00"), date(2026, 11, 20), "ACH 5")


def test_the_safety_stop_parks_an_invoice_over_three_times_the_average_and_issues_one_under(app):
    parked_place, parked_placement = with_three_months_of_2000()
    bill_days(parked_placement, date(2026, 11, 2), ["10"] * 6 + ["5"])  # 65 hours: $6,500.00 > 3 x $2,000.00
    run = run_invoices(*NOVEMBER, facility_ids=[parked_place.id])
    parked = db.session.get(Invoice, run.facilities[parked_place.id].invoice_id)
    reason = "total $6,500.00 is 3.2x the average of the last 3 invoices, $2,000.00"
    assert (parked.status, parked.number, parked.review_reason) == ("draft", None, reason)
    assert run.parked == [{"invoice_id": parked.id, "facility_id": parked_place.id, "total": "6500.00",
                           "reason": reason}]

    issued_place, issued_placement = with_three_months_of_2000()
    bill_days(issued_placement, date(2026, 11, 2), ["10"] * 5 + ["9"])  # 59 hours: $5,900.00
    run = run_invoices(*NOVEMBER, facility_ids=[issued_place.id])
    issued = db.session.get(Invoice, run.facilities[issued_place.id].invoice_id)
    assert (issued.status, issued.total, run.parked) == ("issued", Decimal("5900.00"), [])


def test_the_safety_stop_parks_an_invoice_under_a_third_of_the_average(app):
    place, placement = with_three_months_of_2000()
    factories.entry(placement, date(2026, 11, 2), direct="6")  # $600.00 < $2,000.00 / 3 = $666.67
    run = run_invoices(*NOVEMBER, facility_ids=[place.id])
    [parked] = run.parked
    assert parked["reason"] == "total $600.00 is 0.3x the average of the last 3 invoices, $2,000.00"
    other, other_placement = with_three_months_of_2000()
    factories.entry(other_placement, date(2026, 11, 2), direct="7")  # $700.00: issued
    assert run_invoices(*NOVEMBER, facility_ids=[other.id]).parked == []


def test_a_facility_of_its_own_factor_and_one_with_too_little_history(app, setting):
    place, placement = with_three_months_of_2000()
    update_facility(place, {"safety_factor": Decimal("4")}, CLERK)
    bill_days(placement, date(2026, 11, 2), ["10"] * 6 + ["5"])  # $6,500.00 < 4 x $2,000.00
    assert run_invoices(*NOVEMBER, facility_ids=[place.id]).parked == []

    young, young_placement = a_clinic()
    for start, end in MONTHS[:2]:
        factories.entry(young_placement, start.replace(day=3), direct="10")
        run_invoices(start, end, facility_ids=[young.id])
    bill_days(young_placement, date(2026, 11, 2), ["10"] * 5)  # 5x the average, but only two invoices known
    assert run_invoices(*NOVEMBER, facility_ids=[young.id]).parked == []


def test_a_facility_with_invoicing_off_is_skipped_by_runs_and_the_schedule_and_reported(app):
    place, placement = a_clinic("off", invoice_schedule="monthly")
    factories.entry(placement, date(2026, 11, 2))
    run = run_invoices(*NOVEMBER, facility_ids=[place.id])
    assert run.invoice_ids == [] and run.facilities[place.id].skipped == "invoicing is off"
    as_of = date(2026, 12, 1)
    assert place.id not in [fid for fid, _, _ in scheduled_runs(as_of)]
    assert schedule_report(as_of).off == [{"facility_id": place.id, "name": place.name,
                                           "period_end": "2026-11-30", "reason": "invoicing is off"}]


def test_the_schedule_reports_hours_not_approved_when_the_period_closed_and_drafts_waiting(app):
    place, placement = a_clinic("review", invoice_schedule="monthly")
    factories.entry(placement, date(2026, 11, 9), direct="6", approve=False)
    factories.entry(placement, date(2026, 11, 23), direct="7.5", approve=False)
    factories.entry(placement, date(2026, 11, 2), direct="8")
    [draft] = run_invoices(*NOVEMBER, facility_ids=[place.id]).invoice_ids
    report = schedule_report(date(2026, 12, 1))
    assert report.unapproved_at_close == [{"facility_id": place.id, "name": place.name, "period_end": "2026-11-30",
                                           "entries": 2, "hours": "13.50", "oldest_work_date": "2026-11-09"}]
    assert report.drafts_waiting == [{"invoice_id": draft, "facility_id": place.id, "name": place.name,
                                      "period_end": "2026-11-30", "waiting_since": "2026-12-01",
                                      "total": "800.00", "reason": None}]


def test_a_draft_is_not_owed_chased_or_shown_to_the_facility(app, users, browser, api):
    clinic = db.session.get(type(users["facility"].facility), users["facility"].facility_id)
    update_facility(clinic, {"invoicing": "review", "billing_email": "ap@riverside.example.org",
                             "address_line1": "1 Main St", "city": "Albany", "postal_code": "12207"}, CLERK)
    factories.rate_card(clinic, threshold=None, **RATES)
    placement = factories.active_placement(clinic, start=date(2026, 8, 1))
    factories.entry(placement, date(2026, 8, 3), direct="10")
    [draft_id] = run_invoices(date(2026, 8, 1), date(2026, 8, 31), facility_ids=[clinic.id]).invoice_ids
    as_of = date(2026, 12, 1)  # months past the draft's would-be due date

    assert receivables.aging(as_of).total == 0
    assert db.session.scalars(receivables._open_to_chase()).all() == []
    contact = api("facility")
    assert contact.get(f"/api/v1/invoices/{draft_id}").status_code == 404
    assert contact.get("/api/v1/invoices").json["items"] == []
    assert f"/invoices/{draft_id}" not in browser("facility").get("/portal").data.decode()

    staff = api("billing").get(f"/api/v1/invoices/{draft_id}").json
    assert (staff["status"], staff["number"], staff["review_reason"]) == ("draft", None, None)
    assert api("billing").get(f"/api/v1/invoices/{draft_id}/pdf").status_code == 409
    page = browser("billing").get(f"/invoices/{draft_id}").data.decode()
    assert "Waiting for review since" in page and "Issue invoice" in page

    issued = api("billing").post(f"/api/v1/invoices/{draft_id}/issue", json={})
    assert issued.status_code == 200 and issued.json["number"].startswith("INV-")
    assert api("billing").post(f"/api/v1/invoices/{draft_id}/issue", json={}).status_code == 409
    assert contact.get(f"/api/v1/invoices/{draft_id}").status_code == 200
    assert receivables.aging(as_of).total == Decimal("1000.00")


def test_only_billing_changes_how_a_facility_is_invoiced(app, api):
    place, _ = a_clinic()
    refused = api("recruiter").patch(f"/api/v1/facilities/{place.id}", json={"invoicing": "off"})
    assert refused.status_code == 403 and db.session.get(type(place), place.id).invoicing == "automatic"
    changed = api("billing").patch(f"/api/v1/facilities/{place.id}", json={"invoicing": "review"})
    assert changed.status_code == 200 and changed.json["invoicing"] == "review"
    assert api("billing").patch(f"/api/v1/facilities/{place.id}", json={"invoicing": "sometimes"}).status_code in (
        400, 422)
