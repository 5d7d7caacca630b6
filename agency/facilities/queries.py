"""Facility lists for the pages and the API, scoped to what the viewer may see."""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from agency.core.errors import NotFound
from agency.core.listing import contains_text
from agency.core.permissions import facility_scope
from agency.core.pickers import Picker
from agency.extensions import db
from agency.facilities.models import Facility, RateCard


def facilities_query(actor, *, q: str | None = None, facility_type: str | None = None,
                     state: str | None = None, active: bool | None = None):
    """Facilities matching the filters; a facility contact only ever gets their own."""
    query = sa.select(Facility)
    if (own := facility_scope(actor)) is not None:
        query = query.where(Facility.id == own)
    if q:
        query = query.where(contains_text(q, Facility.name))
    if facility_type:
        query = query.where(Facility.facility_type == facility_type)
    if state:
        query = query.where(Facility.state == state)
    if active is not None:
        query = query.where(Facility.active.is_(active))
    return query


def visible_facility(actor, facility_id: int) -> Facility:
    """The facility with its contacts and rate cards, or NotFound if the viewer may not see it.

    Another facility is "not found" to a facility contact, so its existence is not revealed.
    """
    facility = db.session.scalar(
        facilities_query(actor).where(Facility.id == facility_id).options(
            selectinload(Facility.contacts),
            selectinload(Facility.rate_cards).selectinload(RateCard.rates),
        )
    )
    if facility is None:
        raise NotFound(f"no facility with id {facility_id}")
    return facility


def _facility_picker(args: tuple, **filters) -> Picker:
    return Picker("facilities.facility_options", "facilities", args=args,
                  rows=lambda actor: facilities_query(actor, **filters),
                  search=lambda: (Facility.name,), order=lambda: (Facility.name,), label=lambda f: f.name)


# Any facility the viewer may see (filters, invoice runs) and the active ones new work may go to.
FACILITY_PICKER = _facility_picker(())
ACTIVE_FACILITY_PICKER = _facility_picker((("active", "1"),), active=True)
