"""The billing API: hours in, invoices out, paid, voided and aged, in API.md's shapes."""

from datetime import date

import pytest
import sqlalchemy as sa

from agency.billing.models import Invoice, TimesheetEntry
from agency.extensions import db
from agency.facilities.models import Facility
from tests import factories


def setup(users, **rates):
    place = db.session.get(Facility, users["facility"].facility_id)
    place.billing_email = "ap@riverside.example.org"
    db.session.commit()
    factories.rate_card(place, **rates)
    return place, factories.active_placement(place)


def entry_body(placement, day="2026-11-02", **values):
    return {"placement_id": placement.id, "work_date": day, "direct_care_hours": 8, **values}


def test_entries_follow_the_placement_the_day_and_the_24_hour_rule(api, users):
    place, placement = setup(users)
    caller = api("billing")
    made = caller.post("/api/v1/timesheets", json=entry_body(placement, supervision_hours="1.5"))
    assert made.status_code == 201 and made.json["supervision_hours"] == "1.50"
    assert caller.post("/api/v1/timesheets", json=entry_body(placement)).status_code == 409
    cases = [entry_body(placement, "2026-08-01"), entry_body(placement, "2026-11-03", direct_care_hours=-1),
             entry_body(placement, "2026-11-03", direct_care_hours=20, supervision_hours=5),
             entry_body(placement, "2026-12-01")]
    for body in cases:
        assert caller.post("/api/v1/timesheets", json=body).status_code == 400, body
    proposed = factories.facility(name="Later Clinic")
    from agency.placements.services import create_placement

    pending = create_placement({"therapist_id": factories.therapist().id, "facility_id": proposed.id,
                                "start_on": date(2026, 10, 1)})
    assert caller.post("/api/v1/timesheets", json=entry_body(pending)).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetEntry)) == 1


def test_a_correction_keeps_its_placement_a_cleared_box_is_zero_and_travel_stays_believable(api, users,
                                                                                             browser):
    place, placement = setup(users)
    caller = api("billing")
    made = caller.post("/api/v1/timesheets", json=entry_body(placement, travel_miles=12)).json
    url = f"/api/v1/timesheets/{made['id']}"
    other = factories.active_placement(place)
    moved = caller.patch(url, json={"placement_id": other.id})
    assert moved.status_code == 400 and "placement_id" in moved.json["error"]["fields"]
    assert caller.patch(url, json={"travel_miles": 5000}).status_code == 400
    assert caller.post("/api/v1/timesheets", json=entry_body(placement, "2026-11-03", travel_miles="2000.01")
                       ).status_code == 400
    # On the page, clearing the miles box means no travel that day.
    page = browser("billing").post(f"/timesheets/{made['id']}/edit", {
        "placement_id": placement.id, "work_date": "2026-11-02", "direct_care_hours": "6",
        "supervision_hours": "", "travel_miles": ""})
    assert page.status_code == 302, page.data
    kept = caller.get(url).json
    assert (kept["placement_id"], kept["travel_miles"], kept["direct_care_hours"]) == (placement.id, "0.00", "6.00")


def test_a_facility_contact_approves_its_own_hours_only(api, users):
    place, placement = setup(users)
    other = factories.facility(name="Other")
    factories.rate_card(other)
    theirs = factories.entry(factories.active_placement(other), date(2026, 11, 2), approve=False)
    mine = api("billing").post("/api/v1/timesheets", json=entry_body(placement)).json
    contact = api("facility")
    assert contact.post(f"/api/v1/timesheets/{mine['id']}/approve").json["status"] == "approved"
    assert contact.post(f"/api/v1/timesheets/{theirs.id}/approve").status_code == 404
    assert contact.post("/api/v1/timesheets", json=entry_body(placement, "2026-11-04")).status_code == 403
    assert contact.post(f"/api/v1/timesheets/{mine['id']}/reject", json={}).status_code == 400


def test_generate_bills_once_and_the_invoice_reads_in_money_strings(api, users):
    place, placement = setup(users)
    for day in (2, 3):
        factories.entry(placement, date(2026, 11, day), direct="7.5", miles="10")
    billing = api("billing")
    started = billing.post("/api/v1/invoices/generate", json={"period_start": "2026-11-01",
                                                               "period_end": "2026-11-30"})
    assert started.status_code == 202
    status = billing.get(f"/api/v1/jobs/{started.json['job_id']}").json
    assert status["status"] == "finished" and len(status["result"]["invoice_ids"]) == 1
    again = billing.post("/api/v1/invoices/generate", json={"period_start": "2026-11-01",
                                                             "period_end": "2026-11-30"})
    assert billing.get(f"/api/v1/jobs/{again.json['job_id']}").json["result"]["invoice_ids"] == []

    invoice = billing.get(f"/api/v1/invoices/{status['result']['invoice_ids'][0]}").json
    assert invoice["total"] == "1363.40" and invoice["balance"] == "1363.40"  # 15 h x 90 + 20 mi x 0.67
    assert invoice["due_on"] == "2027-01-09" and invoice["number"] == "INV-2026-00001"  # net 45
    assert {line["item"] for line in invoice["lines"]} == {"direct_care_hour", "travel_mile"}
    locked = billing.patch(f"/api/v1/timesheets/{db.session.scalar(sa.select(TimesheetEntry.id))}",
                           json={"direct_care_hours": 1})
    assert locked.status_code == 409
    pdf = api("facility").get(f"/api/v1/invoices/{invoice['id']}/pdf")
    assert pdf.data.startswith(b"%PDF")


def test_payments_partial_then_full_and_overpayment_refused(api, users):
    place, placement = setup(users)
    factories.entry(placement, date(2026, 11, 2))
    from agency.billing.invoicing import invoice_facility

    invoice, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 30))
    billing = api("billing")
    url, today = f"/api/v1/invoices/{invoice.id}/payments", factories.TODAY.isoformat()
    assert billing.post(url, json={"amount": "700.00", "received_on": today}).status_code == 201
    over = billing.post(url, json={"amount": 100, "received_on": today})
    assert over.status_code == 400 and over.json["error"]["fields"]["amount"]
    assert billing.post(url, json={"amount": 20, "received_on": today, "reference": "ACH 1"}).status_code == 201
    body = billing.get(f"/api/v1/invoices/{invoice.id}").json
    assert body["status"] == "paid" and body["balance"] == "0.00"
    assert billing.post(url, json={"amount": 1, "received_on": today}).status_code == 409


def test_void_releases_the_entries_and_aging_buckets_by_days_past_due(api, users):
    place, placement = setup(users)
    factories.entry(placement, date(2026, 9, 14))
    from agency.billing.invoicing import invoice_facility

    invoice, _ = invoice_facility(place.id, date(2026, 9, 1), date(2026, 9, 30))
    billing = api("billing")
    aging = billing.get("/api/v1/receivables/aging?as_of=2027-02-23").json  # due 2027-01-09: 45 days late
    assert aging["buckets"]["31_60"] == "720.00" and aging["facilities"][0]["total"] == "720.00"
    assert billing.get("/api/v1/receivables/aging?as_of=nope").status_code == 400
    voided = billing.post(f"/api/v1/invoices/{invoice.id}/void", json={"reason": "Wrong period"})
    assert voided.json["status"] == "void"
    assert billing.get("/api/v1/receivables/aging?as_of=2027-02-23").json["buckets"]["31_60"] == "0.00"
    again, _ = invoice_facility(place.id, date(2026, 9, 1), date(2026, 9, 30))
    assert again.total == invoice.total
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 2


def test_a_csv_import_with_a_bad_row_imports_nothing(api, users):
    place, placement = setup(users)
    text = ("placement_id,work_date,direct_care_hours\n"
            f"{placement.id},2026-11-02,8\n{placement.id},2026-11-03,x\n")
    caller = api("billing")
    report = caller.post("/api/v1/timesheets/import", json={"csv": text, "dry_run": False})
    assert report.status_code == 400 and report.json["errors"][0]["line"] == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetEntry)) == 0
    good = caller.post("/api/v1/timesheets/import", json={"csv": text.replace(",x", ",6"), "dry_run": False})
    assert good.status_code == 200 and good.json["imported"] == 2


def test_a_csv_import_counts_hours_already_recorded_with_the_files_rows_toward_24_a_day(api, users):
    place, placement = setup(users)
    factories.entry(placement, date(2026, 11, 2), direct="10")
    # The same therapist also works two other placements (part-time, evenings).
    others = []
    for name in ("Evening Clinic", "Weekend Clinic"):
        others.append(factories.active_placement(factories.facility(name=name), placement.therapist,
                                                 date(2026, 9, 1), hours_per_week=10))
    text = ("placement_id,work_date,direct_care_hours\n"
            f"{others[0].id},2026-11-02,8\n{others[1].id},2026-11-02,8\n")
    report = api("billing").post("/api/v1/timesheets/import", json={"csv": text, "dry_run": True})
    assert report.status_code == 400
    assert [e["line"] for e in report.json["errors"]] == [3]
    assert "24 hours" in report.json["errors"][0]["message"]


def test_with_redis_configured_but_down_an_invoice_run_is_503_and_changes_nothing(api, users, app):
    from agency.core.jobs import JobRecord

    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:6390/0"
    try:
        response = api("billing").post("/api/v1/invoices/generate",
                                       json={"period_start": "2026-11-01", "period_end": "2026-11-30"})
    finally:
        app.config["REDIS_URL"] = saved
    assert response.status_code == 503 and response.json["error"]["code"] == "service_unavailable"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JobRecord)) == 0


@pytest.mark.parametrize("period", [{"period_start": "2026-11-01", "period_end": "2027-11-30"},
                                    {"period_start": "2026-11-01", "period_end": "2026-12-01"},
                                    {"period_start": "2026-11-30", "period_end": "2026-11-01"}])
def test_an_invoice_run_for_a_period_ending_after_this_month_or_backwards_is_refused(api, users, period):
    from agency.core.jobs import JobRecord

    response = api("billing").post("/api/v1/invoices/generate", json=period)
    assert response.status_code == 400 and "period_end" in response.json["error"]["fields"], response.json
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JobRecord)) == 0
