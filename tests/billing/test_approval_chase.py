"""Hours waiting past a facility's approval window are chased: the approver, the alternate, then the recruiter,
each once; the portal and the API say what waits and since when."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.billing import approvals, holds, timesheets
from agency.billing.jobs import approval_chase
from agency.billing.models import ApprovalChase
from agency.core.dates import add_business_days, as_utc, business_days_between, is_business_day, iso, start_of
from agency.core.outbox import OutboxMessage
from agency.extensions import db
from agency.facilities import services as facility_services
from agency.facilities.models import Facility
from tests import factories, workers
from tests.smtp import smtp_server

THURSDAY = date(2026, 11, 19)
WORKED = date(2026, 11, 18)


def mail_to(address: str) -> list[OutboxMessage]:
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_addr == address)
                              .order_by(OutboxMessage.id)).all()


def steps_sent(entry) -> list[str]:
    return approvals.chased_steps([entry.id]).get(entry.id, [])


def clinic(place=None, *, alternate=True, window=3):
    """A facility whose clinical director is the primary approver and (if asked) its HR lead the alternate."""
    place = place or factories.facility(approval_window_days=window)
    facility_services.add_contact(place, {"role": "clinical_director", "name": "Dr. Renee Holt",
                                          "email": f"director{place.id}@clinic.example.org", "approver": "primary"})
    if alternate:
        facility_services.add_contact(place, {"role": "hr", "name": "Sam Ortiz",
                                              "email": f"hr{place.id}@clinic.example.org", "approver": "alternate"})
    return place


def waiting(place, recruiter=None, day=WORKED, submitted=THURSDAY, therapist=None):
    """A day of hours at the facility, submitted on the given day in the afternoon and not decided."""
    placement = factories.active_placement(place, therapist=therapist)
    if recruiter is not None:
        placement.recruiter_id = recruiter.id
    entry = factories.entry(placement, day, direct="7.5", supervision="0.5", approve=False)
    entry.submitted_at = start_of(submitted) + timedelta(hours=15)
    db.session.commit()
    return entry


def test_business_days_skip_the_weekend():
    assert business_days_between(THURSDAY, date(2026, 11, 24)) == 3  # Friday, Monday, Tuesday
    assert business_days_between(THURSDAY, date(2026, 11, 22)) == 1  # Friday only: Saturday and Sunday are not
    assert business_days_between(THURSDAY, THURSDAY) == 0
    assert business_days_between(date(2026, 8, 3), date(2026, 8, 31)) == 20  # four whole weeks, no holiday
    assert add_business_days(THURSDAY, 3) == date(2026, 11, 24)
    assert add_business_days(date(2026, 11, 21), 1) == date(2026, 11, 23)  # Saturday to Monday


def test_business_days_skip_federal_holidays_as_observed():
    # Thanksgiving, Thursday Nov 26, 2026: Friday through Monday Nov 30 is 6 business days, not 7.
    assert business_days_between(THURSDAY, date(2026, 11, 30)) == 6
    assert add_business_days(date(2026, 11, 25), 1) == date(2026, 11, 27)
    assert not is_business_day(date(2026, 7, 3))  # Independence Day on a Saturday is observed the Friday
    assert not is_business_day(date(2027, 12, 31))  # New Year's Day 2028 is a Saturday: observed in 2027
    assert is_business_day(date(2026, 12, 24)) and not is_business_day(date(2026, 12, 25))


def test_thursday_hours_are_chased_to_the_approver_tuesday_the_alternate_wednesday_the_recruiter_after_thanksgiving(
        app, users):
    place = clinic()
    entry = waiting(place, recruiter=users["recruiter"])
    director, hr = f"director{place.id}@clinic.example.org", f"hr{place.id}@clinic.example.org"

    # Monday Nov 23 is the second business day of a three-day window; the weekend counted for nothing.
    for day in (date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)):
        assert approval_chase(day.isoformat())["sent"] == []
    assert approval_chase("2026-11-24")["sent"] == [{"entry_id": entry.id, "step": "approver", "to": director}]
    assert approval_chase("2026-11-25")["sent"] == [{"entry_id": entry.id, "step": "alternate", "to": hr}]
    assert approval_chase("2026-11-26")["sent"] == []  # Thanksgiving is no business day
    assert approval_chase("2026-11-27")["sent"] == [
        {"entry_id": entry.id, "step": "recruiter", "to": users["recruiter"].email}]
    assert approval_chase("2026-11-30")["sent"] == []
    assert steps_sent(entry) == ["approver", "alternate", "recruiter"]

    (to_director,) = mail_to(director)
    assert to_director.subject == "1 timesheet entry waiting for approval"
    assert "Nov 18, 2026: 8.00 h, waiting 3 business days, since Nov 19" in to_director.body
    assert "/portal#approvals" in to_director.body
    (to_recruiter,) = mail_to(users["recruiter"].email)
    assert "waiting 5 business days, since Nov 19" in to_recruiter.body
    assert "/timesheets?status=submitted" in to_recruiter.body


def test_approval_before_a_step_stops_the_chase(app, users):
    place = clinic()
    entry = waiting(place, recruiter=users["recruiter"])
    approval_chase("2026-11-24")
    timesheets.decide([entry], True, users["facility"])

    assert approval_chase("2026-11-25")["sent"] == []
    assert approval_chase("2026-11-26")["sent"] == []
    assert steps_sent(entry) == ["approver"]
    assert mail_to(f"hr{place.id}@clinic.example.org") == []


def test_a_correction_sent_back_for_approval_restarts_the_clock_and_the_chase(app, users):
    place = clinic()
    entry = waiting(place, recruiter=users["recruiter"])
    approval_chase("2026-11-24")
    timesheets.decide([entry], False, users["facility"], reason="Hours do not match the sign-in sheet")
    before = entry.submitted_at
    timesheets.update_entry(entry, {"direct_care_hours": Decimal("7")}, users["billing"])

    assert entry.status == "submitted" and as_utc(entry.submitted_at) > as_utc(before)
    assert steps_sent(entry) == []  # the new submission starts its own chase
    # Wednesday would have been the alternate's day for the first submission; the new one has not waited.
    assert approval_chase("2026-11-25")["sent"] == []


def test_hours_released_from_a_hold_wait_from_their_release(app, users):
    place = clinic()
    entry = waiting(place, recruiter=users["recruiter"])
    entry.status, entry.hold_reasons = "held", [{"code": "excluded", "message": "on the exclusion list"}]
    db.session.commit()
    assert approval_chase("2026-11-24")["sent"] == []  # held hours wait for the agency, not the facility

    holds.release(entry, "Cleared by the OIG on appeal", users["admin"])
    assert entry.status == "submitted" and as_utc(entry.submitted_at) > start_of(THURSDAY) + timedelta(hours=15)


def test_one_approver_gets_one_email_for_the_hours_of_two_placements(app, users):
    place = clinic()
    first = waiting(place, recruiter=users["recruiter"])
    second = waiting(place, recruiter=users["recruiter"], day=date(2026, 11, 17))

    sent = approval_chase("2026-11-24")["sent"]
    assert {(s["entry_id"], s["step"]) for s in sent} == {(first.id, "approver"), (second.id, "approver")}
    (message,) = mail_to(f"director{place.id}@clinic.example.org")
    assert message.subject == "2 timesheet entries waiting for approval"
    assert first.placement.therapist.full_name in message.body
    assert second.placement.therapist.full_name in message.body
    assert "Nov 17, 2026: 8.00 h, waiting 3 business days, since Nov 19" in message.body


def test_no_alternate_skips_to_the_recruiter_and_no_marked_approver_means_the_clinical_director(app, users):
    place = factories.facility()
    facility_services.add_contact(place, {"role": "clinical_director", "name": "Dr. Ada Moss",
                                          "email": "moss@clinic.example.org"})
    entry = waiting(place, recruiter=users["recruiter"])

    assert [s["to"] for s in approval_chase("2026-11-24")["sent"]] == ["moss@clinic.example.org"]
    assert approval_chase("2026-11-25")["sent"] == []
    assert [s["step"] for s in approval_chase("2026-11-27")["sent"]] == ["recruiter"]
    assert steps_sent(entry) == ["approver", "recruiter"]


def test_a_longer_window_waits_longer(app, users):
    place = clinic(factories.facility(approval_window_days=5))
    entry = waiting(place)
    assert approval_chase("2026-11-26")["sent"] == []
    # Friday Nov 27 is the fifth business day: Thanksgiving does not count.
    assert [s["step"] for s in approval_chase("2026-11-27")["sent"]] == ["approver"]
    assert steps_sent(entry) == ["approver"]


def test_the_chase_run_twice_by_a_real_worker_sends_each_reminder_once(app, users, redis_url):
    from agency.core.jobs import enqueue

    place = clinic()
    waiting(place, recruiter=users["recruiter"])
    waiting(place, recruiter=users["recruiter"])
    with smtp_server(app) as inbox, workers.jobs_on_redis(app, redis_url):
        enqueue(approval_chase, "2026-11-24")
        enqueue(approval_chase, "2026-11-24")
        logs = workers.wait(workers.start_worker(redis_url, MAIL_SERVER="127.0.0.1",
                                                 MAIL_PORT=str(app.config["MAIL_PORT"])))
    db.session.expire_all()
    director = f"director{place.id}@clinic.example.org"
    assert len(inbox.to(director)) == 1, logs
    assert inbox.to(director)[0]["subject"] == "2 timesheet entries waiting for approval"
    assert len(inbox.messages) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalChase)) == 2


def test_two_chases_at_once_on_two_real_workers_send_each_reminder_once(app, users, redis_url):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL; SQLite serialises all writers")
    from agency.core.jobs import enqueue

    places = [clinic() for _ in range(3)]
    for place in places:
        waiting(place, recruiter=users["recruiter"])
    with workers.jobs_on_redis(app, redis_url):
        enqueue(approval_chase, "2026-11-27")
        enqueue(approval_chase, "2026-11-27")
        first, second = (workers.start_worker(redis_url) for _ in range(2))
        logs = workers.wait(first) + workers.wait(second)
    db.session.expire_all()
    # Three facilities' approvers and alternates, and their one recruiter for all three entries.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalChase)) == 9, logs
    assert len(mail_to(users["recruiter"].email)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 7


def test_the_portal_shows_the_contact_what_waits_and_since_when_and_nothing_of_another_facility(
        app, users, browser):
    riverside = clinic(db.session.get(Facility, users["facility"].facility_id))
    elsewhere = clinic()
    ours = waiting(riverside)
    newer = waiting(riverside, day=date(2026, 11, 23), submitted=date(2026, 11, 24))
    theirs = waiting(elsewhere)

    page = browser("facility").get("/portal").get_data(as_text=True)
    assert "waiting 4 business days, since Nov 19" in page  # today is Wednesday Nov 25
    assert "waiting 1 business day, since Nov 24" in page
    assert page.index(ours.placement.therapist.full_name) < page.index(newer.placement.therapist.full_name)
    assert theirs.placement.therapist.full_name not in page


def test_the_waiting_list_api_is_scoped_and_says_the_steps_sent(app, users, api):
    riverside = clinic(db.session.get(Facility, users["facility"].facility_id))
    ours = waiting(riverside)
    theirs = waiting(clinic())
    approval_chase("2026-11-24")

    mine = api("facility").get("/api/v1/timesheets/waiting?as_of=2026-11-24")
    assert mine.status_code == 200
    assert mine.json["items"] == [{
        "entry_id": ours.id, "placement_id": ours.placement_id, "work_date": "2026-11-18", "hours": "8.00",
        "submitted_at": iso(ours.submitted_at), "business_days_waiting": 3,
        "chased": ["approver"]}]
    staff = api("billing").get(f"/api/v1/timesheets/waiting?facility_id={theirs.placement.facility_id}").json
    assert [(item["entry_id"], item["business_days_waiting"]) for item in staff["items"]] == [(theirs.id, 4)]
    assert api("billing").get("/api/v1/timesheets/waiting?as_of=soon").status_code == 400
    one = api("facility").get(f"/api/v1/timesheets/{ours.id}").json
    assert one["submitted_at"] == mine.json["items"][0]["submitted_at"]


def test_the_window_and_the_approvers_are_set_through_the_api_and_checked(app, users, api):
    billing = api("billing")
    place = factories.facility()
    assert place.approval_window_days == 3
    for bad in (0, 31, "three"):
        response = billing.patch(f"/api/v1/facilities/{place.id}", {"approval_window_days": bad})
        assert response.status_code == 400 and "approval_window_days" in response.json["error"]["fields"]
    assert billing.patch(f"/api/v1/facilities/{place.id}", {"approval_window_days": 5}).json[
        "approval_window_days"] == 5

    first = billing.post(f"/api/v1/facilities/{place.id}/contacts", {
        "role": "clinical_director", "name": "Dr. Ada Moss", "email": "moss@clinic.example.org",
        "approver": "primary"})
    assert first.status_code == 201
    second = billing.post(f"/api/v1/facilities/{place.id}/contacts", {
        "role": "hr", "name": "Sam Ortiz", "email": "ortiz@clinic.example.org"}).json
    clash = billing.patch(f"/api/v1/facility-contacts/{second['id']}", {"approver": "primary"})
    assert clash.status_code == 409 and "primary approver" in clash.json["error"]["message"]
    made = billing.patch(f"/api/v1/facility-contacts/{second['id']}", {"approver": "alternate"})
    assert made.status_code == 200 and made.json["approver"] == "alternate"
    assert billing.patch(f"/api/v1/facility-contacts/{second['id']}", {"approver": "boss"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Facility, place.id).approver("alternate").email == "ortiz@clinic.example.org"


def test_the_facility_page_marks_an_approver(app, users, browser):
    place = factories.facility()
    contact = facility_services.add_contact(place, {"role": "hr", "name": "Sam Ortiz",
                                                    "email": "ortiz@clinic.example.org"})
    staff = browser("recruiter")
    done = staff.post(f"/facility-contacts/{contact.id}/approver", {"approver": "alternate"},
                      form_url=f"/facilities/{place.id}", follow_redirects=True)
    assert "Sam Ortiz is the alternate approver." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Facility, place.id).approver("alternate").id == contact.id


def test_the_chase_is_registered_with_rqs_cron_and_its_mail_is_billings(app):
    from rq.cron import CronScheduler

    from agency import ROOT
    from agency.core.outbox import kind_for

    scheduler = CronScheduler(connection=None, name="test")
    scheduler.load_config_from_file(str(ROOT / "agency" / "cron.py"))
    names = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert names["approval_chase"].cron == app.config["APPROVAL_CHASE_CRON"] == "0 14 * * *"
    assert kind_for("approval-chase:moss@clinic.example.org:2026-11-24") == "billing"
