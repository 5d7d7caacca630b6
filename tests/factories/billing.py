"""Timesheet entries and invoiced days: a small billing world on top of the places."""

from datetime import date
from decimal import Decimal

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility
from tests.factories.places import active_placement, rate_card


def entry(placement, day, direct="8", supervision="0", miles="0", approve=True):
    """One day of hours on a placement, approved unless approve=False."""
    made = timesheets.record_entry({
        "placement_id": placement.id, "work_date": day, "direct_care_hours": Decimal(direct),
        "supervision_hours": Decimal(supervision), "travel_miles": Decimal(miles),
    })
    if approve:
        timesheets.decide([made], True, None)
    return made


def invoiced_day(place, day=date(2026, 11, 2)):
    """A rate card, an active placement and one approved day of hours at the facility, invoiced."""
    rate_card(place)
    entry(active_placement(place), day)
    invoice, _ = invoice_facility(place.id, day.replace(day=1), day.replace(day=28))
    return invoice
