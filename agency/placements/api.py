"""JSON API for open assignments, matching, placements, readiness, checklists and check-ins."""

import sqlalchemy as sa

from agency.core.api import (
    AS_OF,
    Bool,
    Choice,
    Date,
    Id,
    IdArg,
    Int,
    ListOf,
    Money,
    Nested,
    Schema,
    State,
    Str,
    Timestamp,
    api_blueprint,
    as_of_arg,
    created,
    json_body,
    page,
    page_of_list,
    parse_args,
    reply,
)
from agency.core.dates import today
from agency.core.openapi import documented
from agency.core.permissions import current_actor, requires, withheld
from agency.credentials.models import DISCIPLINES
from agency.extensions import db
from agency.placements import queries, services
from agency.placements.at_risk import revenue_at_risk
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
from agency.placements.watch import CODE_LABELS, Watch

bp = api_blueprint("placements_api", __name__)

ASSIGNMENT = Schema(
    "Assignment",
    id=Int(read_only=True),
    facility_id=Id(required=True),
    title=Str(required=True, max_length=200),
    discipline=Choice(required=True, choices=DISCIPLINES),
    service_states=ListOf(item=State(), min_items=1, max_items=56, nullable=False),
    start_on=Date(required=True),
    length_weeks=Int(required=True, minimum=1, maximum=260),
    hours_per_week=Int(required=True, minimum=1, maximum=80),
    telehealth=Bool(nullable=False),
    billing_basis=Choice(choices=BILLING_BASES, nullable=False),
    status=Choice(choices=ASSIGNMENT_STATUSES, nullable=False),
    notes=Str(max_length=5000, multiline=True),
    end_on=Date(read_only=True, nullable=False, description="the last day of the last week"),
)
ASSIGNMENT_FILTERS = Schema("AssignmentFilters", status=Choice(choices=ASSIGNMENT_STATUSES),
                            facility_id=IdArg(), discipline=Choice(choices=DISCIPLINES))
ALERT = Schema("AssignmentAlert", therapist_ids=ListOf(required=True, item=Id(), min_items=1, max_items=500))
PLACEMENT = Schema(
    "Placement",
    id=Int(read_only=True),
    therapist_id=Id(required=True),
    facility_id=Id(description="taken from the assignment when assignment_id is given"),
    assignment_id=Id(),
    start_on=Date(),
    end_on=Date(),
    service_states=ListOf(item=State(), min_items=1, max_items=56, description="defaults to the facility's state"),
    billing_basis=Choice(choices=BILLING_BASES, nullable=False),
    hours_per_week=Int(minimum=1, maximum=80),
    telehealth=Bool(nullable=False),
    status=Choice(read_only=True, choices=PLACEMENT_STATUSES),
    notes=Str(max_length=5000, multiline=True, description="the agency's internal notes; null for a facility contact"),
)
PLACEMENT_PATCH = Schema(
    "PlacementChange",
    status=Choice(choices=PLACEMENT_STATUSES),
    reason=Str(max_length=500, description="why it is cancelled"),
    override_reason=Str(max_length=500, description="admins only: activate a placement that is not ready"),
    start_on=Date(nullable=False), end_on=Date(), service_states=ListOf(item=State(), min_items=1, max_items=56),
    billing_basis=Choice(choices=BILLING_BASES, nullable=False), hours_per_week=Int(minimum=1, maximum=80),
    telehealth=Bool(nullable=False), notes=Str(max_length=5000, multiline=True),
)
PLACEMENT_FILTERS = Schema("PlacementFilters", status=Choice(choices=PLACEMENT_STATUSES),
                           facility_id=IdArg(), therapist_id=IdArg())
FINDING = Schema("Finding", code=Str(read_only=True), message=Str(read_only=True))
READINESS = Schema("Readiness", ready=Bool(read_only=True), checked_on=Date(read_only=True),
                   # A facility contact gets ready or not, with one neutral blocker (in_progress) and no warnings.
                   blockers=ListOf(read_only=True, item=Nested(schema=FINDING)),
                   warnings=ListOf(read_only=True, item=Nested(schema=FINDING)))
CHECKLIST_ITEM = Schema(
    "ChecklistItem",
    id=Int(read_only=True), title=Str(read_only=True), owner=Str(read_only=True),
    due_on=Date(read_only=True, nullable=True), done=Bool(required=True),
    done_at=Timestamp(nullable=True),
    done_by=Str(read_only=True, description="the email of who ticked it; null for a facility contact",
                source=lambda item: item.done_by.email if item.done_by else None),
    threatens_start=Bool(read_only=True, nullable=False, source=lambda item: item.threatens_start(today())),
)
CHECKIN = Schema(
    "CheckIn",
    id=Int(read_only=True), placement_id=Int(read_only=True), day=Int(read_only=True), due_on=Date(read_only=True),
    completed_on=Date(), satisfaction=Int(required=True, nullable=True, minimum=1, maximum=5,
                                          description="1-5; null until the check-in is done, and for a "
                                          "facility contact"),
    notes=Str(max_length=5000, multiline=True, description="null for a facility contact"),
    concern=Bool(nullable=True, description="null (no concern) when recording; null for a facility contact"),
)
MATCH = Schema(
    "Match",
    therapist_id=Int(read_only=True, source=lambda c: c.therapist.id),
    name=Str(read_only=True, source=lambda c: c.therapist.full_name),
    discipline=Choice(read_only=True, choices=DISCIPLINES, source=lambda c: c.therapist.discipline),
    eligible=Bool(read_only=True, nullable=False),
    reasons_for=ListOf(read_only=True, item=Str()),
    reasons_against=ListOf(read_only=True, item=Str()),
    license_margin_days=Int(read_only=True, description="days the tightest license runs past the start"),
    alerted=Bool(read_only=True, nullable=False),
    readiness=Nested(read_only=True, nullable=False, schema=READINESS),
)
WATCH_ITEM = Schema(
    "WatchItem",
    placement_id=Int(read_only=True, nullable=False), therapist_id=Int(read_only=True, nullable=False),
    facility_id=Int(read_only=True, nullable=False),
    status=Choice(read_only=True, nullable=False, choices=PLACEMENT_STATUSES),
    code=Choice(read_only=True, nullable=False, choices=tuple(CODE_LABELS),
                description="the readiness code of the blocker"),
    message=Str(read_only=True, nullable=False, description="readiness's words for it, on the day it bites"),
    bites_on=Date(read_only=True, nullable=False,
                  description="the first day the placement is not ready for it (the start, or as_of, if already)"),
    fix_url=Str(read_only=True, nullable=False, description="the page where it is put right (a path)"),
)
WATCH_FILTERS = Schema("WatchFilters", as_of=Date(description="the day to judge by; today if left out"),
                       code=Choice(choices=tuple(CODE_LABELS)))
AT_RISK_ITEM = Schema(
    "RevenueAtRiskItem",
    placement_id=Int(read_only=True, nullable=False), therapist_id=Int(read_only=True, nullable=False),
    facility_id=Int(read_only=True, nullable=False),
    status=Choice(read_only=True, nullable=False, choices=PLACEMENT_STATUSES, source=lambda i: i.placement.status),
    at_risk_on=Date(read_only=True, nullable=False,
                    description="the first day the placement is not ready (as_of, or its start, if already)"),
    code=Choice(read_only=True, nullable=False, choices=tuple(CODE_LABELS),
                description="the compliance watch's code of the cause that bites first"),
    detail=Str(read_only=True, description="the state or document type the cause concerns, if any"),
    billing_basis=Choice(read_only=True, nullable=False, choices=BILLING_BASES,
                         source=lambda i: i.placement.billing_basis),
    hours_per_week=Int(read_only=True, source=lambda i: i.placement.hours_per_week),
    end_on=Date(read_only=True, source=lambda i: i.placement.end_on),
    counted_to=Date(read_only=True, nullable=False,
                    description="the last day counted: the end, or the horizon for a placement with no end date"),
    weekly_revenue=Money(read_only=True, nullable=False,
                         description="a full week of the billing basis under the rate card in effect on at_risk_on"),
    revenue_at_risk=Money(read_only=True, nullable=False,
                          description="the weekly revenue prorated per day from at_risk_on to counted_to"),
    unpriced=Str(read_only=True, description="why the weekly revenue is 0 (no rate card, no rate, no hours)"),
)
AT_RISK_FILTERS = Schema("RevenueAtRiskFilters", as_of=Date(description="the day to judge by; today if left out"),
                         facility_id=IdArg(), code=Choice(choices=tuple(CODE_LABELS)))
ALERTS_SENT = Schema("AlertsSent", sent=Int(read_only=True, nullable=False,
                                            description="emails queued in the outbox (mailed when it sends)"),
                     already_told=Int(read_only=True, nullable=False))


# ----------------------------------------------------------------------------- assignments


@bp.get("/assignments")
@requires("assignments.view")
@documented("List open assignments (job orders)", response=ASSIGNMENT, many=True,
            query=ASSIGNMENT_FILTERS)
def list_assignments():
    filters = parse_args()
    return page(queries.assignments_query(**filters), Assignment.id)


@bp.post("/assignments")
@requires("assignments.edit")
@documented("Open an assignment", request=ASSIGNMENT, response=ASSIGNMENT, status=201, errors=(400, 404, 409))
def create_assignment():
    assignment = services.save_assignment(None, ASSIGNMENT.load(json_body()), current_actor())
    return created(assignment, "placements_api.get_assignment", {"assignment_id": assignment.id})


@bp.get("/assignments/<int:assignment_id>")
@requires("assignments.view")
@documented("An assignment", response=ASSIGNMENT, errors=(404,))
def get_assignment(assignment_id: int):
    return reply(services.get(Assignment, assignment_id))


@bp.patch("/assignments/<int:assignment_id>")
@requires("assignments.edit")
@documented("Change an open assignment", request=ASSIGNMENT, response=ASSIGNMENT, errors=(400, 404, 409))
def update_assignment(assignment_id: int):
    assignment = services.get(Assignment, assignment_id)
    values = ASSIGNMENT.load(json_body(), partial=True)
    return reply(services.save_assignment(assignment, values, current_actor()))


@bp.get("/assignments/<int:assignment_id>/matches")
@requires("assignments.view")
@documented("Therapists who could take the assignment, best first, with reasons", response=MATCH, many=True,
            errors=(400, 404), query=AS_OF)
def matches(assignment_id: int):
    assignment = services.get(Assignment, assignment_id)
    return page_of_list(match_assignment(assignment, as_of_arg()))


@bp.post("/assignments/<int:assignment_id>/alerts")
@requires("assignments.edit")
@documented("Queue the assignment's email to therapists, once each", request=ALERT, response=ALERTS_SENT,
            errors=(400, 404, 409))
def send_alerts(assignment_id: int):
    assignment = services.get(Assignment, assignment_id)
    sent, told = services.send_assignment_alert(assignment, ALERT.load(json_body())["therapist_ids"],
                                                current_actor())
    return reply({"sent": sent, "already_told": told})


# ----------------------------------------------------------------------------- placements


def _placement(placement_id: int) -> Placement:
    return queries.visible_placement(current_actor(), placement_id)


def _withheld(model, rows: list) -> list[dict]:
    """What the caller may not see of each row, as values for the schema's dump."""
    return [withheld(model, current_actor())] * len(rows)


def _reply_placement(placement: Placement, status: int = 200):
    return reply(placement, status, **withheld(Placement, current_actor()))


@bp.get("/placements")
@requires("placements.view")
@documented("List placements (a facility contact sees only its own facility's)", response=PLACEMENT, many=True,
            query=PLACEMENT_FILTERS)
def list_placements():
    filters = parse_args()
    return page(queries.placements_query(current_actor(), **filters), Placement.id,
                lambda rows: _withheld(Placement, rows))


@bp.post("/placements")
@requires("placements.edit")
@documented("Propose a placement, directly or from an assignment", request=PLACEMENT, response=PLACEMENT,
            status=201, errors=(400, 404, 409))
def create_placement():
    placement = services.create_placement(PLACEMENT.load(json_body()), current_actor())
    return created(placement, "placements_api.get_placement", {"placement_id": placement.id},
                   **withheld(Placement, current_actor()))


@bp.get("/placements/watch")
@requires("placements.watch")
@documented("The compliance watch: onboarding and active placements that are, or will become before they end, "
            "not ready, soonest first", response=WATCH_ITEM, many=True, errors=(400,), query=WATCH_FILTERS)
def watch():
    filters = parse_args()
    return page_of_list(Watch(filters.get("as_of") or today(), code=filters.get("code")))


@bp.get("/placements/at-risk")
@requires("revenue_at_risk.view")
@documented("Revenue at risk: onboarding and active placements that stop being ready before they end, from the "
            "day they do, with the rate card's revenue from then to the end, largest revenue_at_risk first",
            response=AT_RISK_ITEM, many=True, errors=(400,), query=AT_RISK_FILTERS)
def at_risk():
    filters = parse_args()
    found = revenue_at_risk(filters.get("as_of") or today())
    return page_of_list(found.filtered(facility_id=filters.get("facility_id"), code=filters.get("code")).items)


@bp.get("/placements/<int:placement_id>")
@requires("placements.view")
@documented("A placement", response=PLACEMENT, errors=(404,))
def get_placement(placement_id: int):
    return _reply_placement(_placement(placement_id))


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
    return _reply_placement(placement)


@bp.get("/placements/<int:placement_id>/readiness")
@requires("placements.view")
@documented("Blockers and warnings for the start; a facility contact learns only whether it is ready",
            response=READINESS, errors=(400, 404), query=AS_OF)
def get_readiness(placement_id: int):
    return reply(readiness(_placement(placement_id), as_of_arg()).as_seen_by(current_actor()))


@bp.get("/placements/<int:placement_id>/checklist")
@requires("placements.view")
@documented("The onboarding checklist", response=CHECKLIST_ITEM, many=True, errors=(404,))
def checklist(placement_id: int):
    placement = _placement(placement_id)
    return page_of_list(placement.checklist, lambda rows: _withheld(ChecklistItem, rows))


@bp.patch("/checklist-items/<int:item_id>")
@requires("checklist.edit")
@documented("Tick or untick an onboarding item", request=CHECKLIST_ITEM, partial=False, response=CHECKLIST_ITEM,
            errors=(400, 404, 409))
def update_checklist_item(item_id: int):
    item = queries.checklist_item(current_actor(), item_id)
    services.set_checklist_item(item, CHECKLIST_ITEM.load(json_body())["done"], current_actor())
    return reply(item, **withheld(ChecklistItem, current_actor()))


@bp.get("/placements/<int:placement_id>/checkins")
@requires("placements.view")
@documented("The 30- and 60-day check-ins; a facility contact sees when, not what was said",
            response=CHECKIN, many=True, errors=(404,))
def checkins(placement_id: int):
    placement = _placement(placement_id)
    return page(sa.select(CheckIn).where(CheckIn.placement_id == placement.id), CheckIn.id,
                lambda rows: _withheld(CheckIn, rows))


@bp.patch("/checkins/<int:checkin_id>")
@requires("checkins.edit")
@documented("Record a check-in; a concern escalates to an admin", request=CHECKIN, partial=False, response=CHECKIN,
            errors=(400, 404, 409))
def record_checkin(checkin_id: int):
    checkin = queries.checkin(current_actor(), checkin_id)
    services.record_checkin(checkin, CHECKIN.load(json_body()), current_actor())
    db.session.refresh(checkin)
    return reply(checkin, **withheld(CheckIn, current_actor()))
