"""Held hours: an entry for a day the therapist could not bill is recorded but held, says why, is never
approved or invoiced, and comes free only when the gap is resolved or an admin releases it with a reason."""

import io
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.billing import holds, receivables, timesheets
from agency.billing.invoicing import invoice_facility
from agency.billing.models import Invoice, TimesheetEntry
from agency.billing.runs import start_invoice_run
from agency.core.audit import AuditEvent
from agency.core.errors import Conflict, ValidationError
from agency.credentials import rules, screening
from agency.credentials import services as credentials
from agency.extensions import db
from agency.facilities import services as facilities
from agency.facilities.models import Facility
from agency.placements import services as placements
from agency.placements.models import Placement
from tests import factories
from tests.credentials.test_screening import NPI_A, leie, row
from tests.sql import count_statements

BEFORE_LICENSE = date(2026, 10, 1)  # a day the therapist worked before her New York license was issued
LICENSED = date(2026, 11, 2)  # a day she was licensed
ISSUED = date(2026, 10, 15)


def late_licensed_placement(place=None):
    """A therapist whose New York license was issued on Oct 15, 2026, placed at a New York facility since
    Sep 1, 2026: her September and early October days fall in a gap."""
    place = place or factories.facility()
    factories.rate_card(place, threshold=None)
    person = factories.therapist()
    factories.license(person, state="NY", issued_on=ISSUED, expires_on=date(2028, 6, 30))
    return factories.active_placement(place, person, start=date(2026, 9, 1))


def record(placement, day, hours="8"):
    return timesheets.record_entry({"placement_id": placement.id, "work_date": day,
                                    "direct_care_hours": Decimal(hours)})


def status_of(entry_id: int) -> str:
    db.session.rollback()
    return db.session.get(TimesheetEntry, entry_id).status


# ----------------------------------------------------------------------------- each code holds


def test_hours_worked_before_the_state_license_was_issued_are_recorded_but_held_and_say_why(api):
    placement = late_licensed_placement()
    caller = api("billing")
    held = caller.post("/api/v1/timesheets", {"placement_id": placement.id, "work_date": BEFORE_LICENSE.isoformat(),
                                              "direct_care_hours": "8"})
    fine = caller.post("/api/v1/timesheets", {"placement_id": placement.id, "work_date": LICENSED.isoformat(),
                                              "direct_care_hours": "8"})
    assert held.status_code == fine.status_code == 201
    assert held.json["status"] == "held"
    assert held.json["hold_reasons"] == [{"code": "no_license_in_state",
                                          "message": "No active license or compact privilege in NY on Oct 1, 2026"}]
    assert fine.json["status"] == "submitted" and fine.json["hold_reasons"] == []
    listed = {e["id"]: e for e in caller.get(f"/api/v1/timesheets?placement_id={placement.id}").json["items"]}
    assert listed[held.json["id"]]["hold_reasons"][0]["code"] == "no_license_in_state"
    assert listed[fine.json["id"]]["hold_reasons"] == []


def test_a_compact_privilege_never_covers_a_day_after_its_home_license_lapsed(app):
    place = factories.facility(state="NJ")
    factories.rate_card(place, threshold=None)
    person = factories.therapist(home_state="NY")
    home = factories.license(person, state="NY", issued_on=date(2024, 1, 1), expires_on=date(2028, 6, 30))
    factories.license(person, state="NJ", kind="compact_privilege", home_license_id=home.id,
                      issued_on=date(2026, 1, 1), expires_on=date(2028, 6, 30))
    placement = factories.active_placement(place, person, start=date(2026, 9, 1))
    entry = record(placement, date(2026, 10, 5))
    assert entry.status == "submitted"
    # The home license turns out to have lapsed on Sep 30: the privilege lapsed with it.
    credentials.update_license(home, {"expires_on": date(2026, 9, 30), "issued_on": date(2024, 1, 1)})
    assert status_of(entry.id) == "held"
    assert db.session.get(TimesheetEntry, entry.id).hold_reasons[0]["message"].startswith(
        "No active license or compact privilege in NJ")


def test_hours_worked_while_excluded_are_held_from_the_exclusion_date_until_reinstatement(app):
    placement = factories.active_placement(factories.facility(), start=date(2026, 9, 1))
    before, during, after = (record(placement, day) for day in (date(2026, 10, 30), date(2026, 11, 3),
                                                                  date(2026, 11, 20)))
    factories.exclusion(placement.therapist, excluded_on=date(2026, 11, 1), reinstated_on=date(2026, 11, 15))
    assert holds.reassess([placement.therapist_id]) == 1
    assert [status_of(e.id) for e in (before, during, after)] == ["submitted", "held", "submitted"]
    reasons = db.session.get(TimesheetEntry, during.id).hold_reasons
    assert [r["code"] for r in reasons] == ["excluded"]
    assert "from Nov 1, 2026 until Nov 15, 2026" in reasons[0]["message"]
    # A day recorded now, while excluded, is held as it is recorded.
    assert record(placement, date(2026, 11, 4)).status == "held"


def test_an_npi_on_a_screened_file_holds_the_hours_from_its_exclusion_date_at_once(app):
    placement = factories.active_placement(factories.facility(), start=date(2026, 9, 1))
    placement.therapist.npi = NPI_A
    before, during = record(placement, date(2026, 10, 30)), record(placement, date(2026, 11, 3))
    listed = row("SOMEONE", "ELSE", npi=NPI_A, excluded="20261101")
    screening.screen_file(io.BytesIO(leie(listed)), "UPDATED.csv", "oig_leie")
    assert [status_of(e.id) for e in (before, during)] == ["submitted", "held"]


def test_confirming_a_name_match_holds_the_hours_and_dismissing_one_holds_none(app):
    held_place, free_place = (factories.active_placement(factories.facility(), start=date(2026, 9, 1))
                              for _ in range(2))
    held_day, free_day = record(held_place, date(2026, 11, 3)), record(free_place, date(2026, 11, 3))
    people = [p.therapist for p in (held_place, free_place)]
    run = screening.screen_file(io.BytesIO(leie(*[
        row(t.last_name.upper(), t.first_name.upper(), state=t.home_state, excluded="20261101") for t in people])),
        "UPDATED.csv", "oig_leie")
    assert [status_of(e.id) for e in (held_day, free_day)] == ["submitted", "submitted"]  # pending: a person decides
    hit_of = {hit.therapist_id: hit for hit in run.hits}
    screening.confirm_hit(hit_of[people[0].id], "same date of birth on the board's record", None)
    screening.dismiss_hit(hit_of[people[1].id], "a different middle name and birth date", None)
    assert [status_of(e.id) for e in (held_day, free_day)] == ["held", "submitted"]


def test_a_name_match_waiting_for_a_person_holds_nothing(app):
    placement = factories.active_placement(factories.facility(), start=date(2026, 9, 1))
    factories.exclusion(placement.therapist, excluded_on=date(2026, 1, 1), status="pending", match="name")
    assert record(placement, LICENSED).status == "submitted"


def test_where_the_facility_bills_insurance_days_before_any_payer_approval_are_held(app):
    place = factories.facility(bills_insurance=True, payers=["Aetna", "Fidelis Care"])
    factories.rate_card(place, threshold=None)
    person = factories.licensed_therapist(caqh_id="1", caqh_attested_on=date(2026, 11, 1))
    factories.panel(person, payer="Fidelis Care", status="approved", submitted_on=date(2026, 8, 1),
                    effective_on=date(2026, 10, 15))
    placement = factories.active_placement(place, person, start=date(2026, 9, 1))
    early, approved_day = record(placement, date(2026, 10, 5)), record(placement, LICENSED)
    assert early.status == "held" and approved_day.status == "submitted"
    assert early.hold_reasons == [{"code": "panel_not_approved",
                                   "message": "Not approved with any of the facility's payers (Aetna, Fidelis Care)"}]
    # The payer back-dates the effective date: the panel change frees the day.
    panel = person.panels[0]
    credentials.update_panel(panel, {"effective_on": date(2026, 9, 1)})
    assert status_of(early.id) == "submitted"


def test_a_facility_that_does_not_bill_insurance_holds_no_hours_for_panels(app):
    placement = factories.active_placement(factories.facility(), start=date(2026, 9, 1))
    assert record(placement, date(2026, 10, 5)).status == "submitted"


# ----------------------------------------------------------------------------- the gap resolved


def test_a_back_dated_license_releases_held_hours_only_once_it_is_verified_at_the_primary_source(app):
    placement = late_licensed_placement()
    entry = record(placement, BEFORE_LICENSE)
    license = placement.therapist.licenses[0]
    credentials.update_license(license, {"issued_on": date(2026, 9, 1)})
    assert status_of(entry.id) == "held"
    held = db.session.get(TimesheetEntry, entry.id)
    assert "not yet verified at the primary source" in held.hold_reasons[0]["message"]
    credentials.verify_license(db.session.get(type(license), license.id), date(2026, 11, 20),
                               "NYSED Office of the Professions online verification", None)
    assert status_of(entry.id) == "submitted"
    assert db.session.get(TimesheetEntry, entry.id).hold_reasons is None


def test_a_license_edit_that_opens_a_gap_holds_the_approved_hours_not_yet_invoiced(app):
    placement = late_licensed_placement()
    approved = factories.entry(placement, LICENSED)
    invoiced = factories.entry(placement, date(2026, 10, 20))
    from agency.billing.invoicing import invoice_facility

    invoice_facility(placement.facility_id, date(2026, 10, 1), date(2026, 10, 31))
    assert status_of(invoiced.id) == "invoiced" and status_of(approved.id) == "approved"
    license = placement.therapist.licenses[0]
    # The board's record: the license was in fact issued on Nov 10.
    credentials.update_license(license, {"issued_on": date(2026, 11, 10)})
    assert status_of(approved.id) == "held"
    assert status_of(invoiced.id) == "invoiced"  # what is billed stays billed; the audit shows the change
    events = db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.object_type == "timesheet_entry", AuditEvent.object_id == approved.id)).all()
    assert any("held: No active license" in summary for summary in events)


def test_deleting_the_only_license_holds_the_hours_it_covered(app):
    placement = late_licensed_placement()
    entry = record(placement, LICENSED)
    factories.license(placement.therapist, state="NY", issued_on=date(2026, 9, 1), expires_on=date(2026, 9, 30))
    credentials.delete_license(placement.therapist.licenses[-1])  # the short one, entered in error
    assert status_of(entry.id) == "submitted"
    credentials.delete_license(db.session.get(TimesheetEntry, entry.id).placement.therapist.licenses[0])
    assert status_of(entry.id) == "held"


# ----------------------------------------------------------------------------- the admin's release


def test_an_admin_releases_a_held_entry_with_a_reason_that_is_audited_and_sticks(api):
    placement = late_licensed_placement()
    entry = record(placement, BEFORE_LICENSE)
    reason = "Board confirmed by phone the license was active from Sep 1; written verification to follow"
    released = api("admin").post(f"/api/v1/timesheets/{entry.id}/release", {"reason": reason})
    assert released.status_code == 200, released.json
    assert released.json["status"] == "submitted" and released.json["hold_reasons"] == []
    assert released.json["release_reason"] == reason
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "override",
                                                          AuditEvent.object_id == entry.id))
    assert reason in event.summary and event.changes["reason"] == reason
    # A later credential change judges the therapist's entries again, but not the released day.
    credentials.update_license(placement.therapist.licenses[0], {"expires_on": date(2028, 12, 31)})
    assert status_of(entry.id) == "submitted"
    approved = api("billing").post(f"/api/v1/timesheets/{entry.id}/approve")
    assert approved.status_code == 200 and approved.json["status"] == "approved"


@pytest.mark.parametrize("body, field", [({"reason": "   "}, "reason"), ({}, "reason")])
def test_a_release_without_a_reason_is_refused_and_changes_nothing(api, body, field):
    entry = record(late_licensed_placement(), BEFORE_LICENSE)
    refused = api("admin").post(f"/api/v1/timesheets/{entry.id}/release", body)
    assert refused.status_code == 400 and field in refused.json["error"]["fields"]
    assert status_of(entry.id) == "held"


def test_only_a_held_entry_can_be_released(api):
    entry = record(late_licensed_placement(), LICENSED)
    refused = api("admin").post(f"/api/v1/timesheets/{entry.id}/release", {"reason": "just because"})
    assert refused.status_code == 409 and "not held" in refused.json["error"]["message"]
    with pytest.raises(Conflict):
        holds.release(entry, "again", None)
    with pytest.raises(ValidationError):
        holds.release(entry, "", None)


@pytest.mark.parametrize("role", ["billing", "recruiter", "credentialing", "facility"])
def test_only_an_admin_releases_held_hours(api, users, role):
    place = db.session.get(Facility, users["facility"].facility_id)
    entry = record(late_licensed_placement(place), BEFORE_LICENSE)
    refused = api(role).post(f"/api/v1/timesheets/{entry.id}/release", {"reason": "we need the money"})
    assert refused.status_code == 403
    assert status_of(entry.id) == "held"


def test_the_release_page_action_needs_the_reason_and_releases_with_it(browser):
    entry = record(late_licensed_placement(), BEFORE_LICENSE)
    admin = browser("admin")
    form = admin.get(f"/timesheets/{entry.id}/edit")
    assert b"Held: not approvable until resolved" in form.data and b"No active license" in form.data
    blank = admin.post(f"/timesheets/{entry.id}/release", {"reason": ""}, form_url=f"/timesheets/{entry.id}/edit",
                       follow_redirects=True)
    assert b"Not released" in blank.data and status_of(entry.id) == "held"
    no_token = admin.client.post(f"/timesheets/{entry.id}/release", data={"reason": "ok"})
    assert no_token.status_code == 400 and status_of(entry.id) == "held"  # CSRF
    done = admin.post(f"/timesheets/{entry.id}/release", {"reason": "Verified with the board by phone"},
                      form_url=f"/timesheets/{entry.id}/edit", follow_redirects=True)
    assert b"released from hold" in done.data and status_of(entry.id) == "submitted"
    billing = browser("billing")
    assert b"Release from hold" not in billing.get(f"/timesheets/{entry.id}/edit").data


# ----------------------------------------------------------------------------- never approved


def test_approving_a_held_entry_through_the_api_is_a_conflict_that_says_why(api):
    entry = record(late_licensed_placement(), BEFORE_LICENSE)
    refused = api("billing").post(f"/api/v1/timesheets/{entry.id}/approve")
    assert refused.status_code == 409
    assert "held and cannot be approved" in refused.json["error"]["message"]
    assert "No active license or compact privilege in NY" in refused.json["error"]["message"]
    assert status_of(entry.id) == "held"
    # Rejecting held hours (not worked after all) is allowed; approving them later judges them again.
    rejected = api("billing").post(f"/api/v1/timesheets/{entry.id}/reject", {"reason": "not on the sign-in sheet"})
    assert rejected.status_code == 200 and rejected.json["hold_reasons"] == []
    again = api("billing").post(f"/api/v1/timesheets/{entry.id}/approve")
    assert again.status_code == 409 and status_of(entry.id) == "rejected"


def test_the_timesheet_page_refuses_to_approve_held_hours_and_bulk_approval_skips_them(browser):
    placement = late_licensed_placement()
    held, fine = record(placement, BEFORE_LICENSE), record(placement, LICENSED)
    b = browser("billing")
    alone = b.post("/timesheets/decide", {"entry_ids": [held.id], "approve": "Approve selected"},
                   form_url="/timesheets", follow_redirects=True)
    assert b"Nothing changed" in alone.data and b"held and cannot be approved" in alone.data
    both = b.post("/timesheets/decide", {"entry_ids": [held.id, fine.id], "approve": "Approve selected"},
                  form_url="/timesheets", follow_redirects=True)
    assert b"1 entry approved" in both.data and b"1 held entry was not approved" in both.data
    assert status_of(held.id) == "held" and status_of(fine.id) == "approved"


def test_the_portal_shows_its_own_held_hours_and_why_and_refuses_to_approve_them(browser, users):
    own = db.session.get(Facility, users["facility"].facility_id)
    held = record(late_licensed_placement(own), BEFORE_LICENSE)
    other = record(late_licensed_placement(factories.facility(name="Lakeside Crisis Center")), BEFORE_LICENSE)
    contact = browser("facility")
    portal = contact.get("/portal")
    assert b"Hours on hold" in portal.data
    # The contact reads why in neutral words, never the credential behind it (as readiness tells them).
    assert b"Held until the therapist&#39;s license in this state is confirmed" in portal.data
    assert b"No active license" not in portal.data
    assert held.placement.therapist.full_name.encode() in portal.data
    assert other.placement.therapist.full_name.encode() not in portal.data
    refused = contact.post("/timesheets/decide", {"entry_ids": [held.id], "approve": "Approve selected",
                                                 "next": "/portal"}, form_url="/portal", follow_redirects=True)
    assert b"held and cannot be approved" in refused.data and status_of(held.id) == "held"
    # Another facility's entry is not found for this contact, held or not.
    elsewhere = contact.post("/timesheets/decide", {"entry_ids": [other.id], "approve": "Approve selected",
                                                   "next": "/portal"}, form_url="/portal", follow_redirects=True)
    assert b"Nothing changed" in elsewhere.data and status_of(other.id) == "held"


def test_a_facility_contact_cannot_see_another_facility_s_held_entry(api, users):
    other = record(late_licensed_placement(factories.facility(name="Lakeside Crisis Center")), BEFORE_LICENSE)
    assert api("facility").get(f"/api/v1/timesheets/{other.id}").status_code == 404
    assert api("facility").post(f"/api/v1/timesheets/{other.id}/approve").status_code == 404


# ----------------------------------------------------------------------------- shown where people look


def test_the_timesheets_list_the_placement_page_and_the_watch_show_held_hours_and_why(browser):
    placement = late_licensed_placement()
    record(placement, BEFORE_LICENSE)
    record(placement, date(2026, 10, 2))
    b = browser("admin")
    listing = b.get("/timesheets?status=held")
    assert b"badge-held" in listing.data
    assert b"No active license or compact privilege in NY on Oct 2, 2026" in listing.data
    page = b.get(f"/placements/{placement.id}")
    assert b'id="held-hours"' in page.data and b"2 entries, 16.00 hours in all" in page.data
    assert b"on Oct 1, 2026" in page.data
    watch = b.get("/placements/watch?code=hours_held")
    assert b"2 timesheet entries held" in watch.data and f"/placements/{placement.id}#held-hours".encode() in watch.data
    csv = b.get("/timesheets?status=held&format=csv")
    assert b"No active license" in csv.data


def test_the_watch_api_lists_placements_with_held_hours(api):
    placement = late_licensed_placement()
    record(placement, BEFORE_LICENSE)
    items = api("credentialing").get("/api/v1/placements/watch?code=hours_held").json["items"]
    assert [(i["placement_id"], i["code"]) for i in items] == [(placement.id, "hours_held")]


# ----------------------------------------------------------------------------- never invoiced


def test_an_invoice_run_bills_around_held_hours_and_reports_them_as_it_reports_unpriced_ones(api, users):
    placement = late_licensed_placement()
    held = record(placement, BEFORE_LICENSE)
    factories.entry(placement, LICENSED)
    handle = start_invoice_run(date(2026, 10, 1), date(2026, 11, 30), None, users["billing"])
    assert handle.status == "finished"
    invoice = db.session.get(Invoice, handle.result["invoice_ids"][0])
    assert invoice.total == Decimal("720.00")  # the licensed day's 8 hours at $90, not the held day's
    assert handle.result["held"] == [{"entry_id": held.id, "reason": "held: No active license or compact "
                                      "privilege in NY on Oct 1, 2026"}]
    assert status_of(held.id) == "held"
    job = api("billing").get(f"/api/v1/jobs/{handle.id}").json
    assert job["result"]["held"] == handle.result["held"] and job["result"]["unpriced"] == []


def test_a_run_of_a_facility_with_only_held_hours_makes_no_invoice_and_reports_them(browser, users):
    placement = late_licensed_placement()
    held = record(placement, BEFORE_LICENSE)
    handle = start_invoice_run(date(2026, 10, 1), date(2026, 10, 31), placement.facility_id, users["billing"])
    assert handle.result["invoice_ids"] == []
    assert [h["entry_id"] for h in handle.result["held"]] == [held.id]
    run_page = browser("billing").get(f"/invoices/runs/{handle.id}")
    assert b"1 held entry not billed" in run_page.data and b"No active license" in run_page.data


def test_released_hours_once_approved_are_invoiced(api, users):
    placement = late_licensed_placement()
    entry = record(placement, BEFORE_LICENSE)
    holds.release(entry, "verified by phone", users["admin"])
    timesheets.decide([db.session.get(TimesheetEntry, entry.id)], True, users["billing"])
    handle = start_invoice_run(date(2026, 10, 1), date(2026, 10, 31), None, users["billing"])
    assert len(handle.result["invoice_ids"]) == 1 and handle.result["held"] == []
    assert status_of(entry.id) == "invoiced"


# ----------------------------------------------------------------------------- the CSV import


def test_a_csv_import_records_every_row_and_holds_the_days_in_a_gap(api):
    placement = late_licensed_placement()
    csv = ("placement_id,work_date,direct_care_hours\n"
           f"{placement.id},{BEFORE_LICENSE.isoformat()},8\n"
           f"{placement.id},{LICENSED.isoformat()},7.5\n")
    report = api("billing").post("/api/v1/timesheets/import", {"csv": csv, "dry_run": False})
    assert report.status_code == 200, report.json
    assert report.json["imported"] == 2 and report.json["held"] == 1
    statuses = dict(db.session.execute(sa.select(TimesheetEntry.work_date, TimesheetEntry.status)
                                       .where(TimesheetEntry.placement_id == placement.id)).all())
    assert statuses == {BEFORE_LICENSE: "held", LICENSED: "submitted"}


def test_the_csv_import_page_says_how_many_rows_are_held(browser):
    placement = late_licensed_placement()
    csv = f"placement_id,work_date,direct_care_hours\n{placement.id},{BEFORE_LICENSE.isoformat()},8\n"
    b = browser("billing")
    done = b.post("/timesheets/import", {"file": (__import__("io").BytesIO(csv.encode()), "hours.csv"),
                                         "dry_run": ""}, form_url="/timesheets/import",
                  content_type="multipart/form-data", follow_redirects=True)
    assert b"Imported 1 entries. 1 of them held" in done.data


# ----------------------------------------------------------------------------- bounded work


def _many(placement, count: int) -> list[TimesheetEntry]:
    entries = [TimesheetEntry(placement_id=placement.id, work_date=date(2026, 9, 1 + n), status="submitted",
                              direct_care_hours=Decimal("1"), supervision_hours=Decimal("0"),
                              travel_miles=Decimal("0")) for n in range(count)]
    db.session.add_all(entries)
    db.session.commit()
    return entries


def test_judging_and_reassessing_many_entries_takes_the_same_queries_as_a_few(app):
    small, large = late_licensed_placement(), late_licensed_placement()
    few, many = _many(small, 3), _many(large, 28)
    db.session.expire_all()
    assert count_statements(lambda: holds.reassess([small.therapist_id])) == count_statements(
        lambda: holds.reassess([large.therapist_id]))
    assert {status_of(e.id) for e in few + many} == {"held"}
    # Judged again with nothing changed: still the same, and still as few queries.
    db.session.expire_all()
    assert count_statements(lambda: holds.reassess([small.therapist_id])) == count_statements(
        lambda: holds.reassess([large.therapist_id]))


def test_the_csv_import_judges_its_rows_in_a_fixed_number_of_queries(app):
    placements = [late_licensed_placement() for _ in range(2)]

    def judged(count):
        entries = [TimesheetEntry(placement_id=p.id, work_date=date(2026, 10, 1 + n), status="submitted",
                                  direct_care_hours=Decimal("1")) for p in placements for n in range(count)]
        db.session.add_all(entries)
        db.session.flush()
        db.session.expire_all()
        entries = db.session.scalars(sa.select(TimesheetEntry).where(
            TimesheetEntry.id.in_([e.id for e in entries]))).all()
        statements = count_statements(lambda: holds.settle(entries))
        db.session.rollback()
        return statements

    assert judged(2) == judged(12)


# ----------------------------------------------------------------------------- other writes judge again


def test_correcting_a_held_entry_keeps_it_held_and_a_released_day_moved_is_judged_afresh(app, users):
    placement = late_licensed_placement()
    entry = record(placement, BEFORE_LICENSE)
    timesheets.update_entry(entry, {"direct_care_hours": Decimal("6")})
    assert status_of(entry.id) == "held"
    entry = holds.release(db.session.get(TimesheetEntry, entry.id), "Board confirmed by phone", users["admin"])
    timesheets.update_entry(entry, {"direct_care_hours": Decimal("7")})
    assert status_of(entry.id) == "submitted"  # the release is for its day, whatever the hours
    timesheets.update_entry(db.session.get(TimesheetEntry, entry.id), {"work_date": date(2026, 10, 2)})
    moved = db.session.get(TimesheetEntry, entry.id)
    assert moved.status == "held" and moved.release_reason is None


def codes_of(entry_id: int) -> list[str]:
    db.session.rollback()
    return [r["code"] for r in db.session.get(TimesheetEntry, entry_id).hold_reasons or []]


def screened_excluded(therapist, excluded="20261001"):
    """The therapist's NPI on an OIG file, excluded from the day given: a confirmed hit, hours judged again."""
    therapist.npi = NPI_A
    screening.screen_file(io.BytesIO(leie(row("SOMEONE", "ELSE", npi=NPI_A, excluded=excluded))),
                          "UPDATED.csv", "oig_leie")


# ----------------------------------------------------------------------------- a void judges again


def test_a_void_judges_the_hours_it_frees_so_days_worked_while_excluded_are_held_not_billed_again(app, users):
    placement = late_licensed_placement()
    fine, excluded_day = factories.entry(placement, LICENSED), factories.entry(placement, date(2026, 11, 3))
    invoice, _ = invoice_facility(placement.facility_id, date(2026, 11, 1), date(2026, 11, 30))
    # The exclusion is confirmed after the hours were billed: what is billed stays billed until the void.
    factories.exclusion(placement.therapist, excluded_on=date(2026, 11, 3))
    assert holds.reassess([placement.therapist_id]) == 0
    assert status_of(excluded_day.id) == "invoiced"
    receivables.void_invoice(db.session.get(Invoice, invoice.id), "billed to the wrong cost centre", users["billing"])
    assert status_of(fine.id) == "approved" and status_of(excluded_day.id) == "held"
    assert codes_of(excluded_day.id) == ["excluded"]
    events = db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.object_type == "timesheet_entry", AuditEvent.object_id == excluded_day.id)).all()
    assert any("held: Excluded from federal health care programs" in summary for summary in events)
    handle = start_invoice_run(date(2026, 11, 1), date(2026, 11, 30), None, users["billing"])
    rebilled = db.session.get(Invoice, handle.result["invoice_ids"][0])
    assert rebilled.total == Decimal("720.00")  # the day before the exclusion, not the day of it
    assert [h["entry_id"] for h in handle.result["held"]] == [excluded_day.id]
    assert status_of(excluded_day.id) == "held" and status_of(fine.id) == "invoiced"


# ----------------------------------------------------------------------------- changes that alter the answer


def insured_placement(payer="Fidelis Care", effective_on=date(2024, 1, 1)):
    """A therapist approved with the facility's one payer since Jan 1, 2024 (re-credentialing due Jan 1, 2027
    by the 36-month default), placed at a New York facility that bills insurance."""
    place = factories.facility(bills_insurance=True, payers=[payer])
    factories.rate_card(place, threshold=None)
    person = factories.licensed_therapist()
    factories.panel(person, payer=payer, status="approved", submitted_on=date(2023, 10, 1), effective_on=effective_on)
    return factories.active_placement(place, person, start=date(2026, 9, 1))


def payer_rule(payer, months):
    return rules.save_payer_rule(None, {"payer": payer, "months": months, "source": "Payer provider manual",
                                        "checked_on": date(2026, 11, 2)})


def test_a_shorter_re_credentialing_rule_for_a_payer_holds_the_approved_hours_after_the_new_due_date(app):
    placement = insured_placement()
    other = insured_placement(payer="Aetna")
    entry, untouched = factories.entry(placement, LICENSED), factories.entry(other, LICENSED)
    assert status_of(entry.id) == "approved"
    # 24 months after Jan 1, 2024: the payer dropped her on Jan 1, 2026, whatever the letter case of its name.
    rule = payer_rule("FIDELIS CARE", 24)
    assert status_of(entry.id) == "held" and codes_of(entry.id) == ["panel_not_approved"]
    assert status_of(untouched.id) == "approved"
    # The rule removed, the default's 36 months apply again: the day is no longer held.
    rules.delete_payer_rule(rule)
    assert status_of(entry.id) == "submitted"


def test_a_shorter_default_re_credentialing_rule_holds_the_hours_of_every_payer_it_governs(app):
    placement = insured_placement(payer="Empire BCBS")
    entry = factories.entry(placement, LICENSED)
    payer_rule(None, 24)
    assert status_of(entry.id) == "held" and codes_of(entry.id) == ["panel_not_approved"]


def test_a_facility_that_starts_billing_insurance_or_changes_its_payers_holds_the_hours_of_its_therapists(app):
    placement = factories.active_placement(factories.facility(), start=date(2026, 9, 1))
    factories.panel(placement.therapist, payer="Fidelis Care", status="approved", submitted_on=date(2026, 8, 1),
                    effective_on=date(2026, 9, 1))
    entry = factories.entry(placement, LICENSED)
    facilities.update_facility(placement.facility, {"bills_insurance": True, "payers": ["Fidelis Care"]})
    assert status_of(entry.id) == "approved"  # approved with the payer that day
    timesheets_entry = factories.entry(placement, date(2026, 11, 3))
    facilities.update_facility(db.session.get(Facility, placement.facility_id), {"payers": ["Aetna"]})
    assert status_of(entry.id) == status_of(timesheets_entry.id) == "held"
    assert codes_of(entry.id) == ["panel_not_approved"]
    facilities.update_facility(db.session.get(Facility, placement.facility_id), {"bills_insurance": False})
    assert status_of(entry.id) == "submitted"


def test_a_new_service_state_holds_the_approved_hours_not_yet_invoiced_for_a_day_without_a_license_there(app):
    place = factories.facility()
    person = factories.licensed_therapist(state="NY")
    placement = factories.placement(person, place, start=date(2026, 9, 1))
    # Days already on file for the placement (recorded before its terms changed), approved.
    entry = TimesheetEntry(placement_id=placement.id, work_date=LICENSED, status="approved",
                           direct_care_hours=Decimal("8"), supervision_hours=Decimal("0"), travel_miles=Decimal("0"))
    db.session.add(entry)
    db.session.commit()
    placements.update_placement(db.session.get(Placement, placement.id), {"service_states": ["NY", "NJ"]})
    assert status_of(entry.id) == "held" and codes_of(entry.id) == ["no_license_in_state"]
    assert "in NJ" in db.session.get(TimesheetEntry, entry.id).hold_reasons[0]["message"]


# ----------------------------------------------------------------------------- a release covers its reasons


def test_a_release_for_a_license_gap_does_not_cover_an_exclusion_confirmed_later_that_day(app, users):
    placement = late_licensed_placement()
    entry = holds.release(record(placement, BEFORE_LICENSE), "Board confirmed the license by phone", users["admin"])
    assert entry.released_codes == ["no_license_in_state"]
    screened_excluded(placement.therapist, excluded="20261001")
    assert status_of(entry.id) == "held" and codes_of(entry.id) == ["excluded"]
    held = db.session.get(TimesheetEntry, entry.id)
    assert held.release_reason == "Board confirmed the license by phone"  # the release stands for its codes
    events = db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.object_type == "timesheet_entry", AuditEvent.object_id == entry.id)).all()
    assert any("held: Excluded from federal health care programs" in summary for summary in events)
    with pytest.raises(Conflict):
        timesheets.decide([held], True, users["billing"])
    # An admin who releases it again releases it for both codes: judging again leaves it submitted.
    holds.release(held, "OIG waiver on file for the day", users["admin"])
    assert db.session.get(TimesheetEntry, entry.id).released_codes == ["excluded", "no_license_in_state"]
    holds.reassess([placement.therapist_id])
    assert status_of(entry.id) == "submitted"


def test_a_renewal_judging_a_released_entry_again_does_not_hold_it_for_the_code_released(app, users):
    placement = late_licensed_placement()
    entry = holds.release(record(placement, BEFORE_LICENSE), "Board confirmed the license by phone", users["admin"])
    credentials.update_license(placement.therapist.licenses[0], {"expires_on": date(2030, 6, 30)})
    assert status_of(entry.id) == "submitted"
    timesheets.decide([db.session.get(TimesheetEntry, entry.id)], True, users["billing"])
    credentials.update_license(db.session.get(TimesheetEntry, entry.id).placement.therapist.licenses[0],
                               {"expires_on": date(2030, 12, 31)})
    assert status_of(entry.id) == "approved"


# ----------------------------------------------------------------------------- what a facility reads


def excluded_at(place):
    """A held day at the facility: no New York license yet, and excluded from federal programs from Oct 1."""
    placement = late_licensed_placement(place)
    screened_excluded(placement.therapist)
    return record(placement, BEFORE_LICENSE)


def test_a_facility_contact_reads_why_hours_are_held_in_neutral_words_through_the_api(api, users):
    entry = excluded_at(db.session.get(Facility, users["facility"].facility_id))
    holds.release(entry, "OIG: wrong person, confirmed by date of birth", users["admin"])
    holds.reassess([entry.placement.therapist_id])
    entry = db.session.get(TimesheetEntry, entry.id)
    assert entry.status == "submitted"
    entry = record(entry.placement, date(2026, 10, 2))  # another day, held for both reasons
    contact = api("facility")
    seen = contact.get(f"/api/v1/timesheets/{entry.id}").json
    assert seen["hold_reasons"] == [
        {"code": "no_license_in_state", "message": "Held until the therapist's license in this state is confirmed"},
        {"code": "excluded", "message": "Held for a compliance review"}]
    listed = contact.get(f"/api/v1/timesheets?placement_id={entry.placement_id}").json["items"]
    assert "Excluded" not in str(listed) and "No active license" not in str(listed)
    assert "confirmed by date of birth" not in str(listed)  # nor the admin's release reason
    refused = contact.post(f"/api/v1/timesheets/{entry.id}/approve")
    assert refused.status_code == 409 and "Held for a compliance review" in refused.json["error"]["message"]
    assert "Excluded" not in refused.json["error"]["message"]
    staff = api("billing").get(f"/api/v1/timesheets/{entry.id}").json
    assert [r["code"] for r in staff["hold_reasons"]] == ["no_license_in_state", "excluded"]
    assert staff["hold_reasons"][1]["message"].startswith("Excluded from federal health care programs from Oct 1")


def test_the_portal_the_timesheets_pages_and_the_csv_show_a_facility_neutral_words_and_staff_the_details(
        browser, users):
    entry = excluded_at(db.session.get(Facility, users["facility"].facility_id))
    contact = browser("facility")
    for page in (contact.get("/portal"), contact.get("/timesheets?status=held"),
                 contact.get(f"/placements/{entry.placement_id}")):
        assert page.status_code == 200
        assert b"Held for a compliance review" in page.data
        assert b"Excluded" not in page.data and b"No active license" not in page.data
    csv = contact.get("/timesheets?status=held&format=csv")
    assert b"Held for a compliance review" in csv.data and b"Excluded" not in csv.data
    admin = browser("admin")
    for page in (admin.get("/timesheets?status=held"), admin.get(f"/placements/{entry.placement_id}")):
        assert b"Excluded from federal health care programs from Oct 1, 2026" in page.data
    assert b"Excluded from federal" in admin.get("/timesheets?status=held&format=csv").data
