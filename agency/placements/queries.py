"""Placement and assignment lists for the pages and the API, scoped to the viewer."""

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from agency.core.errors import NotFound
from agency.core.listing import contains_text
from agency.core.permissions import facility_scope
from agency.core.pickers import Picker
from agency.credentials.models import License, Therapist
from agency.extensions import db
from agency.placements.models import Assignment, CheckIn, ChecklistItem, Placement, PlacementEvent


def placements_query(actor, *, status: str | None = None, facility_id: int | None = None,
                     therapist_id: int | None = None, q: str | None = None):
    """Placements matching the filters; a facility contact only ever gets their facility's."""
    query = sa.select(Placement).options(joinedload(Placement.therapist), joinedload(Placement.facility))
    if (own := facility_scope(actor)) is not None:
        query = query.where(Placement.facility_id == own)
    if status:
        query = query.where(Placement.status == status)
    if facility_id:
        query = query.where(Placement.facility_id == facility_id)
    if therapist_id:
        query = query.where(Placement.therapist_id == therapist_id)
    if q:
        query = query.join(Placement.therapist).where(contains_text(q, Therapist.full_name))
    return query


def visible_placement(actor, placement_id: int) -> Placement:
    """A placement with everything its page shows, or NotFound outside the viewer's facility."""
    placement = db.session.scalar(
        placements_query(actor).where(Placement.id == placement_id).options(
            selectinload(Placement.checklist).joinedload(ChecklistItem.done_by),
            selectinload(Placement.checkins),
            selectinload(Placement.events).joinedload(PlacementEvent.by),
            joinedload(Placement.therapist).selectinload(Therapist.licenses)
            .joinedload(License.home_license),
            joinedload(Placement.therapist).selectinload(Therapist.panels),
        )
    )
    if placement is None:
        raise NotFound(f"no placement with id {placement_id}")
    return placement


def assignments_query(*, status: str | None = None, facility_id: int | None = None,
                      discipline: str | None = None):
    query = sa.select(Assignment).options(joinedload(Assignment.facility))
    if status:
        query = query.where(Assignment.status == status)
    if facility_id:
        query = query.where(Assignment.facility_id == facility_id)
    if discipline:
        query = query.where(Assignment.discipline == discipline)
    return query


def checklist_item(actor, item_id: int) -> ChecklistItem:
    item = db.session.get(ChecklistItem, item_id)
    if item is None or (facility_scope(actor) not in (None, item.placement.facility_id)):
        raise NotFound(f"no checklist item with id {item_id}")
    return item


def checkin(actor, checkin_id: int) -> CheckIn:
    found = db.session.get(CheckIn, checkin_id)
    if found is None or (facility_scope(actor) not in (None, found.placement.facility_id)):
        raise NotFound(f"no check-in with id {checkin_id}")
    return found


# The therapists a placement may be proposed for: anyone not inactive (readiness judges the rest).
THERAPIST_PICKER = Picker(
    "placements.therapist_options", "therapists",
    rows=lambda actor: sa.select(Therapist).where(Therapist.status != "inactive"),
    search=lambda: (Therapist.full_name, Therapist.email, Therapist.npi),
    order=lambda: (Therapist.last_name, Therapist.first_name),
    label=lambda t: f"{t.last_name}, {t.first_name} ({t.discipline})",
)
