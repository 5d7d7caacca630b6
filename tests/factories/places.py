"""Facilities and their contracts, assignments and placements."""

import itertools
from datetime import date
from decimal import Decimal

from agency.extensions import db
from agency.facilities.services import create_facility, save_rate_card
from agency.placements.models import Placement
from agency.placements.services import change_status, create_placement, save_assignment
from tests.factories.dates import START
from tests.factories.people import licensed_therapist

_seq = itertools.count(1)
# The contract a test gets unless it names its own rates.
RATES = {"direct_care_hour": "90.00", "supervision_hour": "55.00", "travel_mile": "0.67"}


def facility(**values):
    """A New York facility with an address and a billing email of its own, so it can be invoiced."""
    n = next(_seq)
    data = {"name": f"Hudson Valley Clinic {n}", "facility_type": "cmhc", "state": "NY",
            "payment_terms_days": 30, "billing_email": f"ap{n}@clinic.example.org",
            "address_line1": "1 Main St", "city": "Albany", "postal_code": "12207"}
    data.update(values)
    return create_facility(data)


def rate_card(place, start=date(2026, 1, 1), end=None, threshold="40", multiplier="1.5", discipline="LCSW",
              rule="weekly", daily=None, anchor=None, **rates):
    """A rate card for one discipline; threshold=None for no weekly overtime (8-and-80 has none); daily
    the daily rule's threshold, anchor 8-and-80's first day. Rates default to RATES."""
    rates = rates or RATES
    return save_rate_card(place, None, {
        "effective_from": start, "effective_to": end,
        "overtime_threshold_hours": Decimal(threshold) if threshold and rule != "eight_and_eighty" else None,
        "overtime_multiplier": Decimal(multiplier), "overtime_rule": rule,
        "daily_threshold_hours": Decimal(daily) if daily else None, "period_anchor": anchor,
    }, [{"item": item, "discipline": discipline, "amount": Decimal(amount)} for item, amount in rates.items()])


def assignment(place, **values):
    data = {"facility_id": place.id, "title": "Outpatient LCSW", "discipline": "LCSW",
            "start_on": START, "length_weeks": 12, "hours_per_week": 40}
    data.update(values)
    return save_assignment(None, data)


def placement(therapist, place, start=START, actor=None, **values):
    data = {"therapist_id": therapist.id, "facility_id": place.id, "start_on": start,
            "hours_per_week": 40}
    data.update(values)
    return create_placement(data, actor=actor)


def finish_checklist(placement):
    for item in placement.checklist:
        item.done, item.done_at = True, placement.created_at
    db.session.commit()


def active_placement(place, therapist=None, start=date(2026, 9, 1), **values) -> Placement:
    """A placement that went through onboarding with every item done and is now active.

    Without a therapist, one licensed in the facility's state is made."""
    made = placement(therapist or licensed_therapist(state=place.state), place, start, **values)
    change_status(made, "onboarding")
    finish_checklist(made)
    change_status(made, "active")
    return made


def alert_through_api(caller, facility_id: int, therapist) -> None:
    """An opening posted and one therapist told of it through the API, as a recruiter does; its email queued."""
    opening = caller.post("/api/v1/assignments", json={
        "facility_id": facility_id, "title": "Outpatient LCSW", "discipline": "LCSW",
        "start_on": START.isoformat(), "length_weeks": 12, "hours_per_week": 40})
    assert opening.status_code == 201, opening.json
    sent = caller.post(f"/api/v1/assignments/{opening.json['id']}/alerts", json={"therapist_ids": [therapist.id]})
    assert sent.json == {"sent": 1, "already_told": 0}, sent.json
