"""Therapists and what they hold: licenses, CE, payer panels, documents."""

import itertools
import secrets
from datetime import date
from decimal import Decimal

from agency.credentials import services
from agency.credentials.models import CERule, CETopicRequirement, Document, ExclusionHit, ExclusionScreening
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


def licensed_therapist(state="NY", expires_on=date(2028, 6, 30), **values):
    """A therapist with a state license in force well past the usual start date."""
    person = therapist(**values)
    license_type = values.get("discipline", "LCSW")
    if license_type == "PMHNP":
        license_type = "APRN"
    license(person, state=state, license_type=license_type, expires_on=expires_on)
    return person


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


def exclusion(therapist, excluded_on, reinstated_on=None, status="confirmed", match="npi"):
    """A therapist found on an OIG LEIE file: the screening run and its hit, written as the screening stores them."""
    screening = ExclusionScreening(source="oig_leie", filename="UPDATED.csv", sha256="1" * 64, rows=1,
                                   therapists_screened=1, screened_on=date(2026, 11, 20))
    hit = ExclusionHit(screening=screening, therapist_id=therapist.id, match=match, status=status,
                       excluded_on=excluded_on, reinstated_on=reinstated_on, exclusion_type="1128a1",
                       record={"NPI": therapist.npi or "", "EXCLDATE": excluded_on.strftime("%Y%m%d")})
    db.session.add(hit)
    db.session.commit()
    return hit
