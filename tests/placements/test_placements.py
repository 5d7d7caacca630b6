"""The placement pipeline, onboarding checklists, check-ins, assignments and the recruiter's worklist.

Today is TODAY (2026-11-25, pinned in config/test.toml); the usual start is START (2026-12-14).
"""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from agency.auth.services import create_user
from agency.core.audit import AuditEvent
from agency.core.errors import Conflict, Forbidden, ValidationError
from agency.core.outbox import OutboxMessage
from agency.extensions import db
from agency.placements.matching import match_assignment
from agency.placements.models import AssignmentAlert, Placement, PlacementEvent
from agency.placements.services import (
    change_status,
    create_placement,
    record_checkin,
    send_assignment_alert,
    set_checklist_item,
    update_placement,
)
from agency.placements.worklist import recruiter_worklist
from tests import factories
from tests.conftest import PASSWORD
from tests.factories import TODAY
from tests.sql import counted


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def snapshot(placement):
    """What a refused change must leave exactly as it was."""
    db.session.expire_all()
    placement = db.session.get(Placement, placement.id)
    return (placement.status, count(PlacementEvent, PlacementEvent.placement_id == placement.id),
            count(AuditEvent))


def ready_placement(place=None, start=TODAY, **values):
    """Licensed, onboarded and starting today: nothing stands between it and active."""
    placement = factories.placement(factories.licensed_therapist(), place or factories.facility(), start, **values)
    factories.finish_checklist(placement)
    return placement


def moved_to(placement, *statuses, **kw):
    for status in statuses:
        change_status(placement, status, **kw)
    return placement


# ----------------------------------------------------------------------------- the pipeline


def test_a_placement_goes_proposed_onboarding_active_completed_with_each_step_recorded(users):
    recruiter = users["recruiter"]
    placement = ready_placement(actor=recruiter)
    moved_to(placement, "onboarding", "active", "completed", actor=recruiter)
    steps = [(e.from_status, e.to_status, e.by_id) for e in placement.events]
    assert steps == [(None, "proposed", recruiter.id), ("proposed", "onboarding", recruiter.id),
                     ("onboarding", "active", recruiter.id), ("active", "completed", recruiter.id)]
    assert placement.recruiter_id == recruiter.id


@pytest.mark.parametrize("path", [(), ("onboarding",), ("onboarding", "active")])
def test_a_live_placement_can_be_cancelled_with_a_reason(path):
    placement = moved_to(ready_placement(), *path)
    change_status(placement, "cancelled", reason="The facility lost its grant")
    assert placement.status == "cancelled"
    assert placement.events[-1].reason == "The facility lost its grant"


@pytest.mark.parametrize(("path", "target"), [
    ((), "active"),
    ((), "completed"),
    (("onboarding",), "completed"),
    (("onboarding", "active"), "proposed"),
    (("onboarding", "active"), "onboarding"),
    (("onboarding", "active", "completed"), "active"),
    (("onboarding", "active", "completed"), "cancelled"),
    (("onboarding", "active", "completed"), "proposed"),
])
def test_a_transition_the_pipeline_does_not_allow_is_refused_and_changes_nothing(path, target):
    placement = moved_to(ready_placement(), *path)
    before = snapshot(placement)
    with pytest.raises(Conflict, match=f"cannot become {target}"):
        change_status(placement, target, reason="because")
    db.session.rollback()
    assert snapshot(placement) == before


def test_a_cancelled_placement_stays_cancelled():
    placement = moved_to(ready_placement(), "cancelled", reason="The therapist took another job")
    for target in ("proposed", "onboarding", "active"):
        with pytest.raises(Conflict):
            change_status(placement, target)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_cancellation_needs_a_reason(reason):
    placement = moved_to(ready_placement(), "onboarding")
    before = snapshot(placement)
    with pytest.raises(ValidationError, match="why the placement is cancelled"):
        change_status(placement, "cancelled", reason=reason)
    db.session.rollback()
    assert snapshot(placement) == before


def test_activating_an_unready_placement_is_refused_with_its_blockers(users):
    placement = factories.placement(factories.therapist(), factories.facility())  # no license, checklist open
    change_status(placement, "onboarding")
    before = snapshot(placement)
    with pytest.raises(Conflict, match="not ready") as refused:
        change_status(placement, "active", users["recruiter"])
    assert refused.value.fields == {"status": ["no_license_in_state", "onboarding_incomplete", "not_started"]}
    assert "An admin can activate it anyway with an override reason" in refused.value.message
    db.session.rollback()
    assert snapshot(placement) == before


def test_an_admin_may_activate_an_unready_placement_with_a_reason_and_it_is_audited(users):
    placement = moved_to(factories.placement(factories.licensed_therapist(), factories.facility()), "onboarding")
    change_status(placement, "active", users["admin"],
                  override_reason="  Clinical director waived the orientation item  ")
    assert placement.status == "active"
    assert placement.events[-1].reason == "Clinical director waived the orientation item"
    override = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "override")).one()
    assert (override.object_type, override.object_id, override.user_id) == (
        "placement", placement.id, users["admin"].id)
    assert override.changes == {"override_reason": "Clinical director waived the orientation item"}
    assert "onboarding_incomplete" in override.summary


@pytest.mark.parametrize("role", ["recruiter", "credentialing", "billing"])
def test_only_an_admin_may_override_readiness(users, role):
    placement = moved_to(factories.placement(factories.licensed_therapist(), factories.facility()), "onboarding")
    before = snapshot(placement)
    with pytest.raises(Forbidden, match="only an admin"):
        change_status(placement, "active", users[role], override_reason="We are short-staffed")
    db.session.rollback()
    assert snapshot(placement) == before
    assert count(AuditEvent, AuditEvent.action == "override") == 0


def test_an_admin_override_with_a_blank_reason_is_refused(users):
    placement = moved_to(factories.placement(factories.licensed_therapist(), factories.facility()), "onboarding")
    before = snapshot(placement)
    with pytest.raises(ValidationError, match="override_reason"):
        change_status(placement, "active", users["admin"], override_reason="  ")
    db.session.rollback()
    assert snapshot(placement) == before


def test_an_override_reason_applies_only_to_activation(users):
    placement = ready_placement()
    with pytest.raises(ValidationError, match="only to activation"):
        change_status(placement, "onboarding", users["admin"], override_reason="rush")


# ----------------------------------------------------------------------------- the checklist


BASE_ITEMS = ["agreement_sent", "agreement_signed", "start_confirmed_therapist",
              "start_confirmed_director", "credential_packet_sent", "orientation_passed_on"]


@pytest.mark.parametrize(("facility_type", "telehealth", "extra"), [
    ("cmhc", False, []),
    ("iop", False, []),
    ("telehealth", None, ["platform_login", "client_assignment", "billing_profile"]),
    ("cmhc", True, ["platform_login", "client_assignment", "billing_profile"]),
    ("correctional", False, ["security_clearance"]),
    ("inpatient", False, ["security_clearance"]),
    ("school", False, ["district_clearance"]),
])
def test_the_onboarding_checklist_follows_the_facility_type(facility_type, telehealth, extra):
    values = {} if telehealth is None else {"telehealth": telehealth}
    placement = factories.placement(factories.licensed_therapist(), factories.facility(facility_type=facility_type),
                               **values)
    assert sorted(item.key for item in placement.checklist) == sorted(BASE_ITEMS + extra)
    assert all(not item.done for item in placement.checklist)


def test_checklist_items_fall_due_relative_to_the_start_date():
    placement = factories.placement(factories.licensed_therapist(), factories.facility(facility_type="telehealth"),
                               start=date(2027, 1, 11))
    due = {item.key: item.due_on for item in placement.checklist}
    assert due["agreement_sent"] == date(2026, 12, 21)  # three weeks before
    assert due["agreement_signed"] == date(2026, 12, 28)
    assert due["orientation_passed_on"] == date(2027, 1, 4)
    assert due["platform_login"] == date(2027, 1, 6)
    assert due["billing_profile"] == date(2027, 1, 8)
    owners = {item.key: item.owner for item in placement.checklist}
    assert owners["agreement_signed"] == "therapist" and owners["platform_login"] == "facility"


def test_ticking_an_item_records_who_and_when_and_unticking_clears_it(users):
    placement = factories.placement(factories.licensed_therapist(), factories.facility())
    item = placement.checklist[0]
    set_checklist_item(item, True, users["recruiter"])
    assert item.done and item.done_at is not None and item.done_by_id == users["recruiter"].id
    set_checklist_item(item, False, users["recruiter"])
    assert not item.done and item.done_at is None and item.done_by_id is None


def test_checkins_fall_thirty_and_sixty_days_after_the_start():
    start = date(2027, 1, 31)
    placement = factories.placement(factories.licensed_therapist(), factories.facility(), start=start)
    assert [(c.day, c.due_on) for c in placement.checkins] == [
        (30, start + relativedelta(days=30)), (60, start + relativedelta(days=60))]
    assert [c.due_on for c in placement.checkins] == [date(2027, 3, 2), date(2027, 4, 1)]


def test_moving_the_start_date_moves_open_items_and_checkins_but_not_finished_items():
    placement = factories.placement(factories.licensed_therapist(), factories.facility(), start=date(2027, 1, 11))
    sent = next(i for i in placement.checklist if i.key == "agreement_sent")
    set_checklist_item(sent, True)
    sent_due = sent.due_on
    open_due = {i.key: i.due_on for i in placement.checklist if not i.done}
    update_placement(placement, {"start_on": date(2027, 2, 1)})
    assert sent.due_on == sent_due
    assert {i.key: i.due_on for i in placement.checklist if not i.done} == {
        key: due + timedelta(days=21) for key, due in open_due.items()}
    assert [c.due_on for c in placement.checkins] == [date(2027, 3, 3), date(2027, 4, 2)]


def test_an_active_placement_keeps_its_start_date():
    placement = factories.active_placement(factories.facility(), start=date(2026, 10, 1))
    with pytest.raises(Conflict, match="terms are fixed"):
        update_placement(placement, {"start_on": date(2026, 10, 5)})


def test_an_active_placement_page_edit_saves_a_new_end_date_and_notes(browser):
    placement = factories.active_placement(factories.facility(), start=date(2026, 10, 1))
    # The edit form sends every field back, unchanged terms included.
    response = browser("recruiter").post(f"/placements/{placement.id}/edit", {
        "therapist_id": placement.therapist_id, "facility_id": placement.facility_id, "start_on": "2026-10-01",
        "end_on": "2027-03-31", "service_states": placement.service_states, "billing_basis": placement.billing_basis,
        "hours_per_week": placement.hours_per_week, "notes": "Extended through March",
    })
    assert response.status_code == 302, response.data
    db.session.refresh(placement)
    assert (placement.end_on, placement.notes) == (date(2027, 3, 31), "Extended through March")


# ----------------------------------------------------------------------------- check-ins


def active_with_checkin_due():
    placement = factories.active_placement(factories.facility(), start=date(2026, 10, 1))
    return placement, placement.checkins[0]


def test_a_checkin_with_a_concern_is_escalated_to_each_admin_once(users):
    second_admin = create_user("director@staff.example.org", "admin", PASSWORD, name="Director")
    create_user("former@staff.example.org", "admin", PASSWORD, name="Former").active = False
    db.session.commit()
    placement, checkin = active_with_checkin_due()
    record_checkin(checkin, {"satisfaction": 2, "concern": True, "completed_on": date(2026, 11, 2),
                             "notes": "Caseload doubled without notice"}, users["recruiter"])
    mailed = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.to_addr)).all()
    assert [m.to_addr for m in mailed] == [users["admin"].email, second_admin.email]
    assert all("Concern at the 30-day check-in" in m.subject for m in mailed)
    assert all("Caseload doubled without notice" in m.body for m in mailed)
    assert checkin.escalated_at is not None
    # Correcting the notes later does not mail the admins again.
    record_checkin(checkin, {"satisfaction": 2, "concern": True, "completed_on": date(2026, 11, 2),
                             "notes": "Caseload doubled; director meeting set"}, users["recruiter"])
    assert count(OutboxMessage) == 2


def test_a_checkin_without_a_concern_mails_nobody(users):
    _, checkin = active_with_checkin_due()
    record_checkin(checkin, {"satisfaction": 5, "completed_on": date(2026, 11, 2)}, users["recruiter"])
    assert checkin.completed_on == date(2026, 11, 2) and checkin.satisfaction == 5
    assert count(OutboxMessage) == 0


def test_a_checkin_waits_until_the_placement_is_active(users):
    placement = factories.placement(factories.licensed_therapist(), factories.facility())
    with pytest.raises(Conflict, match="once the placement is active"):
        record_checkin(placement.checkins[0], {"satisfaction": 4}, users["recruiter"])


def test_a_checkin_needs_a_satisfaction_score_and_no_future_date(users):
    _, checkin = active_with_checkin_due()
    with pytest.raises(ValidationError, match="satisfaction"):
        record_checkin(checkin, {"completed_on": date(2026, 11, 2)})
    with pytest.raises(ValidationError, match="future"):
        record_checkin(checkin, {"satisfaction": 4, "completed_on": TODAY + timedelta(days=1)})


# ----------------------------------------------------------------------------- assignments


def test_a_placement_from_an_assignment_inherits_its_terms():
    place = factories.facility(state="NJ")
    job = factories.assignment(place, service_states=["NJ", "NY"], start_on=date(2027, 1, 4), length_weeks=10,
                          hours_per_week=24, telehealth=True, billing_basis="per_diem")
    placement = create_placement({"assignment_id": job.id, "therapist_id": factories.licensed_therapist().id})
    assert placement.facility == place and placement.assignment == job
    assert (placement.start_on, placement.end_on) == (date(2027, 1, 4), date(2027, 3, 14))
    assert placement.service_states == ["NJ", "NY"]
    assert (placement.hours_per_week, placement.billing_basis, placement.telehealth) == (24, "per_diem", True)
    assert "platform_login" in {item.key for item in placement.checklist}


def test_a_counselor_may_be_placed_on_an_assignment_posted_under_another_states_title():
    job = factories.assignment(factories.facility(), discipline="LPC", title="Outpatient counselor")
    lmhc = factories.licensed_therapist(discipline="LMHC")
    placement = create_placement({"assignment_id": job.id, "therapist_id": lmhc.id})
    assert placement.assignment == job


def test_a_placement_on_an_assignment_needs_its_discipline():
    job = factories.assignment(factories.facility(), discipline="LCSW")
    with pytest.raises(ValidationError, match="needs a LCSW"):
        create_placement({"assignment_id": job.id,
                          "therapist_id": factories.licensed_therapist(discipline="LMFT").id})


def test_onboarding_fills_the_assignment_and_cancelling_reopens_it():
    job = factories.assignment(factories.facility())
    placement = create_placement({"assignment_id": job.id, "therapist_id": factories.licensed_therapist().id})
    assert job.status == "open"
    change_status(placement, "onboarding")
    assert job.status == "filled"
    with pytest.raises(Conflict, match="filled"):
        create_placement({"assignment_id": job.id, "therapist_id": factories.licensed_therapist().id})
    change_status(placement, "cancelled", reason="Start date fell through")
    assert job.status == "open"


def test_cancelling_a_rival_proposal_leaves_the_assignment_filled_by_the_other():
    job = factories.assignment(factories.facility())
    chosen = create_placement({"assignment_id": job.id, "therapist_id": factories.licensed_therapist().id})
    rival = create_placement({"assignment_id": job.id, "therapist_id": factories.licensed_therapist().id})
    change_status(chosen, "onboarding")
    change_status(rival, "cancelled", reason="The facility chose the other therapist")
    assert job.status == "filled"


def test_an_assignment_reopens_only_when_no_placement_still_fills_it():
    job = factories.assignment(factories.facility())
    first = create_placement({"assignment_id": job.id, "therapist_id": factories.licensed_therapist().id})
    second = create_placement({"assignment_id": job.id, "therapist_id": factories.licensed_therapist().id})
    change_status(first, "onboarding")
    change_status(second, "onboarding")
    change_status(first, "cancelled", reason="Therapist withdrew")
    assert job.status == "filled"
    change_status(second, "cancelled", reason="Therapist withdrew too")
    assert job.status == "open"


def test_an_open_assignment_alert_reaches_each_therapist_once(users):
    job = factories.assignment(factories.facility(city="Albany"))
    first, second, third = (factories.licensed_therapist() for _ in range(3))
    assert send_assignment_alert(job, [first.id, second.id], users["recruiter"]) == (2, 0)
    assert send_assignment_alert(job, [first.id, second.id, third.id], users["recruiter"]) == (1, 2)
    assert send_assignment_alert(job, [third.id], users["recruiter"]) == (0, 1)
    alerts = db.session.scalars(sa.select(AssignmentAlert).order_by(AssignmentAlert.therapist_id)).all()
    assert [(a.therapist_id, a.sent_by_id) for a in alerts] == [
        (t.id, users["recruiter"].id) for t in (first, second, third)]
    mailed = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.to_addr for m in mailed] == [first.email, second.email, third.email]
    assert all("New LCSW assignment: Outpatient LCSW" == m.subject for m in mailed)
    assert "on site in Albany" in mailed[0].body
    assert all(c.alerted for c in match_assignment(job, TODAY))


def test_an_alert_naming_an_inactive_therapist_tells_nobody(users):
    job = factories.assignment(factories.facility())
    active = factories.licensed_therapist()
    retired = factories.licensed_therapist(status="inactive", last_name="Retired")
    with pytest.raises(ValidationError, match="is inactive"):
        send_assignment_alert(job, [active.id, retired.id], users["recruiter"])
    assert count(AssignmentAlert) == 0 and count(OutboxMessage) == 0


def test_only_an_open_assignment_is_sent_out(users):
    job = factories.assignment(factories.facility())
    placement = create_placement({"assignment_id": job.id, "therapist_id": factories.licensed_therapist().id})
    change_status(placement, "onboarding")
    with pytest.raises(Conflict, match="only an open assignment"):
        send_assignment_alert(job, [factories.licensed_therapist().id], users["recruiter"])


# ----------------------------------------------------------------------------- the worklist


def worklist_world(n: int):
    """n of each thing a recruiter acts on, plus as many that are not yet due."""
    for i in range(n):
        place = factories.facility()
        # Starts in a week: its open items threaten the start.
        factories.placement(factories.licensed_therapist(), place, start=factories.days_from_today(7))
        # Starts in five weeks: nothing due for another fortnight.
        factories.placement(factories.licensed_therapist(), place, start=factories.days_from_today(35))
        factories.active_placement(place, start=date(2026, 10, 20))
        factories.rate_card(place, date(2026, 1, 1), date(2027, 1, 15))
        factories.assignment(place, title=f"Weekend coverage {i}", start_on=date(2027, 1, 11))


def test_the_worklist_shows_what_is_due_and_flags_what_threatens_a_start():
    place = factories.facility(name="Riverbend IOP")
    soon = factories.placement(factories.licensed_therapist(last_name="Soon"), place, start=date(2026, 12, 2))
    later = factories.placement(factories.licensed_therapist(last_name="Later"), place, start=date(2026, 12, 10))
    factories.placement(factories.licensed_therapist(last_name="Far"), place, start=date(2027, 1, 20))
    cancelled = factories.placement(factories.licensed_therapist(last_name="Gone"), place, start=date(2026, 12, 3))
    change_status(cancelled, "cancelled", reason="Facility paused intake")
    factories.active_placement(place, factories.licensed_therapist(last_name="Working"), date(2026, 10, 20))
    factories.rate_card(place, date(2026, 1, 1), date(2027, 1, 15))
    factories.assignment(place, title="Evening IOP group", start_on=date(2027, 1, 11))

    items = recruiter_worklist(TODAY)
    onboarding = [i for i in items if i.kind == "onboarding_item"]
    assert {i.args["placement_id"] for i in onboarding} == {soon.id, later.id}
    assert all(i.at_risk for i in onboarding if i.args["placement_id"] == soon.id)
    later_items = {i.title: i.at_risk for i in onboarding if i.args["placement_id"] == later.id}
    assert later_items == {
        "Placement agreement sent to the therapist": True,  # was due 2026-11-19: overdue
        "Placement agreement signed and returned": False,  # due tomorrow, start 15 days away
        "Start date confirmed with the therapist": False,
        "Start date confirmed with the facility's clinical director": False,
        "Credential packet sent to the facility": False,  # due 2026-11-30
    }
    checkins = [i for i in items if i.kind == "checkin"]
    assert [(i.title, i.due_on, i.at_risk) for i in checkins] == [
        ("30-day check-in", date(2026, 11, 19), True)]
    renewals = [i for i in items if i.kind == "rate_card_renewal"]
    assert [(i.title, i.due_on) for i in renewals] == [
        ("Renew the rate card of Riverbend IOP", date(2027, 1, 15))]
    assert [i.title for i in items if i.kind == "open_assignment"] == ["Evening IOP group"]
    assert [i.due_on for i in items] == sorted(i.due_on for i in items)
    assert [i.kind for i in recruiter_worklist(TODAY, kind="checkin")] == ["checkin"]


def test_ticking_an_item_takes_it_off_the_worklist():
    placement = factories.placement(factories.licensed_therapist(), factories.facility(), start=date(2026, 12, 2))
    before = len(recruiter_worklist(TODAY, kind="onboarding_item"))
    set_checklist_item(placement.checklist[0], True)
    assert len(recruiter_worklist(TODAY, kind="onboarding_item")) == before - 1


def test_the_worklist_costs_the_same_number_of_queries_whatever_the_data_size():
    def queries() -> tuple[int, int]:
        db.session.expire_all()
        with counted() as statements:
            items = recruiter_worklist(TODAY)
            # Read what the page shows, so lazy loads would be counted too.
            _ = [(i.title, i.detail, i.kind_label, i.at_risk) for i in items]
        return len(statements), len(items)

    worklist_world(1)
    small, small_items = queries()
    worklist_world(5)
    large, large_items = queries()
    assert large_items == 6 * small_items
    assert small == large
