"""Factories: realistic rows with sensible defaults, committed through the services."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from agency.credentials import services
from agency.credentials.models import CERule, CETopicRequirement
from agency.extensions import db

_seq = itertools.count(1)



def npi(n: int | None = None) -> str:
    """A valid NPI: nine digits and the Luhn check digit over 80840 + those nine."""
    from agency.core.states import npi_is_valid

    base = f"1{(n if n is not None else next(_seq)) % 10**8:08d}"
    return next(base + str(d) for d in range(10) if npi_is_valid(base + str(d)))


def therapist(**values):
    n = next(_seq)
    data = {
        "first_name": "Dana", "last_name": f"Rivera{n}", "email": f"dana{n}@example.org",
        "discipline": "LCSW", "home_state": "NY", "status": "active",
    }
    data.update(values)
    return services.create_therapist(data)


def license(therapist, **values):
    n = next(_seq)
    data = {
        "state": "NY", "license_type": "LCSW", "number": f"LC{n:06d}", "kind": "state_license",
        "issued_on": date(2025, 1, 1), "expires_on": date(2027, 12, 31),
    }
    data.update(values)
    return services.add_license(therapist, data)


def ce_record(therapist, **values):
    data = {"title": "Ethics in practice", "provider": "NASW", "hours": Decimal("6"),
            "topic": "general", "completed_on": date(2026, 6, 1)}
    data.update(values)
    return services.add_ce_record(therapist, data)


def ce_rule(state="NY", license_type="LCSW", hours="36", months=36, topics=None):
    rule = CERule(state=state, license_type=license_type, hours_required=Decimal(hours),
                  cycle_months=months)
    for topic, hours_ in (topics or {}).items():
        rule.topics.append(CETopicRequirement(topic=topic, hours=Decimal(hours_)))
    db.session.add(rule)
    db.session.commit()
    return rule


def panel(therapist, **values):
    data = {"payer": f"Aetna {next(_seq)}", "status": "submitted",
            "submitted_on": date(2026, 9, 1), "next_follow_up_on": date(2026, 11, 27)}
    data.update(values)
    return services.add_panel(therapist, data)


def days_from_today(n: int) -> date:
    return date(2026, 11, 25) + timedelta(days=n)
