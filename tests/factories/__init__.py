"""Factories: realistic rows with sensible defaults, committed through the services.

Everything goes through the services, as a user would, so the rules under test
also guard the data the tests build. TODAY is the date the test run pins.
"""

from tests.factories.billing import entry, invoiced_day
from tests.factories.dates import START, TODAY, days_from_today
from tests.factories.people import (
    ce_record,
    ce_rule,
    document,
    exclusion,
    license,
    licensed_therapist,
    npi,
    panel,
    therapist,
)
from tests.factories.places import (
    active_placement,
    alert_through_api,
    assignment,
    facility,
    finish_checklist,
    placement,
    rate_card,
)

__all__ = [
    "START", "TODAY", "active_placement", "alert_through_api", "assignment", "ce_record", "ce_rule",
    "days_from_today", "document", "entry", "exclusion", "facility", "finish_checklist", "invoiced_day", "license",
    "licensed_therapist", "npi", "panel", "placement", "rate_card", "therapist",
]
