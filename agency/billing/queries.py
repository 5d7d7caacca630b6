"""Timesheet and invoice lists for the pages and the API, scoped to the viewer's facility."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from agency.billing.models import Invoice, TimesheetEntry
from agency.core.dates import human_day
from agency.core.listing import contains_text
from agency.core.permissions import facility_scope
from agency.core.pickers import Picker
from agency.credentials.models import Therapist
from agency.facilities.models import Facility
from agency.placements.models import Placement
from agency.placements.queries import placements_query


def entries_query(actor, *, status: str | None = None, facility_id: int | None = None,
                  placement_id: int | None = None, date_from: date | None = None,
                  date_to: date | None = None, q: str | None = None):
    """Timesheet entries matching the filters; a facility contact only gets their facility's."""
    query = (
        sa.select(TimesheetEntry)
        .join(TimesheetEntry.placement)
        .options(joinedload(TimesheetEntry.placement).joinedload(Placement.therapist),
                 joinedload(TimesheetEntry.placement).joinedload(Placement.facility))
    )
    if (own := facility_scope(actor)) is not None:
        query = query.where(Placement.facility_id == own)
    if status:
        query = query.where(TimesheetEntry.status == status)
    if facility_id:
        query = query.where(Placement.facility_id == facility_id)
    if placement_id:
        query = query.where(TimesheetEntry.placement_id == placement_id)
    if date_from:
        query = query.where(TimesheetEntry.work_date >= date_from)
    if date_to:
        query = query.where(TimesheetEntry.work_date <= date_to)
    if q:
        query = query.join(Placement.therapist).join(Placement.facility).where(
            contains_text(q, Therapist.full_name, Facility.name))
    return query


def invoices_query(actor, *, status: str | None = None, facility_id: int | None = None,
                   q: str | None = None):
    """Invoices matching the filters; a facility contact only gets their facility's."""
    query = sa.select(Invoice).options(joinedload(Invoice.facility))
    if q:
        query = query.join(Invoice.facility).where(contains_text(q, Invoice.number, Facility.name))
    if (own := facility_scope(actor)) is not None:
        # A draft is the agency's until it is issued; one discarded never reached the facility.
        query = query.where(Invoice.facility_id == own, Invoice.number.is_not(None))
    if status:
        query = query.where(Invoice.status == status)
    if facility_id:
        query = query.where(Invoice.facility_id == facility_id)
    return query


def _billable_placements(actor):
    return (placements_query(actor).where(Placement.status.in_(Placement.STARTED))
            .join(Placement.therapist).join(Placement.facility))


# The placements hours may be recorded against, searched by therapist or facility.
BILLABLE_PLACEMENT_PICKER = Picker(
    "billing.placement_options", "placements",
    rows=_billable_placements,
    search=lambda: (Therapist.full_name, Facility.name),
    order=lambda: (),
    label=lambda p: f"{p.therapist.full_name} at {p.facility.name} (from {human_day(p.start_on)})",
)
