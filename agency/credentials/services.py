"""Business rules for therapists and their licenses, CE records, panels and CE rules.

Every write goes through these functions: they validate, write in one
transaction with its audit event, and raise a DomainError that changes
nothing when a rule refuses.
"""

import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from agency.billing import holds
from agency.core import audit
from agency.core.dates import human_day, today
from agency.core.errors import Conflict, NotFound, ValidationError
from agency.core.integrity import commit_or_conflict, duplicate
from agency.core.persistence import lock_value
from agency.core.states import npi_is_valid
from agency.core.text import check_text, normalise_email
from agency.credentials.models import (
    CERecord,
    CERule,
    CETopicRequirement,
    License,
    PanelEnrollment,
    Therapist,
    disciplines_for,
)
from agency.credentials.rules import check_source, checked_day
from agency.extensions import db


def _apply(obj, values: dict, summary: str, actor) -> None:
    changes = audit.diff(obj, values)
    for key, value in values.items():
        setattr(obj, key, value)
    if changes:
        audit.record("update", obj, summary, actor=actor, changes=changes)


def get_or_404(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(f"no {model.__audit_type__.replace('_', ' ')} with id {object_id}")
    return obj


# ----------------------------------------------------------------------------- therapists


def check_therapist(values: dict, therapist: Therapist | None) -> dict:
    """The therapist's values as kept (email normalised), or the first rule they break.

    The pages, the API and the roster import all come through here.
    """
    values = dict(values)
    if values.get("email") is not None:
        values["email"] = normalise_email(values["email"])
    check_text(Therapist, values)
    npi = values.get("npi")
    if npi and not npi_is_valid(npi):
        raise ValidationError.on("npi", "is not a valid NPI: 10 digits with a correct check digit")
    attested = values.get("caqh_attested_on")
    if attested and attested > today():
        raise ValidationError.on("caqh_attested_on", "cannot be in the future")
    # Emails are kept lower-case; lower() also finds an address saved as typed before that rule.
    for key, column in (("email", sa.func.lower(Therapist.email)), ("npi", Therapist.npi)):
        value = values.get(key)
        if not value:
            continue
        query = sa.select(Therapist.id).where(column == value)
        if therapist is not None:
            query = query.where(Therapist.id != therapist.id)
        if holder := db.session.scalar(query):
            raise duplicate(f"uq_therapists_{key}", {key: value}, holder)
    return values


def create_therapist(values: dict, actor=None) -> Therapist:
    """Add a therapist to the roster."""
    values = check_therapist(values, None)
    therapist = Therapist(**values)
    db.session.add(therapist)
    audit.record("create", therapist, f"therapist {therapist.full_name}", actor=actor)
    commit_or_conflict()
    return therapist


def update_therapist(therapist: Therapist, values: dict, actor=None) -> Therapist:
    """Change a therapist's profile; only the given fields change."""
    values = check_therapist(values, therapist)
    _apply(therapist, values, f"therapist {therapist.full_name}", actor)
    commit_or_conflict()
    return therapist


# ----------------------------------------------------------------------------- licenses


def check_license(values: dict, therapist: Therapist, license: License | None) -> None:
    """Refuse a license the rules do not allow: dates, a compact privilege's home license, a duplicate.

    The pages, the API and the roster import all come through here.
    """
    check_text(License, values)
    merged = {
        key: values.get(key, getattr(license, key, None))
        for key in ("state", "license_type", "number", "kind", "issued_on", "expires_on",
                    "home_license_id", "verified_on")
    }
    merged["kind"] = merged["kind"] or "state_license"
    if merged["issued_on"] and merged["expires_on"] and merged["expires_on"] <= merged["issued_on"]:
        raise ValidationError.on("expires_on", "must be after issued_on")
    if merged["verified_on"] and merged["verified_on"] > today():
        raise ValidationError.on("verified_on", "cannot be in the future")
    if merged["kind"] == "compact_privilege":
        home_id = merged["home_license_id"]
        if not home_id:
            raise ValidationError.on(
                "home_license_id", "a compact privilege needs the home-state license it rests on"
            )
        home = db.session.get(License, home_id)
        if home is None or home.therapist_id != therapist.id:
            raise ValidationError.on("home_license_id", "must be one of this therapist's licenses")
        if home.kind != "state_license":
            raise ValidationError.on("home_license_id", "must be a full state license")
        # Compacts grant privileges from the license held in the state of primary residence,
        # for the same profession, and only while that license is in force.
        if home.state != therapist.home_state:
            raise ValidationError.on("home_license_id", f"must be the license of the home state, "
                                     f"{therapist.home_state}")
        if merged["license_type"] not in disciplines_for(home.license_type):
            raise ValidationError.on("license_type", f"must be the profession of the home license, "
                                     f"{home.license_type}")
        if home.effective_expires_on < today():
            raise ValidationError.on("home_license_id", f"the home license expired on "
                                     f"{human_day(home.effective_expires_on)}; renew it first")
        if home.state == merged["state"]:
            raise ValidationError.on("state", "a compact privilege is for a state other than home")
    elif merged["home_license_id"]:
        raise ValidationError.on(
            "home_license_id", "only a compact privilege rests on a home-state license"
        )
    refuse_duplicate_license(merged, license)


def refuse_duplicate_license(values: dict, license: License | None = None) -> None:
    """One state, license type and number is one license, whatever the number's case.

    Boards print numbers in either case; "aud-1" is the same license as "AUD-1".
    """
    lock_value("license", f'{values["state"]} {values["license_type"]} {values["number"] or ""}')
    query = sa.select(License.id).where(
        License.state == values["state"],
        License.license_type == values["license_type"],
        sa.func.upper(License.number) == sa.func.upper(values["number"] or ""),
    )
    if license is not None:
        query = query.where(License.id != license.id)
    if holder := db.session.scalar(query):
        raise duplicate("uq_licenses_state_license_type_number", values, holder)


def add_license(therapist: Therapist, values: dict, actor=None) -> License:
    """Record a state license, compact privilege or temporary license."""
    values = {"kind": "state_license", **values}
    if values["kind"] != "compact_privilege":
        values.setdefault("home_license_id", None)
    check_license(values, therapist, None)
    license = License(therapist=therapist, **values)
    db.session.add(license)
    audit.record(
        "create", license,
        f"{license.state} {license.license_type} {license.number} for {therapist.full_name}",
        actor=actor,
    )
    commit_or_conflict()
    holds.reassess([therapist.id], actor)
    return license


def update_license(license: License, values: dict, actor=None) -> License:
    """Change a license, e.g. a renewal's new expiry date."""
    check_license(values, license.therapist, license)
    reshaped = {key for key in ("state", "license_type", "kind") if key in values
                and values[key] != getattr(license, key)}
    if reshaped and db.session.scalar(sa.select(License.id).where(License.home_license_id == license.id).limit(1)):
        raise Conflict(f"compact privileges rest on this license; its {', '.join(sorted(reshaped))} "
                       "cannot change while they do")
    _apply(license, values, f"{license.state} {license.license_type} {license.number}", actor)
    commit_or_conflict()
    holds.reassess([license.therapist_id], actor)
    return license


def _check_verification(verified_on: date, source: str) -> None:
    if verified_on > today():
        raise ValidationError.on("verified_on", "cannot be in the future")
    if not source or not source.strip():
        raise ValidationError.on("verification_source", "say where the license was verified")
    check_text(License, {"verification_source": source})


def _record_verification(license: License, verified_on: date, source: str, actor) -> None:
    license.verified_on = verified_on
    license.verified_by_id = getattr(actor, "id", None)
    license.verification_source = source.strip()
    audit.record(
        "verify", license,
        f"{license.state} {license.license_type} {license.number} verified at {source}",
        actor=actor,
    )


def verify_license(license: License, verified_on: date, source: str, actor) -> License:
    """Record a primary-source verification: when, by whom and against what source."""
    _check_verification(verified_on, source)
    _record_verification(license, verified_on, source, actor)
    db.session.commit()
    holds.reassess([license.therapist_id], actor)
    return license


def check_renewal(license: License, values: dict, verified_on: date, source: str) -> None:
    """Refuse a renewal the rules do not allow, writing nothing (so a file sent with it can wait on this)."""
    if values["expires_on"] <= license.expires_on:
        raise ValidationError.on("expires_on", f"a renewal runs past the current expiry, "
                                 f"{license.expires_on.isoformat()}")
    check_license(values, license.therapist, license)
    _check_verification(verified_on, source)


def renew_license(license: License, values: dict, verified_on: date, source: str, actor=None) -> License:
    """A renewal in one step: the license's new number and dates, verified at the primary source."""
    check_renewal(license, values, verified_on, source)
    _apply(license, values, f"{license.state} {license.license_type} {license.number} renewed", actor)
    _record_verification(license, verified_on, source, actor)
    commit_or_conflict()
    holds.reassess([license.therapist_id], actor)
    return license


def delete_license(license: License, actor=None) -> None:
    """Remove a license entered in error; a home license with privileges on it stays."""
    dependants = db.session.scalar(
        sa.select(sa.func.count()).where(License.home_license_id == license.id)
    )
    if dependants:
        raise Conflict("compact privileges rest on this license; remove them first")
    audit.record("delete", license, f"{license.state} {license.license_type} {license.number}",
                 actor=actor)
    therapist_id = license.therapist_id
    db.session.delete(license)
    db.session.commit()
    holds.reassess([therapist_id], actor)


# ----------------------------------------------------------------------------- CE records


def _check_ce(values: dict) -> None:
    check_text(CERecord, values)
    completed = values.get("completed_on")
    if completed and completed > today():
        raise ValidationError.on("completed_on", "cannot be in the future")
    hours = values.get("hours")
    if hours is not None and not Decimal("0") < hours <= Decimal("100"):
        raise ValidationError.on("hours", "must be more than 0 and at most 100")
    doc_id = values.get("certificate_document_id")
    if doc_id is not None:
        from agency.credentials.models import Document

        doc = db.session.get(Document, doc_id)
        therapist_id = values.get("therapist_id")
        if doc is None or (therapist_id and doc.owner_id != therapist_id):
            raise ValidationError.on("certificate_document_id", "must be this therapist's document")


def add_ce_record(therapist: Therapist, values: dict, actor=None) -> CERecord:
    """Record a completed CE course."""
    _check_ce({**values, "therapist_id": therapist.id})
    record = CERecord(therapist=therapist, **values)
    db.session.add(record)
    audit.record("create", record, f"{record.hours} CE hours ({record.topic}) for "
                 f"{therapist.full_name}", actor=actor)
    db.session.commit()
    return record


def delete_ce_record(record: CERecord, actor=None) -> None:
    audit.record("delete", record, f"CE record {record.title}", actor=actor)
    db.session.delete(record)
    db.session.commit()


# ----------------------------------------------------------------------------- panels

# Which dates a panel status needs before it can be recorded.
PANEL_STATUS_NEEDS = {
    "submitted": ("submitted_on",),
    "in_review": ("submitted_on",),
    "approved": ("submitted_on", "effective_on"),
}


def _explicit_due(values: dict) -> dict:
    """A re-credentialing date handed in (recredential_due_on) is the payer's own: it overrides the rule."""
    values = dict(values)
    if "recredential_due_on" in values:
        values["recredential_due_override"] = values.pop("recredential_due_on")
    return values


def _check_panel(values: dict, therapist: Therapist, panel: PanelEnrollment | None) -> None:
    merged = {
        key: values.get(key, getattr(panel, key, None))
        for key in ("payer", "status", "submitted_on", "effective_on")
    }
    check_text(PanelEnrollment, values)
    status = merged["status"] or "not_started"
    for needed in PANEL_STATUS_NEEDS.get(status, ()):
        if merged[needed] is None:
            raise ValidationError.on(needed, f"is required when the status is {status}")
    if merged["submitted_on"] and merged["submitted_on"] > today():
        raise ValidationError.on("submitted_on", "cannot be in the future")
    if merged["effective_on"] and merged["submitted_on"] and merged["effective_on"] < merged["submitted_on"]:
        raise ValidationError.on("effective_on", "must not be before submitted_on")
    query = sa.select(PanelEnrollment.id).where(
        PanelEnrollment.therapist_id == therapist.id, PanelEnrollment.payer == merged["payer"]
    )
    if panel is not None:
        query = query.where(PanelEnrollment.id != panel.id)
    if holder := db.session.scalar(query):
        raise duplicate("uq_panel_enrollments_therapist_id_payer", merged, holder)


def add_panel(therapist: Therapist, values: dict, actor=None) -> PanelEnrollment:
    """Start tracking a payer panel enrollment."""
    values = _explicit_due(values)
    _check_panel(values, therapist, None)
    panel = PanelEnrollment(therapist=therapist, **values)
    db.session.add(panel)
    audit.record("create", panel, f"{panel.payer} panel for {therapist.full_name}", actor=actor)
    commit_or_conflict()
    holds.reassess([therapist.id], actor)
    return panel


def update_panel(panel: PanelEnrollment, values: dict, actor=None) -> PanelEnrollment:
    """Move an enrollment along its pipeline or change its dates."""
    values = _explicit_due(values)
    _check_panel(values, panel.therapist, panel)
    _apply(panel, values, f"{panel.payer} panel for {panel.therapist.full_name}", actor)
    commit_or_conflict()
    holds.reassess([panel.therapist_id], actor)
    return panel


# ----------------------------------------------------------------------------- CE rules


def save_ce_rule(rule: CERule | None, values: dict, topics: dict[str, Decimal], actor=None, *,
                 shipped: bool = False) -> CERule:
    """Create or edit a state's CE rule for a license type, with its mandatory topic hours, its source
    and the day it was checked there; the audit keeps the old and new values."""
    if sum(topics.values(), Decimal(0)) > values.get("hours_required", rule and rule.hours_required):
        raise ValidationError.on("topics", "mandatory topic hours exceed the hours required")
    check_source({key: values.get(key, getattr(rule, key, None)) for key in ("source", "checked_on")}, CERule,
                 shipped=shipped)
    check_text(CERule, values)
    key = {"state": values.get("state", rule and rule.state),
           "license_type": values.get("license_type", rule and rule.license_type)}
    query = sa.select(CERule.id).where(CERule.state == key["state"], CERule.license_type == key["license_type"])
    if rule is not None:
        query = query.where(CERule.id != rule.id)
    if holder := db.session.scalar(query):
        raise duplicate("uq_ce_rules_state_license_type", key, holder)
    old_topics = {req.topic: str(req.hours) for req in rule.topics} if rule is not None else {}
    if rule is None:
        rule = CERule(**values)
        db.session.add(rule)
        action, changes = "create", {k: [None, v] for k, v in values.items() if v is not None}
    else:
        changes = audit.diff(rule, values)
        for key, value in values.items():
            setattr(rule, key, value)
        action = "update"
    # Edit topic rows in place: replacing them would insert before deleting and trip
    # the (rule, topic) unique constraint.
    existing = {req.topic: req for req in rule.topics}
    for topic, req in existing.items():
        if topic not in topics:
            rule.topics.remove(req)
    for topic, hours in topics.items():
        if topic in existing:
            existing[topic].hours = hours
        else:
            rule.topics.append(CETopicRequirement(topic=topic, hours=hours))
    new_topics = {t: str(h) for t, h in topics.items()}
    if new_topics != old_topics:
        changes["topics"] = [old_topics, new_topics]
    if changes or action == "create":
        audit.record(action, rule, f"CE rule {rule.state} {rule.license_type}: {rule.hours_required} h "
                     f"per {rule.cycle_months} months", actor=actor, changes=changes)
    commit_or_conflict()
    return rule


def ce_rule_for(state: str, license_type: str) -> CERule | None:
    return db.session.scalar(
        sa.select(CERule).where(CERule.state == state, CERule.license_type == license_type)
    )


REFERENCE_CE_RULES = Path(__file__).with_name("reference") / "ce_rules.toml"


def load_ce_reference(path: Path | None = None, actor=None) -> tuple[int, int]:
    """Load the shipped CE rules; a state and license type already in the database is left as edited.

    Returns (created, skipped).
    """
    with (path or REFERENCE_CE_RULES).open("rb") as fh:
        try:
            rules = tomllib.load(fh).get("rules", [])
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"the file is not TOML: {exc}") from None
    existing = {(state, kind) for state, kind in db.session.execute(sa.select(CERule.state, CERule.license_type))}
    created = skipped = 0
    for number, rule in enumerate(rules, 1):
        try:
            values = {
                "state": rule["state"], "license_type": rule["license_type"],
                "hours_required": Decimal(str(rule["hours"])), "cycle_months": int(rule["cycle_months"]),
                "notes": rule.get("notes"), "source": rule.get("source"), "checked_on": checked_day(rule),
            }
            topics = {topic: Decimal(str(hours)) for topic, hours in rule.get("topics", {}).items()}
        except KeyError as exc:
            raise ValidationError(f"rule {number} of the file has no {exc.args[0]}") from None
        except (ValueError, ArithmeticError, TypeError, AttributeError):
            raise ValidationError(f"rule {number} of the file has a value that is not a number or a date") from None
        if (values["state"], values["license_type"]) in existing:
            skipped += 1
            continue
        save_ce_rule(None, values, topics, actor, shipped=True)
        created += 1
    return created, skipped
