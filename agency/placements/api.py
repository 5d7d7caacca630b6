"""JSON API for open assignments, matching, placements, readiness, checklists and check-ins."""

from flask import jsonify

from agency.core.api import (
    AS_OF,
    Bool,
    Choice,
    Date,
    Id,
    IdArg,
    Int,
    ListOf,
    Object,
    Schema,
    State,
    Str,
    api_blueprint,
    as_of_arg,
    created,
    json_body,
    page,
    page_of_list,
    parse_args,
)
from agency.core.dates import iso, today
from agency.core.openapi import documented
from agency.core.permissions import current_actor, requires
from agency.credentials.models import DISCIPLINES
from agency.extensions import db
from agency.placements import queries, services
from agency.placements.matching import match_assignment
from agency.placements.models import (
    ASSIGNMENT_STATUSES,
    BILLING_BASES,
    PLACEMENT_STATUSES,
    Assignment,
    CheckIn,
    ChecklistItem,
    Placement,
)
from agency.placements.readiness import readiness

bp = api_blueprint("placements_api", __name__)

ASSIGNMENT = Schema(
    "Assignment",
    id=Int(read_only=True),
    facility_id=Id(required=True),
    title=Str(required=True, max_length=200),
    discipline=Choice(required=True, choices=DISCIPLINES),
    service_states=ListOf(item=State(), max_items=56, nullable=False),
    start_on=Date(required=True),
    length_weeks=Int(required=True, minimum=1, maximum=260),
    hours_per_week=Int(required=True, minimum=1, maximum=80),
    telehealth=Bool(nullable=False),
    billing_basis=Choice(choices=BILLING_BASES, nullable=False),
    status=Choice(choices=ASSIGNMENT_STATUSES, nullable=False),
    notes=Str(max_length=5000),
)
ASSIGNMENT_FILTERS = Schema("AssignmentFilters", status=Choice(choices=ASSIGNMENT_STATUSES),
                            facility_id=IdArg(), discipline=Choice(choices=DISCIPLINES))
ALERT = Schema("AssignmentAlert", therapist_ids=ListOf(required=True, item=Id(), max_items=500))
PLACEMENT = Schema(
    "Placement",
    id=Int(read_only=True),
    therapist_id=Id(required=True),
    facility_id=Id(description="taken from the assignment when assignment_id is given"),
    assignment_id=Id(),
    start_on=Date(),
    end_on=Date(),
    service_states=ListOf(item=State(), max_items=56, description="defaults to the facility's state"),
    billing_basis=Choice(choices=BILLING_BASES, nullable=False),
    hours_per_week=Int(minimum=1, maximum=80),
    telehealth=Bool(nullable=False),
    status=Choice(read_only=True, choices=PLACEMENT_STATUSES),
    notes=Str(max_length=5000),
)
PLACEMENT_PATCH = Schema(
    "PlacementChange",
    status=Choice(choices=PLACEMENT_STATUSES),
    reason=Str(max_length=500, description="why it is cancelled"),
    override_reason=Str(max_length=500, description="admins only: activate a placement that is not ready"),
    start_on=Date(nullable=False), end_on=Date(), service_states=ListOf(item=State(), max_items=56),
    billing_basis=Choice(choices=BILLING_BASES, nullable=False), hours_per_week=Int(minimum=1, maximum=80),
    telehealth=Bool(nullable=False), notes=Str(max_length=5000),
)
PLACEMENT_FILTERS = Schema("PlacementFilters", status=Choice(choices=PLACEMENT_STATUSES),
                           facility_id=IdArg(), therapist_id=IdArg())
READINESS = Schema("Readiness", ready=Bool(read_only=True), checked_on=Date(read_only=True),
                   blockers=Object(read_only=True, description="list of {code, message}"),
                   warnings=Object(read_only=True, description="list of {code, message}"))
CHECKLIST_ITEM = Schema(
    "ChecklistItem",
    id=Int(read_only=True), title=Str(read_only=True), owner=Str(read_only=True), due_on=Date(read_only=True),
    done=Bool(required=True), done_at=Str(read_only=True), done_by=Str(read_only=True),
    threatens_start=Bool(read_only=True),
)
CHECKIN = Schema(
    "CheckIn",
    id=Int(read_only=True), placement_id=Int(read_only=True), day=Int(read_only=True), due_on=Date(read_only=True),
    completed_on=Date(), satisfaction=Int(required=True, minimum=1, maximum=5), notes=Str(max_length=5000),
    concern=Bool(nullable=False),
)
MATCH = Schema("Match", therapist_id=Int(read_only=True), name=Str(read_only=True),
               discipline=Str(read_only=True), eligible=Bool(read_only=True),
               reasons_for=Object(read_only=True), reasons_against=Object(read_only=True),
               license_margin_days=Int(read_only=True), alerted=Bool(read_only=True),
               readiness=Object(read_only=True))
def assignment_json(a: Assignment) -> dict:
    return {"id": a.id, "facility_id": a.facility_id, "title": a.title, "discipline": a.discipline,
            "service_states": list(a.service_states), "start_on": iso(a.start_on), "end_on": iso(a.end_on),
            "length_weeks": a.length_weeks, "hours_per_week": a.hours_per_week, "telehealth": a.telehealth,
            "billing_basis": a.billing_basis, "status": a.status, "notes": a.notes}


def placement_json(p: Placement) -> dict:
    return {"id": p.id, "therapist_id": p.therapist_id, "facility_id": p.facility_id,
            "assignment_id": p.assignment_id, "start_on": iso(p.start_on), "end_on": iso(p.end_on),
            "service_states": list(p.service_states), "billing_basis": p.billing_basis,
            "hours_per_week": p.hours_per_week, "telehealth": p.telehealth, "status": p.status, "notes": p.notes}


def checklist_json(item: ChecklistItem, as_of) -> dict:
    return {"id": item.id, "title": item.title, "owner": item.owner, "due_on": iso(item.due_on),
            "done": item.done, "done_at": iso(item.done_at),
            "done_by": item.done_by.email if item.done_by else None, "threatens_start": item.threatens_start(as_of)}


def checkin_json(c: CheckIn) -> dict:
    return {"id": c.id, "placement_id": c.placement_id, "day": c.day, "due_on": iso(c.due_on),
            "completed_on": iso(c.completed_on), "satisfaction": c.satisfaction, "notes": c.notes,
            "concern": c.concern}


# ----------------------------------------------------------------------------- assignments


@bp.get("/assignments")
@requires("assignments.view")
@documented("List open assignments (job orders)", response=ASSIGNMENT, many=True,
            query={"status": {"type": "string", "enum": list(ASSIGNMENT_STATUSES)},
                   "facility_id": {"type": "integer"}, "discipline": {"type": "string"}})
def list_assignments():
    filters = parse_args(ASSIGNMENT_FILTERS)
    return page(queries.assignments_query(**filters), Assignment.id, assignment_json)


@bp.post("/assignments")
@requires("assignments.edit")
@documented("Open an assignment", request=ASSIGNMENT, response=ASSIGNMENT, status=201, errors=(400, 404, 409))
def create_assignment():
    assignment = services.save_assignment(None, ASSIGNMENT.load(json_body()), current_actor())
    return created(assignment_json(assignment), "placements_api.get_assignment", assignment_id=assignment.id)


@bp.get("/assignments/<int:assignment_id>")
@requires("assignments.view")
@documented("An assignment", response=ASSIGNMENT, errors=(404,))
def get_assignment(assignment_id: int):
    return jsonify(assignment_json(services.get(Assignment, assignment_id)))


@bp.patch("/assignments/<int:assignment_id>")
@requires("assignments.edit")
@documented("Change an open assignment", request=ASSIGNMENT, response=ASSIGNMENT, errors=(400, 404, 409))
def update_assignment(assignment_id: int):
    assignment = services.get(Assignment, assignment_id)
    values = ASSIGNMENT.load(json_body(), partial=True)
    return jsonify(assignment_json(services.save_assignment(assignment, values, current_actor())))


@bp.get("/assignments/<int:assignment_id>/matches")
@requires("assignments.view")
@documented("Therapists who could take the assignment, best first, with reasons", response=MATCH, many=True,
            errors=(400, 404), query=AS_OF)
def matches(assignment_id: int):
    assignment = services.get(Assignment, assignment_id)
    return page_of_list(match_assignment(assignment, as_of_arg()), lambda c: {
        "therapist_id": c.therapist.id, "name": c.therapist.full_name, "discipline": c.therapist.discipline,
        "eligible": c.eligible, "reasons_for": c.reasons_for, "reasons_against": c.reasons_against,
        "license_margin_days": c.license_margin_days, "alerted": c.alerted, "readiness": c.readiness.as_dict(),
    })


@bp.post("/assignments/<int:assignment_id>/alerts")
@requires("assignments.edit")
@documented("Email the assignment to therapists, once each", request=ALERT, errors=(400, 404, 409))
def send_alerts(assignment_id: int):
    assignment = services.get(Assignment, assignment_id)
    sent, told = services.send_assignment_alert(assignment, ALERT.load(json_body())["therapist_ids"],
                                                current_actor())
    return jsonify({"sent": sent, "already_told": told})


# ----------------------------------------------------------------------------- placements


def _placement(placement_id: int) -> Placement:
    return queries.visible_placement(current_actor(), placement_id)


@bp.get("/placements")
@requires("placements.view")
@documented("List placements (a facility contact sees only its own facility's)", response=PLACEMENT, many=True,
            query={"status": {"type": "string", "enum": list(PLACEMENT_STATUSES)},
                   "facility_id": {"type": "integer"}, "therapist_id": {"type": "integer"}})
def list_placements():
    filters = parse_args(PLACEMENT_FILTERS)
    return page(queries.placements_query(current_actor(), **filters), Placement.id, placement_json)


@bp.post("/placements")
@requires("placements.edit")
@documented("Propose a placement, directly or from an assignment", request=PLACEMENT, response=PLACEMENT,
            status=201, errors=(400, 404, 409))
def create_placement():
    placement = services.create_placement(PLACEMENT.load(json_body()), current_actor())
    return created(placement_json(placement), "placements_api.get_placement", placement_id=placement.id)


@bp.get("/placements/<int:placement_id>")
@requires("placements.view")
@documented("A placement", response=PLACEMENT, errors=(404,))
def get_placement(placement_id: int):
    return jsonify(placement_json(_placement(placement_id)))


@bp.patch("/placements/<int:placement_id>")
@requires("placements.edit")
@documented("Change a placement's status (409 when not allowed or not ready) or its terms",
            request=PLACEMENT_PATCH, response=PLACEMENT, errors=(400, 403, 404, 409))
def update_placement(placement_id: int):
    placement = _placement(placement_id)
    values = PLACEMENT_PATCH.load(json_body(), partial=True)
    status, reason = values.pop("status", None), values.pop("reason", None)
    if status == placement.status:
        status = None  # restating the current status alongside other changes is not a move
    override = values.pop("override_reason", None)
    services.update_placement(placement, values, current_actor(), status=status, reason=reason,
                              override_reason=override)
    return jsonify(placement_json(placement))


@bp.get("/placements/<int:placement_id>/readiness")
@requires("placements.view")
@documented("Blockers and warnings for the start", response=READINESS, errors=(400, 404), query=AS_OF)
def get_readiness(placement_id: int):
    return jsonify(readiness(_placement(placement_id), as_of_arg()).as_dict())


@bp.get("/placements/<int:placement_id>/checklist")
@requires("placements.view")
@documented("The onboarding checklist", response=CHECKLIST_ITEM, many=True, errors=(404,))
def checklist(placement_id: int):
    placement = _placement(placement_id)
    as_of = today()
    return page_of_list(placement.checklist, lambda item: checklist_json(item, as_of))


@bp.patch("/checklist-items/<int:item_id>")
@requires("checklist.edit")
@documented("Tick or untick an onboarding item", request=CHECKLIST_ITEM, response=CHECKLIST_ITEM,
            errors=(400, 404, 409))
def update_checklist_item(item_id: int):
    item = queries.checklist_item(current_actor(), item_id)
    services.set_checklist_item(item, CHECKLIST_ITEM.load(json_body())["done"], current_actor())
    return jsonify(checklist_json(item, today()))


@bp.get("/placements/<int:placement_id>/checkins")
@requires("placements.view")
@documented("The 30- and 60-day check-ins", response=CHECKIN, many=True, errors=(404,))
def checkins(placement_id: int):
    return page_of_list(_placement(placement_id).checkins, checkin_json)


@bp.patch("/checkins/<int:checkin_id>")
@requires("checkins.edit")
@documented("Record a check-in; a concern escalates to an admin", request=CHECKIN, response=CHECKIN,
            errors=(400, 404, 409))
def record_checkin(checkin_id: int):
    checkin = queries.checkin(current_actor(), checkin_id)
    services.record_checkin(checkin, CHECKIN.load(json_body()), current_actor())
    db.session.refresh(checkin)
    return jsonify(checkin_json(checkin))
