"""Rules as data: CAQH re-attestation per state, re-credentialing per payer, and their reference files.

The rules are rows staff edit; every date derived from them (Therapist.caqh_attestation_due_on,
PanelEnrollment.recredential_due_on) is computed from the row in force whenever it is read, so a
change moves every due date, worklist item and watch row at once. Each change is audited with its
old and new values. CE rules live beside them (services.save_ce_rule), with the same source and
checked date.
"""

import tomllib
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from agency.billing import holds
from agency.core import audit
from agency.core.dates import today
from agency.core.errors import Conflict, ValidationError
from agency.core.integrity import commit_or_conflict
from agency.core.persistence import lock_value
from agency.core.states import STATES
from agency.core.text import check_text
from agency.credentials.models import CAQHRule, CERule, PanelEnrollment, PayerRule
from agency.extensions import db

REFERENCE = Path(__file__).with_name("reference")
MAX_REMINDERS = 10


# ----------------------------------------------------------------------------- reading


def caqh_rules() -> list[CAQHRule]:
    """Every CAQH rule, the default (no state) first, then by state."""
    return list(db.session.scalars(sa.select(CAQHRule).order_by(CAQHRule.state.is_not(None), CAQHRule.state)))


def payer_rules() -> list[PayerRule]:
    """Every payer rule, the default (no payer) first, then by payer name."""
    return list(db.session.scalars(
        sa.select(PayerRule).order_by(PayerRule.payer.is_not(None), sa.func.lower(PayerRule.payer))))


class CAQHReminders:
    """The reminder days of the CAQH rule in force for each state, read in one query (the daily scan)."""

    def __init__(self):
        rules = {rule.state: rule.reminder_days for rule in db.session.scalars(sa.select(CAQHRule))}
        self.default = rules.pop(None, None) or [int(d) for d in current_app.config["CAQH_REMINDER_DAYS"]]
        self.by_state = rules

    def days_for(self, state: str | None) -> list[int]:
        return sorted(int(d) for d in self.by_state.get(state, self.default))

    @property
    def widest(self) -> int:
        return max((max(days, default=0) for days in [self.default, *self.by_state.values()]), default=0)


# ----------------------------------------------------------------------------- checks


def check_source(values: dict, model, *, shipped: bool = False) -> None:
    """A rule says where it comes from and when someone checked it there: never later than today.

    A shipped reference file's date is its maintainers' word, not an entry to hold against this
    machine's (possibly pinned) clock.
    """
    source = values.get("source")
    if not source or not str(source).strip():
        raise ValidationError.on("source", "say where the rule comes from (a regulation, a board, a payer notice)")
    checked = values.get("checked_on")
    if checked is None:
        raise ValidationError.on("checked_on", "is required: the day the rule was checked at its source")
    if checked > today() and not shipped:
        raise ValidationError.on("checked_on", "cannot be in the future")
    check_text(model, values)


def _merged(rule, values: dict, keys) -> dict:
    return {key: values[key] if key in values else getattr(rule, key, None) for key in keys}


def check_caqh_rule(values: dict, rule: CAQHRule | None, *, shipped: bool = False) -> dict:
    """The rule's values as kept (reminders largest first), or the first rule they break."""
    merged = _merged(rule, values, ("state", "interval_days", "reminder_days", "source", "checked_on", "notes"))
    state = merged["state"]
    if state is not None and state not in STATES:
        raise ValidationError.on("state", "must be a two-letter USPS state or territory code")
    days = merged["interval_days"]
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        raise ValidationError.on("interval_days", "must be a whole number of days from 1 to 3650")
    reminders = merged["reminder_days"]
    if not isinstance(reminders, list) or not reminders:
        raise ValidationError.on("reminder_days", "needs at least one day before the due date")
    if len(reminders) > MAX_REMINDERS:
        raise ValidationError.on("reminder_days", f"takes at most {MAX_REMINDERS} days")
    if any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in reminders):
        raise ValidationError.on("reminder_days", "must be whole numbers of days, each at least 1")
    if len(set(reminders)) != len(reminders):
        raise ValidationError.on("reminder_days", "lists a day twice; keep each once")
    if max(reminders) >= days:
        raise ValidationError.on("reminder_days", f"must each be fewer than the {days} days of the interval")
    merged["reminder_days"] = sorted(reminders, reverse=True)
    check_source(merged, CAQHRule, shipped=shipped)
    # One rule per state, and one default: the unique constraint cannot see two defaults (NULL is no value).
    lock_value("caqh rule", state or "")
    query = sa.select(CAQHRule.id).where(CAQHRule.state.is_(None) if state is None else CAQHRule.state == state)
    if rule is not None:
        query = query.where(CAQHRule.id != rule.id)
    if holder := db.session.scalar(query):
        where = f"for {state}" if state else "for every other state (the default)"
        raise Conflict(f"state: a CAQH rule {where} exists (id {holder})",
                       {"state": [f"a CAQH rule {where} exists (id {holder})"]})
    return merged


def check_payer_rule(values: dict, rule: PayerRule | None, *, shipped: bool = False) -> dict:
    """The rule's values as kept (the payer's name trimmed), or the first rule they break."""
    merged = _merged(rule, values, ("payer", "months", "source", "checked_on", "notes"))
    payer = merged["payer"]
    if payer is not None:
        payer = " ".join(str(payer).split()) or None
        merged["payer"] = payer
    months = merged["months"]
    if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 120:
        raise ValidationError.on("months", "must be a whole number of months from 1 to 120")
    check_source(merged, PayerRule, shipped=shipped)
    # A payer is the same payer in any letter case, as enrollments are matched to it.
    lock_value("payer rule", payer or "")
    query = sa.select(PayerRule.id).where(
        PayerRule.payer.is_(None) if payer is None else sa.func.lower(PayerRule.payer) == payer.lower())
    if rule is not None:
        query = query.where(PayerRule.id != rule.id)
    if holder := db.session.scalar(query):
        where = f"for {payer}" if payer else "for every other payer (the default)"
        raise Conflict(f"payer: a re-credentialing rule {where} exists (id {holder})",
                       {"payer": [f"a re-credentialing rule {where} exists (id {holder})"]})
    return merged


# ----------------------------------------------------------------------------- writing


def caqh_label(rule: CAQHRule) -> str:
    return f"CAQH rule {rule.state or 'default'}"


def payer_label(rule: PayerRule) -> str:
    return f"re-credentialing rule {rule.payer or 'default'}"


def _save(model, rule, values: dict, label, summary: str, actor):
    """Create or change a rule in one transaction with its audit event: old and new values side by side."""
    if rule is None:
        rule = model(**values)
        db.session.add(rule)
        audit.record("create", rule, f"{label(rule)}: {summary}", actor=actor,
                     changes={key: [None, value] for key, value in values.items() if value is not None})
    else:
        changes = audit.diff(rule, values)
        for key, value in values.items():
            setattr(rule, key, value)
        if changes:
            audit.record("update", rule, f"{label(rule)}: {summary}", actor=actor, changes=changes)
    commit_or_conflict()
    return rule


def save_caqh_rule(rule: CAQHRule | None, values: dict, actor=None, *, shipped: bool = False) -> CAQHRule:
    """Create or edit a state's CAQH rule (or the default): every CAQH due date of the state follows it."""
    values = check_caqh_rule(values, rule, shipped=shipped)
    summary = (f"every {values['interval_days']} days, reminders "
               f"{', '.join(map(str, values['reminder_days']))} days before")
    return _save(CAQHRule, rule, values, caqh_label, summary, actor)


def save_payer_rule(rule: PayerRule | None, values: dict, actor=None, *, shipped: bool = False) -> PayerRule:
    """Create or edit a payer's re-credentialing rule (or the default): its enrollments' due dates follow it,
    and the hours of the therapists enrolled with it are judged again (a lapsed panel holds them)."""
    values = check_payer_rule(values, rule, shipped=shipped)
    payers = {values["payer"], *([rule.payer] if rule is not None else [])}
    saved = _save(PayerRule, rule, values, payer_label, f"{values['months']} months after approval", actor)
    _reassess_enrolled(payers, actor)
    return saved


def _reassess_enrolled(payers: set, actor) -> None:
    """Judge again the hours of the therapists enrolled with these payers (any letter case); None, the
    default rule, is every payer's: every therapist with an enrollment. One query, one reassessment."""
    query = sa.select(PanelEnrollment.therapist_id).distinct()
    if None not in payers:
        query = query.where(sa.func.lower(PanelEnrollment.payer).in_(sorted(p.lower() for p in payers)))
    holds.reassess(db.session.scalars(query).all(), actor)


def _delete(rule, label: str, keys, actor) -> None:
    audit.record("delete", rule, label, actor=actor,
                 changes={key: [getattr(rule, key), None] for key in keys if getattr(rule, key) is not None})
    db.session.delete(rule)
    db.session.commit()


def delete_caqh_rule(rule: CAQHRule, actor=None) -> None:
    """Remove a state's rule: its therapists follow the default again."""
    _delete(rule, caqh_label(rule), ("state", "interval_days", "reminder_days", "source", "checked_on"), actor)


def delete_payer_rule(rule: PayerRule, actor=None) -> None:
    """Remove a payer's rule: its enrollments follow the default again, their therapists' hours judged again."""
    payer = rule.payer
    _delete(rule, payer_label(rule), ("payer", "months", "source", "checked_on"), actor)
    _reassess_enrolled({payer}, actor)


def delete_ce_rule(rule: CERule, actor=None) -> None:
    """Remove a CE rule: licenses of that state and type are no longer checked for CE."""
    _delete(rule, f"CE rule {rule.state} {rule.license_type}",
            ("state", "license_type", "hours_required", "cycle_months", "source", "checked_on"), actor)


# ----------------------------------------------------------------------------- reference files


def _reference(name: str, path: Path | None) -> list[dict]:
    with (path or REFERENCE / name).open("rb") as fh:
        return tomllib.load(fh)["rules"]


def checked_day(entry: dict) -> date | None:
    """The day a reference file says its rule was checked (TOML date or ISO text); missing is for the rule's
    own check to refuse, a value that is no date is refused here, so a hand-made file gets a sentence."""
    value = entry.get("checked_on")
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError.on("checked_on", f"{value!r} is not a date (YYYY-MM-DD)") from None


def load_caqh_reference(path: Path | None = None, actor=None) -> tuple[int, int]:
    """Load the shipped CAQH rules; a state (or the default) already stored is left as edited.

    Returns (created, skipped).
    """
    existing = set(db.session.scalars(sa.select(CAQHRule.state)))
    created = skipped = 0
    for entry in _reference("caqh_rules.toml", path):
        state = entry.get("state") or None
        if state in existing:
            skipped += 1
            continue
        save_caqh_rule(None, {"state": state, "interval_days": int(entry["interval_days"]),
                              "reminder_days": [int(d) for d in entry["reminder_days"]],
                              "source": entry.get("source"), "checked_on": checked_day(entry),
                              "notes": entry.get("notes")}, actor, shipped=True)
        created += 1
    return created, skipped


def load_payer_reference(path: Path | None = None, actor=None) -> tuple[int, int]:
    """Load the shipped payer rules; a payer (or the default) already stored, in any case, is left as edited."""
    existing = {(payer or "").lower() for payer in db.session.scalars(sa.select(PayerRule.payer))}
    created = skipped = 0
    for entry in _reference("payer_rules.toml", path):
        payer = entry.get("payer") or None
        if (payer or "").lower() in existing:
            skipped += 1
            continue
        save_payer_rule(None, {"payer": payer, "months": int(entry["months"]), "source": entry.get("source"),
                               "checked_on": checked_day(entry), "notes": entry.get("notes")}, actor, shipped=True)
        created += 1
    return created, skipped


def load_reference(actor=None) -> dict[str, tuple[int, int]]:
    """Load every shipped rule file (CAQH, payers, CE), keeping rules already stored."""
    from agency.credentials.services import load_ce_reference

    return {"caqh": load_caqh_reference(actor=actor), "payers": load_payer_reference(actor=actor),
            "ce": load_ce_reference(actor=actor)}

