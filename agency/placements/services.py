"""Business rules for open assignments, placements, onboarding checklists and check-ins."""

import tomllib
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app

from agency.billing import holds
from agency.core import audit
from agency.core.dates import human_day, today, utcnow
from agency.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from agency.core.outbox import queue_email
from agency.core.permissions import can
from agency.core.persistence import lock
from agency.core.states import is_state
from agency.credentials.models import Therapist, disciplines_for
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import (
    CHECKIN_DAYS,
    Assignment,
    AssignmentAlert,
    CheckIn,
    ChecklistItem,
    Placement,
    PlacementEvent,
)
from agency.placements.readiness import Finding, readiness

CHECKLIST_FILE = Path(__file__).with_name("checklists.toml")

def get(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(f"no {model.__audit_type__.replace('_', ' ')} with id {object_id}")
    return obj


def _check_states(states: list[str], field: str = "service_states") -> list[str]:
    if not states:
        raise ValidationError.on(field, "needs at least one state")
    for state in states:
        if not is_state(state):
            raise ValidationError.on(field, f"{state!r} is not a USPS state code")
    if len(set(states)) != len(states):
        raise ValidationError.on(field, "lists a state twice")
    return states


# ----------------------------------------------------------------------------- assignments


def save_assignment(assignment: Assignment | None, values: dict, actor=None) -> Assignment:
    """Create or change an open assignment (a facility's job order)."""
    facility_id = values.get("facility_id", assignment.facility_id if assignment else None)
    facility = get(Facility, facility_id) if facility_id else None
    if facility is None:
        raise ValidationError.on("facility_id", "is required")
    states = values.get("service_states")
    if states is None and assignment is None:
        values["service_states"] = [facility.state]
    elif states is not None:
        _check_states(states)
    if assignment is None:
        assignment = Assignment(**values)
        db.session.add(assignment)
        audit.record("create", assignment, f"open assignment {assignment.title} at {facility.name}",
                     actor=actor)
    else:
        if assignment.status != "open" and set(values) - {"status", "notes"}:
            raise Conflict(f"the assignment is {assignment.status}; only open assignments change")
        changes = audit.diff(assignment, values)
        for key, value in values.items():
            setattr(assignment, key, value)
        if changes:
            audit.record("update", assignment, f"open assignment {assignment.title}", actor=actor,
                         changes=changes)
    db.session.commit()
    return assignment


def send_assignment_alert(assignment: Assignment, therapist_ids: list[int], actor=None) -> tuple[int, int]:
    """Queue the open assignment's email to these therapists, once each; returns (queued, already told)."""
    if assignment.status != "open":
        raise Conflict("only an open assignment can be sent out")
    if not therapist_ids:
        raise ValidationError.on("therapist_ids", "choose at least one therapist")
    therapists = db.session.scalars(sa.select(Therapist).where(Therapist.id.in_(therapist_ids))
                                    .order_by(Therapist.id)).all()
    if len(therapists) != len(set(therapist_ids)):
        raise ValidationError.on("therapist_ids", "includes a therapist that does not exist")
    told = set(db.session.scalars(
        sa.select(AssignmentAlert.therapist_id).where(AssignmentAlert.assignment_id == assignment.id)
    ))
    # Refuse before writing anything, so a bad name in the list tells nobody.
    for therapist in therapists:
        if therapist.id not in told and therapist.status != "active":
            raise ValidationError.on("therapist_ids", f"{therapist.full_name} is {therapist.status}")
    facility = assignment.facility
    sent = 0
    for therapist in therapists:
        if therapist.id in told:
            continue
        db.session.add(AssignmentAlert(assignment=assignment, therapist_id=therapist.id,
                                       sent_by_id=getattr(actor, "id", None)))
        mode = "telehealth" if assignment.telehealth else f"on site in {facility.city or facility.state}"
        queue_email(
            therapist.email,
            f"New {assignment.discipline} assignment: {assignment.title}",
            f"Hello {therapist.first_name},\n\n"
            f"{facility.name} is looking for a {assignment.discipline} for {assignment.title}.\n"
            f"Start: {human_day(assignment.start_on)} for {assignment.length_weeks} weeks, "
            f"{assignment.hours_per_week} hours a week, {mode}.\n"
            f"Service states: {', '.join(assignment.service_states)}.\n\n"
            "Reply to this email or call your recruiter if you are interested.",
            dedupe_key=f"assignment-alert:{assignment.id}:{therapist.id}",
        )
        sent += 1
    if sent:
        audit.record("update", assignment, f"alert queued for {sent} therapist(s)", actor=actor)
    db.session.commit()
    return sent, len(therapists) - sent


# ----------------------------------------------------------------------------- placements


@cache
def _checklist_template() -> tuple[dict, ...]:
    with CHECKLIST_FILE.open("rb") as fh:
        return tuple(tomllib.load(fh)["items"])


def checklist_template(facility_type: str, telehealth: bool) -> list[dict]:
    """The onboarding items for a facility type; telehealth placements add the platform steps."""
    kinds = {facility_type} | ({"telehealth"} if telehealth else set())
    return [
        item for item in _checklist_template()
        if "facility_types" not in item or kinds & set(item["facility_types"])
    ]


def _build_schedule(placement: Placement) -> None:
    """Checklist items due relative to the start, and check-ins 30 and 60 days after it."""
    for position, item in enumerate(checklist_template(placement.facility.facility_type,
                                                       placement.telehealth)):
        placement.checklist.append(ChecklistItem(
            key=item["key"], title=item["title"], owner=item["owner"], position=position,
            due_on=placement.start_on + timedelta(days=item["due"]),
        ))
    for day in CHECKIN_DAYS:
        placement.checkins.append(CheckIn(day=day, due_on=placement.start_on + relativedelta(days=day)))


def _reschedule(placement: Placement, old_start: date) -> None:
    """Move open checklist items and check-ins with a changed start date."""
    shift = placement.start_on - old_start
    for item in placement.checklist:
        if not item.done:
            item.due_on += shift
    for checkin in placement.checkins:
        if checkin.completed_on is None:
            checkin.due_on = placement.start_on + relativedelta(days=checkin.day)


def _check_placement(values: dict, placement: Placement | None) -> None:
    start = values.get("start_on", placement.start_on if placement else None)
    end = values.get("end_on", placement.end_on if placement else None)
    if start and end and end < start:
        raise ValidationError.on("end_on", "must not be before start_on")
    if "service_states" in values:
        _check_states(values["service_states"])


def create_placement(values: dict, actor=None) -> Placement:
    """Propose a therapist for a facility, directly or from an open assignment.

    The onboarding checklist and the 30- and 60-day check-ins are created with it.
    """
    assignment = None
    if values.get("assignment_id"):
        assignment = get(Assignment, values["assignment_id"])
        if assignment.status != "open":
            raise Conflict(f"the assignment is {assignment.status}")
        defaults = {
            "facility_id": assignment.facility_id, "start_on": assignment.start_on,
            "end_on": assignment.end_on, "service_states": list(assignment.service_states),
            "billing_basis": assignment.billing_basis, "hours_per_week": assignment.hours_per_week,
            "telehealth": assignment.telehealth,
        }
        values = {**defaults, **{k: v for k, v in values.items() if v is not None}}
    therapist = db.session.get(Therapist, values.get("therapist_id") or 0)
    if therapist is None:
        raise ValidationError.on("therapist_id", "is not a therapist on the roster")
    if therapist.status == "inactive":
        raise ValidationError.on("therapist_id", f"{therapist.full_name} is inactive")
    facility = db.session.get(Facility, values.get("facility_id") or 0)
    if facility is None:
        raise ValidationError.on("facility_id", "is not a facility")
    if assignment is not None and therapist.discipline not in disciplines_for(assignment.discipline):
        raise ValidationError.on("therapist_id", f"the assignment needs a {assignment.discipline}")
    if not values.get("start_on"):
        raise ValidationError.on("start_on", "is required")
    values.setdefault("service_states", None)
    if not values["service_states"]:
        values["service_states"] = [facility.state]
    values.setdefault("telehealth", facility.is_telehealth)
    _check_placement(values, None)
    placement = Placement(**{**values, "therapist": therapist, "facility": facility,
                             "therapist_id": therapist.id, "facility_id": facility.id})
    if placement.recruiter_id is None and getattr(actor, "role", None) == "recruiter":
        placement.recruiter_id = actor.id
    db.session.add(placement)
    _build_schedule(placement)
    placement.events.append(PlacementEvent(to_status="proposed", by_id=getattr(actor, "id", None)))
    audit.record("create", placement, f"{therapist.full_name} proposed at {facility.name} "
                 f"from {human_day(placement.start_on)}", actor=actor)
    db.session.commit()
    return placement


def update_placement(placement: Placement, values: dict, actor=None, *, status: str | None = None,
                     reason: str | None = None, override_reason: str | None = None) -> Placement:
    """Change a placement's terms and, when asked, its status: all of it or, if anything is refused, none.

    Activation needs a ready placement; an admin may activate anyway with a
    reason, which is audited as an override. New service states judge its therapist's hours again.
    """
    placement = lock(Placement, placement.id)  # its status as committed: two moves never start from one
    states = list(placement.service_states)
    try:
        _amend_terms(placement, {k: v for k, v in values.items() if k != "status"}, actor)
        if status is not None:
            _move(placement, status, actor, reason, override_reason)
        elif override_reason is not None:
            raise ValidationError.on("override_reason", "applies only to activation")
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    if placement.service_states != states:
        holds.reassess([placement.therapist_id], actor)
    return placement


def change_status(placement: Placement, new_status: str, actor=None, *, reason: str | None = None,
                  override_reason: str | None = None) -> Placement:
    """Move a placement along its pipeline."""
    return update_placement(placement, {}, actor, status=new_status, reason=reason,
                            override_reason=override_reason)


def _amend_terms(placement: Placement, values: dict, actor) -> None:
    if not values:
        return
    changed = {key for key, value in values.items() if getattr(placement, key) != value}
    if placement.status not in Placement.BEFORE_START and changed - {"notes", "end_on"}:
        raise Conflict(
            f"a {placement.status} placement's terms are fixed; only its end date and notes change"
        )
    _check_placement(values, placement)
    old_start = placement.start_on
    changes = audit.diff(placement, values)
    for key, value in values.items():
        setattr(placement, key, value)
    if placement.start_on != old_start:
        _reschedule(placement, old_start)
    if changes:
        audit.record("update", placement, f"placement of {placement.therapist.full_name}", actor=actor,
                     changes=changes)


def _move(placement: Placement, new_status: str, actor, reason: str | None, override_reason: str | None) -> None:
    if new_status not in placement.allowed_next:
        raise Conflict(
            f"a {placement.status} placement cannot become {new_status}"
            + (f"; it can become {', '.join(placement.allowed_next)}" if placement.allowed_next else "")
        )
    if override_reason is not None and new_status != "active":
        raise ValidationError.on("override_reason", "applies only to activation")
    if new_status == "active":
        refusals = _activation_refusals(placement, today())
        if refusals:
            if override_reason is None:
                raise Conflict(
                    "the placement is not ready: " + "; ".join(f.message for f in refusals)
                    + ". " + _override_hint(actor),
                    {"status": [f.code for f in refusals]},
                )
            if not can(actor, "placements.override"):
                raise Forbidden("only an admin may activate a placement that is not ready or not started")
            if not override_reason.strip():
                raise ValidationError.on("override_reason", "say why the placement starts anyway")
            audit.record("override", placement,
                         f"activated despite: {', '.join(f.code for f in refusals)}",
                         actor=actor, changes={"override_reason": override_reason.strip()})
            reason = override_reason.strip()
    if new_status == "cancelled" and not (reason or "").strip():
        raise ValidationError.on("reason", "say why the placement is cancelled")
    old = placement.status
    placement.status = new_status
    placement.events.append(PlacementEvent(from_status=old, to_status=new_status,
                                           by_id=getattr(actor, "id", None), reason=reason))
    assignment = placement.assignment
    if assignment is not None:
        if new_status in Placement.COMMITTED and assignment.status == "open":
            assignment.status = "filled"
        elif new_status == "cancelled" and assignment.status == "filled" and not _still_filled(
                assignment, placement):
            assignment.status = "open"
    audit.record("update", placement, f"placement of {placement.therapist.full_name}: {old} → {new_status}",
                 actor=actor, changes={"status": [old, new_status]})


def _activation_refusals(placement: Placement, as_of: date) -> list[Finding]:
    """What stands between this placement and active: its readiness blockers, and a start still to come."""
    refusals = list(readiness(placement, as_of).blockers)
    if placement.start_on > as_of:
        refusals.append(Finding("not_started", f"it starts on {placement.start_on:%b %d, %Y}, "
                                               f"{(placement.start_on - as_of).days} day(s) from today"))
    return refusals


def _override_hint(actor) -> str:
    """How the refusal can be overridden, said to the one who may do it."""
    if can(actor, "placements.override"):
        return ("As an admin you can activate it anyway: give an override reason (the placement page's "
                "“Override reason”, or \"override_reason\" in the API); it is audited.")
    return "An admin can activate it anyway with an override reason, which is audited."


def _still_filled(assignment: Assignment, leaving: Placement) -> bool:
    """Whether another placement still onboarding or active holds the assignment."""
    return db.session.scalar(
        sa.select(Placement.id).where(
            Placement.assignment_id == assignment.id, Placement.id != leaving.id,
            Placement.status.in_(Placement.COMMITTED),
        ).limit(1)
    ) is not None


def set_checklist_item(item: ChecklistItem, done: bool, actor=None) -> ChecklistItem:
    """Tick or untick an onboarding item, recording who and when."""
    lock(Placement, item.placement_id)  # no tick while the placement ends, and one tick of an item at a time
    item = lock(ChecklistItem, item.id)
    if item.placement.status not in Placement.LIVE:
        raise Conflict(f"the placement is {item.placement.status}")
    if item.done != done:
        item.done = done
        item.done_at = utcnow() if done else None
        item.done_by_id = getattr(actor, "id", None) if done else None
        audit.record("update", item, f"'{item.title}' {'done' if done else 'reopened'}", actor=actor,
                     changes={"done": [not done, done]})
        db.session.commit()
    return item


def record_checkin(checkin: CheckIn, values: dict, actor=None) -> CheckIn:
    """Record a 30/60-day check-in; a concern escalates to the agency's admins by email."""
    lock(Placement, checkin.placement_id)
    checkin = lock(CheckIn, checkin.id)  # a concern escalates once, however many record it at once
    if checkin.placement.status not in Placement.STARTED:
        raise Conflict("check-ins are recorded once the placement is active")
    completed = values.get("completed_on") or today()
    if completed > today():
        raise ValidationError.on("completed_on", "cannot be in the future")
    if completed < checkin.opens_on:
        raise ValidationError.on(
            "completed_on", f"is too early: the {checkin.day}-day check-in can be held from "
            f"{checkin.opens_on:%b %d, %Y} (a week before it is due, and not before the start)")
    satisfaction = values.get("satisfaction")
    if satisfaction is None:
        raise ValidationError.on("satisfaction", "rate the therapist's satisfaction from 1 to 5")
    checkin.completed_on = completed
    checkin.satisfaction = satisfaction
    checkin.notes = values.get("notes")
    checkin.concern = bool(values.get("concern"))
    checkin.completed_by_id = getattr(actor, "id", None)
    placement = checkin.placement
    if checkin.concern and checkin.escalated_at is None:
        _escalate(checkin)
    audit.record("update", checkin, f"{checkin.day}-day check-in for {placement.therapist.full_name}: "
                 f"satisfaction {satisfaction}{', concern raised' if checkin.concern else ''}", actor=actor)
    db.session.commit()
    return checkin


def _escalate(checkin: CheckIn) -> None:
    from agency.auth.models import User

    placement = checkin.placement
    admins = db.session.scalars(
        sa.select(User.email).where(User.role == "admin", User.active.is_(True))
    ).all() or [current_app.config["CREDENTIALING_EMAIL"]]
    for email in admins:
        queue_email(
            email,
            f"Concern at the {checkin.day}-day check-in: {placement.therapist.full_name} at "
            f"{placement.facility.name}",
            f"{placement.therapist.full_name} ({placement.therapist.discipline}) at "
            f"{placement.facility.name}, started {human_day(placement.start_on)}.\n"
            f"Satisfaction: {checkin.satisfaction} of 5.\nNotes: {checkin.notes or '(none)'}\n\n"
            "A concern was raised at the check-in; please follow up before it ends the placement.",
            dedupe_key=f"checkin-concern:{checkin.id}:{email}",
        )
    checkin.escalated_at = utcnow()
