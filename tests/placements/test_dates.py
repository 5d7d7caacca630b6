"""Dates the product refuses: activation before the start, check-ins before their window, and which
onboarding items still threaten a start. Each refusal through the page and the API changes nothing."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.core.errors import Conflict, ValidationError
from agency.extensions import db
from agency.placements.models import CheckIn, Placement, PlacementEvent
from agency.placements.services import change_status, record_checkin, set_checklist_item
from tests import factories
from tests.factories import TODAY


def onboarded(start: date) -> Placement:
    """Licensed, every onboarding item done, onboarding: ready but for the date."""
    placement = factories.placement(factories.licensed_therapist(), factories.facility(), start)
    factories.finish_checklist(placement)
    change_status(placement, "onboarding")
    return placement


def story(placement) -> tuple:
    """What a refused change must leave as it was."""
    db.session.expire_all()
    placement = db.session.get(Placement, placement.id)
    return (placement.status,
            db.session.scalar(sa.select(sa.func.count()).select_from(PlacementEvent)
                              .where(PlacementEvent.placement_id == placement.id)),
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.object_type == "placement")))


# ----------------------------------------------------------------------------- activation


def test_a_ready_placement_activates_on_its_start_date(users):
    placement = onboarded(TODAY)
    change_status(placement, "active", users["recruiter"])
    assert placement.status == "active"


@pytest.mark.parametrize(("role", "hint"), [
    ("recruiter", "An admin can activate it anyway with an override reason"),
    ("admin", "As an admin you can activate it anyway: give an override reason"),
])
def test_activation_before_the_start_is_refused_and_says_who_can_override_and_how(users, role, hint):
    placement = onboarded(TODAY + timedelta(days=14))
    before = story(placement)
    with pytest.raises(Conflict) as refused:
        change_status(placement, "active", users[role])
    assert refused.value.fields == {"status": ["not_started"]}
    assert "starts on " in refused.value.message and "14 day(s) from today" in refused.value.message
    assert hint in refused.value.message
    db.session.rollback()
    assert story(placement) == before


def test_an_admin_activates_before_the_start_with_a_reason_and_it_is_audited(users):
    placement = onboarded(TODAY + timedelta(days=3))
    change_status(placement, "active", users["admin"], override_reason="Facility asked for an early shadow week")
    assert placement.status == "active"
    override = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "override")).one()
    assert override.summary == "activated despite: not_started"
    assert override.changes == {"override_reason": "Facility asked for an early shadow week"}


def test_activation_before_the_start_through_the_api_is_409_until_an_admin_overrides(api):
    placement = onboarded(TODAY + timedelta(days=14))
    url = f"/api/v1/placements/{placement.id}"
    before = story(placement)
    refused = api("recruiter").patch(url, json={"status": "active"})
    assert refused.status_code == 409
    assert refused.json["error"]["fields"]["status"] == ["not_started"]
    assert "An admin can activate it anyway" in refused.json["error"]["message"]
    assert story(placement) == before
    admin_refused = api("admin").patch(url, json={"status": "active"})
    assert admin_refused.status_code == 409 and '"override_reason" in the API' in admin_refused.json["error"]["message"]
    assert story(placement) == before
    done = api("admin").patch(url, json={"status": "active", "override_reason": "Early start agreed"})
    assert done.status_code == 200 and done.json["status"] == "active"


def test_activation_before_the_start_on_the_page_is_refused_with_the_way_to_override(browser):
    placement = onboarded(TODAY + timedelta(days=14))
    url = f"/placements/{placement.id}"
    before = story(placement)
    page = browser("admin").post(f"{url}/status", {"status": "active"}, form_url=url, follow_redirects=True)
    text = page.data.decode()
    assert "Status not changed" in text and "it starts on Dec 09, 2026" in text
    assert "give an override reason" in text
    assert story(placement) == before


# ----------------------------------------------------------------------------- check-ins


def early_started(admin):
    """Active since an admin let it start today, ten days before its start date."""
    placement = onboarded(TODAY + timedelta(days=10))
    change_status(placement, "active", admin, override_reason="Shadow week")
    return placement


def test_a_checkin_opens_a_week_before_it_is_due(users):
    placement = factories.active_placement(factories.facility(), start=TODAY - timedelta(days=25))
    thirty, sixty = placement.checkins
    assert thirty.due_on == TODAY + timedelta(days=5) and thirty.opens_on == TODAY - timedelta(days=2)
    record_checkin(thirty, {"satisfaction": 4, "completed_on": TODAY - timedelta(days=2)}, users["recruiter"])
    assert thirty.completed_on == TODAY - timedelta(days=2)
    with pytest.raises(ValidationError, match="can be held from") as refused:
        record_checkin(sixty, {"satisfaction": 4, "completed_on": TODAY}, users["recruiter"])
    assert "completed_on" in refused.value.fields
    db.session.rollback()
    assert db.session.get(CheckIn, sixty.id).completed_on is None


def test_a_checkin_is_never_held_before_the_placement_starts(users):
    placement = early_started(users["admin"])
    thirty = placement.checkins[0]
    assert thirty.opens_on == placement.start_on + timedelta(days=23)
    with pytest.raises(ValidationError, match="not before the start"):
        record_checkin(thirty, {"satisfaction": 5, "completed_on": TODAY}, users["recruiter"])
    db.session.rollback()
    assert db.session.get(CheckIn, thirty.id).completed_on is None


def test_an_early_checkin_through_the_api_is_400_and_changes_nothing(api):
    placement = factories.active_placement(factories.facility(), start=TODAY - timedelta(days=10))
    thirty = placement.checkins[0]
    refused = api("recruiter").patch(f"/api/v1/checkins/{thirty.id}",
                                     json={"satisfaction": 4, "completed_on": TODAY.isoformat()})
    assert refused.status_code == 400 and "completed_on" in refused.json["error"]["fields"]
    db.session.expire_all()
    assert db.session.get(CheckIn, thirty.id).completed_on is None


def test_an_early_checkin_on_the_page_says_when_it_opens_and_changes_nothing(browser):
    placement = factories.active_placement(factories.facility(), start=TODAY - timedelta(days=10))
    thirty = placement.checkins[0]
    page = browser("recruiter").post(f"/checkins/{thirty.id}", {"completed_on": TODAY.isoformat(),
                                                                "satisfaction": "4"})
    assert page.status_code == 200 and b"can be held from Dec 08, 2026" in page.data
    db.session.expire_all()
    assert db.session.get(CheckIn, thirty.id).completed_on is None


# ----------------------------------------------------------------------------- threatens start


def test_a_new_proposal_far_from_its_start_threatens_nothing():
    placement = factories.placement(factories.licensed_therapist(), factories.facility(), TODAY + timedelta(days=60))
    assert not any(item.threatens_start(TODAY) for item in placement.checklist)


def test_an_overdue_open_item_threatens_the_start_until_it_is_done(users):
    placement = factories.placement(factories.licensed_therapist(), factories.facility(), TODAY + timedelta(days=10))
    overdue = [item for item in placement.checklist if item.due_on < TODAY]
    assert overdue and all(item.threatens_start(TODAY) for item in overdue)
    set_checklist_item(overdue[0], True, users["recruiter"])
    assert not overdue[0].threatens_start(TODAY)


def test_once_started_or_active_no_open_item_threatens_the_start(users):
    placement = early_started(users["admin"])
    set_checklist_item(placement.checklist[0], False, users["recruiter"])
    assert not placement.checklist[0].threatens_start(TODAY)
    late = factories.placement(factories.licensed_therapist(), factories.facility(), TODAY - timedelta(days=2))
    assert not any(item.threatens_start(TODAY) for item in late.checklist)
