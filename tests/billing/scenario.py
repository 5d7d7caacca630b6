"""A small billing world: a facility with a rate card, an active placement, entries approved."""

from datetime import date
from decimal import Decimal

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility
from agency.facilities.services import create_facility, save_rate_card
from agency.placements.models import Placement
from agency.placements.services import change_status, create_placement
from tests import factories
from tests.placement_factories_rules import finish_checklist


def facility(**values):
    data = {"name": f"Clinic {factories.npi()}", "facility_type": "cmhc", "state": "NY",
            "payment_terms_days": 30, "billing_email": "ap@clinic.example.org", "address_line1": "1 Main St",
            "city": "Albany", "postal_code": "12207"}
    data.update(values)
    return create_facility(data)


def rate_card(place, start=date(2026, 1, 1), end=None, threshold="40", multiplier="1.5", discipline="LCSW",
              **rates):
    rates = rates or {"direct_care_hour": "90.00", "supervision_hour": "55.00", "travel_mile": "0.67"}
    return save_rate_card(place, None, {
        "effective_from": start, "effective_to": end,
        "overtime_threshold_hours": Decimal(threshold) if threshold else None,
        "overtime_multiplier": Decimal(multiplier),
    }, [{"item": item, "discipline": discipline, "amount": Decimal(amount)} for item, amount in rates.items()])


def active_placement(place, start=date(2026, 9, 1), discipline="LCSW", **values) -> Placement:
    person = factories.therapist(discipline=discipline)
    factories.license(person, state=place.state, expires_on=date(2028, 6, 30))
    placement = create_placement({"therapist_id": person.id, "facility_id": place.id, "start_on": start,
                                  "hours_per_week": 40, **values})
    change_status(placement, "onboarding")
    finish_checklist(placement)
    change_status(placement, "active")
    return placement


def invoiced_day(place, day=date(2026, 11, 2)):
    """A rate card, an active placement and one approved day of hours at the facility, invoiced."""
    rate_card(place)
    entry(active_placement(place), day)
    invoice, _ = invoice_facility(place.id, day.replace(day=1), day.replace(day=28))
    return invoice


def entry(placement, day, direct="8", supervision="0", miles="0", approve=True):
    made = timesheets.record_entry({
        "placement_id": placement.id, "work_date": day, "direct_care_hours": Decimal(direct),
        "supervision_hours": Decimal(supervision), "travel_miles": Decimal(miles),
    })
    if approve:
        timesheets.decide([made], True, None)
    return made
