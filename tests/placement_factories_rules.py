"""Factories for the recruiter-side rule tests: facilities, rate cards, assignments, placements.

Everything goes through the services, as a recruiter would, so the rules under
test also guard the data the tests build. Today is pinned to 2026-11-25.
"""

import itertools
import secrets
from datetime import date
from decimal import Decimal

from agency.credentials.models import Document
from agency.extensions import db
from agency.facilities.services import create_facility, save_rate_card
from agency.placements.services import change_status, create_placement, save_assignment
from tests import factories

TODAY = date(2026, 11, 25)
# Three weeks out: far enough that onboarding is still in progress.
START = date(2026, 12, 14)

_seq = itertools.count(1)


def facility(**values):
    n = next(_seq)
    data = {"name": f"Hudson Valley Clinic {n}", "facility_type": "cmhc", "state": "NY",
            "payment_terms_days": 30, "billing_email": f"ap{n}@clinic.example.org", "city": "Albany"}
    data.update(values)
    return create_facility(data)


def rate_card(place, start, end=None, amount="95.00", discipline="LCSW"):
    return save_rate_card(place, None, {
        "effective_from": start, "effective_to": end,
        "overtime_threshold_hours": Decimal("40"), "overtime_multiplier": Decimal("1.5"),
    }, [{"item": "direct_care_hour", "discipline": discipline, "amount": Decimal(amount)}])


def licensed_therapist(state="NY", expires_on=date(2028, 6, 30), **values):
    """A therapist with a state license in force well past the usual start date."""
    person = factories.therapist(**values)
    license_type = values.get("discipline", "LCSW")
    if license_type == "PMHNP":
        license_type = "APRN"
    factories.license(person, state=state, license_type=license_type, expires_on=expires_on)
    return person


def document(therapist, doc_type, expires_on=None, issued_on=date(2026, 1, 5)):
    """A document on file; the stored file itself does not matter to readiness or matching."""
    doc = Document(
        owner_type="therapist", owner_id=therapist.id, doc_type=doc_type,
        filename=f"{doc_type}.pdf", content_type="application/pdf", size=1024,
        sha256="0" * 64, storage_name=secrets.token_hex(16) + ".pdf",
        issued_on=issued_on, expires_on=expires_on,
    )
    db.session.add(doc)
    db.session.commit()
    return doc


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


def active_placement(therapist, place, start, **values):
    """A placement that went through onboarding with every item done and is now active."""
    made = placement(therapist, place, start, **values)
    change_status(made, "onboarding")
    finish_checklist(made)
    change_status(made, "active")
    return made
