"""Business rules for facilities, their contacts and rate cards."""

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from agency.billing import holds
from agency.core import audit
from agency.core.dates import human_day, utcnow
from agency.core.errors import Conflict, Forbidden, NotFound, ValidationError
from agency.core.integrity import commit_or_conflict, duplicate
from agency.core.money import to_cents
from agency.core.outbox import queue_email
from agency.core.permissions import can
from agency.core.persistence import lock, lock_value
from agency.core.text import check_text, normalise_email
from agency.credentials.models import DISCIPLINES, DOC_TYPES
from agency.extensions import db
from agency.facilities.models import (
    APPROVAL_WINDOW_DAYS,
    APPROVERS,
    OVERTIME_RULES,
    RATE_ITEMS,
    Facility,
    FacilityContact,
    Rate,
    RateCard,
)
from agency.placements.models import Placement

# A rate card ending this soon needs a renewal inquiry from the recruiter.
RENEWAL_WINDOW_DAYS = 60

# Time and a half is the FLSA rule and double time the most any contract asks; past this it is a typo.
MAX_OVERTIME_MULTIPLIER = 3
HOURS_IN_A_WEEK = 168
HOURS_IN_A_DAY = 24
# The overtime rules each of a card's overtime fields belongs to.
RULE_FIELDS = {"overtime_threshold_hours": ("weekly", "daily"), "daily_threshold_hours": ("daily",),
               "period_anchor": ("eight_and_eighty",)}


def get_facility(facility_id: int) -> Facility:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(f"no facility with id {facility_id}")
    return facility


def _check_facility(values: dict, facility: Facility | None) -> dict:
    values = dict(values)
    if values.get("billing_email") is not None:
        values["billing_email"] = normalise_email(values["billing_email"], "billing_email")
    check_text(Facility, values)
    low, high = APPROVAL_WINDOW_DAYS
    window = values.get("approval_window_days")
    if window is not None and not low <= window <= high:
        raise ValidationError.on("approval_window_days", f"must be from {low} to {high} business days")
    for doc_type in values.get("required_documents") or []:
        if doc_type not in DOC_TYPES:
            raise ValidationError.on("required_documents", f"{doc_type!r} is not a document type")
    payers = values.get("payers")
    if payers is not None and len({p.lower() for p in payers}) != len(payers):
        raise ValidationError.on("payers", "lists a payer twice")
    bills = values.get("bills_insurance", facility.bills_insurance if facility else False)
    payers = payers if payers is not None else (facility.payers if facility else [])
    if bills and not payers:
        raise ValidationError.on("payers", "a facility that bills insurance needs its payers")
    name = values.get("name")
    if name:
        lock_value("facility name", name)
        query = sa.select(Facility.id).where(sa.func.lower(Facility.name) == sa.func.lower(name))
        if facility is not None:
            query = query.where(Facility.id != facility.id)
        if holder := db.session.scalar(query):
            raise duplicate("uq_facilities_name", {"name": name}, holder)
    return values


def _check_dunning_pause(values: dict, facility: Facility | None, actor) -> None:
    """Whether a facility is chased for payment is billing's call (dunning.manage), at creation as after;
    a pause says why (shown on the ladder), and resuming clears the reason. Changes values in place."""
    current = facility.dunning_paused if facility is not None else False
    current_reason = facility.dunning_pause_reason if facility is not None else None
    paused = values.get("dunning_paused", current)
    reason = (values.get("dunning_pause_reason", current_reason) or "").strip() or None
    if (paused != current or reason != current_reason) and not can(actor, "dunning.manage"):
        raise Forbidden("only billing staff may pause or resume a facility's payment reminders",
                        {"dunning_paused": ["only billing staff may pause payment reminders"]})
    if paused and reason is None:
        raise ValidationError.on("dunning_pause_reason", "say why payment reminders are paused")
    if "dunning_paused" in values or "dunning_pause_reason" in values:
        values["dunning_pause_reason"] = reason if paused else None


def _check_invoicing(values: dict, facility: Facility | None, actor) -> None:
    """Whether and how a facility is invoiced is billing's call, as where its invoices go is."""
    for key, default in (("invoicing", "automatic"), ("safety_factor", None)):
        current = getattr(facility, key) if facility is not None else default
        if key in values and values[key] != current and not can(actor, "facilities.invoicing.edit"):
            raise Forbidden("only billing staff may change how a facility is invoiced",
                            {key: ["only billing staff may change how the facility is invoiced"]})
    factor = values.get("safety_factor")
    if factor is not None and not 1 < factor <= 100:
        raise ValidationError.on("safety_factor", "must be more than 1 and at most 100")


def create_facility(values: dict, actor=None) -> Facility:
    """Add a facility the agency staffs."""
    values = {k: v for k, v in values.items() if v is not None or k not in ("payers", "required_documents")}
    values = _check_facility(values, None)
    _check_dunning_pause(values, None, actor)
    _check_invoicing(values, None, actor)
    facility = Facility(**values)
    db.session.add(facility)
    audit.record("create", facility, f"facility {facility.name}", actor=actor)
    commit_or_conflict()
    return facility


def update_facility(facility: Facility, values: dict, actor=None) -> Facility:
    """Change a facility's details; only the given fields change.

    The billing email is where invoices and payment reminders go, so only those holding
    facilities.billing_email.edit change it, and the address it leaves is told. Whether it bills
    insurance, and its payers, decide which hours are held: its therapists' hours are judged again.
    """
    values = _check_facility(values, facility)
    previous = facility.billing_email
    moved = "billing_email" in values and values["billing_email"] != previous
    if moved and not can(actor, "facilities.billing_email.edit"):
        raise Forbidden("only billing staff may change the billing email, where invoices and reminders go",
                        {"billing_email": ["only billing staff may change where invoices go"]})
    _check_dunning_pause(values, facility, actor)
    _check_invoicing(values, facility, actor)
    changes = audit.diff(facility, values)
    for key, value in values.items():
        setattr(facility, key, value)
    if changes:
        summary = f"facility {facility.name}"
        if moved:
            summary += f": billing email {previous or '(none)'} → {facility.billing_email or '(none)'}"
        if "dunning_paused" in changes:
            summary += ": payment reminders " + (f"paused ({facility.dunning_pause_reason})"
                                                 if facility.dunning_paused else "resumed")
        audit.record("update", facility, summary, actor=actor, changes=changes)
    if moved and previous:
        _tell_previous_billing_address(facility, previous)
    commit_or_conflict()
    if changes.keys() & {"bills_insurance", "payers"}:
        holds.reassess(db.session.scalars(sa.select(Placement.therapist_id).distinct().where(
            Placement.facility_id == facility.id, Placement.status.in_(Placement.STARTED))).all(), actor)
    return facility


def _tell_previous_billing_address(facility: Facility, previous: str) -> None:
    """Warn the address invoices used to go to: a change nobody there asked for is how invoice fraud starts."""
    config = current_app.config
    now = utcnow()
    queue_email(
        previous, f"The billing email for {facility.name} was changed",
        f"Dear {facility.name} accounts payable,\n\n"
        f"On {human_day(now.date())} the address {config['AGENCY_NAME']} sends your invoices and payment "
        f"reminders to was changed from {previous} to {facility.billing_email or '(none)'}.\n\n"
        f"If you did not ask for this change, please contact us right away at {config['BILLING_EMAIL']}.",
        dedupe_key=f"billing-email-changed:{facility.id}:{now.isoformat()}",
    )


def _check_approver(facility: Facility, contact: FacilityContact | None, approver: str | None) -> None:
    """One primary and one alternate per facility: the facility locked, so two markings wait for each other
    (the partial unique index is the last guard)."""
    if approver is None:
        return
    lock(Facility, facility.id)
    query = sa.select(FacilityContact.id).where(FacilityContact.facility_id == facility.id,
                                                FacilityContact.approver == approver)
    if contact is not None:
        query = query.where(FacilityContact.id != contact.id)
    holder = db.session.scalar(query)
    if holder is not None:
        raise duplicate("uq_facility_contacts_approver", {"approver": approver}, holder)


def _check_contact(values: dict) -> dict:
    values = dict(values)
    if "email" in values:
        values["email"] = normalise_email(values.get("email"))
    if values.get("approver") not in (None, *APPROVERS):
        raise ValidationError.on("approver", f"must be one of {', '.join(APPROVERS)}, or empty")
    check_text(FacilityContact, values)
    return values


def add_contact(facility: Facility, values: dict, actor=None) -> FacilityContact:
    """Add a person at the facility, by role (clinical director, HR, compliance, billing), and maybe as the
    primary or alternate approver of its hours; a second of either is a conflict (the partial unique indexes)."""
    values = _check_contact({**values, "email": values.get("email")})
    _check_approver(facility, None, values.get("approver"))
    contact = FacilityContact(facility=facility, **values)
    db.session.add(contact)
    audit.record("create", contact, f"{contact.role} contact {contact.name} at {facility.name}"
                 + (f", {contact.approver} approver" if contact.approver else ""), actor=actor)
    commit_or_conflict()
    return contact


def update_contact(contact: FacilityContact, values: dict, actor=None) -> FacilityContact:
    """Change a contact's details or approver marking; only the given fields change."""
    values = _check_contact(values)
    if values.get("approver") != contact.approver:
        _check_approver(contact.facility, contact, values.get("approver"))
    changes = audit.diff(contact, values)
    for key, value in values.items():
        setattr(contact, key, value)
    if changes:
        audit.record("update", contact, f"{contact.role} contact {contact.name} at {contact.facility.name}",
                     actor=actor, changes=changes)
    commit_or_conflict()
    return contact


def remove_contact(contact: FacilityContact, actor=None) -> None:
    audit.record("delete", contact, f"{contact.role} contact {contact.name}", actor=actor)
    db.session.delete(contact)
    db.session.commit()


# ----------------------------------------------------------------------------- rate cards


def _lock_facility(facility: Facility) -> None:
    """Serialise rate-card writes per facility so two overlapping cards cannot both pass the check."""
    lock(Facility, facility.id)


def _overlapping(facility_id: int, start: date, end: date | None, exclude_id: int | None):
    query = sa.select(RateCard).where(
        RateCard.facility_id == facility_id,
        sa.or_(RateCard.effective_to.is_(None), RateCard.effective_to >= start),
    )
    if end is not None:
        query = query.where(RateCard.effective_from <= end)
    if exclude_id is not None:
        query = query.where(RateCard.id != exclude_id)
    return db.session.scalars(query).first()


def _check_rates(rates: list[dict]) -> None:
    seen = set()
    for i, rate in enumerate(rates, start=1):
        key = (rate["item"], rate["discipline"])
        if key in seen:
            raise ValidationError.on("rates", f"rate {i}: {key[0]} for {key[1]} is listed twice")
        seen.add(key)
        if rate["item"] not in RATE_ITEMS:
            raise ValidationError.on("rates", f"rate {i}: item must be one of {', '.join(RATE_ITEMS)}")
        if rate["discipline"] not in DISCIPLINES:
            raise ValidationError.on("rates", f"rate {i}: discipline must be one of {', '.join(DISCIPLINES)}")
        if rate["amount"] < 0 or rate["amount"] != rate["amount"].quantize(Decimal("0.01")):
            raise ValidationError.on("rates", f"rate {i}: amount must be zero or more, in whole cents")
    if not rates:
        raise ValidationError.on("rates", "a rate card needs at least one rate")


def _overtime_rule(card: RateCard | None, values: dict, start: date) -> dict:
    """The values with the overtime rule's own fields checked against the rule (the card's where the
    change leaves them): a daily threshold for daily only, an anchor for 8-and-80 only (its effective_from
    when not given), and no weekly threshold beside 8-and-80's fixed 80 hours."""
    rule = values.get("overtime_rule") or (card.overtime_rule if card else "weekly")
    if rule not in OVERTIME_RULES:
        raise ValidationError.on("overtime_rule", f"must be one of {', '.join(OVERTIME_RULES)}")
    # A change of rule the request does not fill in for drops what only the old rule used.
    dropped = {key for key, rules in RULE_FIELDS.items()
               if card and rule != card.overtime_rule and rule not in rules and key not in values}

    def now(key):
        return values[key] if key in values else None if key in dropped or card is None else getattr(card, key)

    daily = now("daily_threshold_hours")
    if rule == "daily" and daily is None:
        raise ValidationError.on("daily_threshold_hours", "is required when overtime_rule is daily")
    if rule == "daily" and not 0 < daily <= HOURS_IN_A_DAY:
        raise ValidationError.on("daily_threshold_hours", f"must be more than 0 and at most {HOURS_IN_A_DAY}")
    if rule != "daily" and daily is not None:
        raise ValidationError.on("daily_threshold_hours", "applies only when overtime_rule is daily; leave it empty")
    if rule != "eight_and_eighty" and now("period_anchor") is not None:
        raise ValidationError.on("period_anchor", "applies only when overtime_rule is eight_and_eighty; "
                                                  "leave it empty")
    if rule == "eight_and_eighty" and now("overtime_threshold_hours") is not None:
        raise ValidationError.on("overtime_threshold_hours", "8-and-80 counts over 80 hours in its 14-day "
                                                             "period; leave the weekly threshold empty")
    values = {**values, **dict.fromkeys(dropped), "overtime_rule": rule}
    if rule == "eight_and_eighty" and now("period_anchor") is None:
        values["period_anchor"] = start
    return values


def save_rate_card(facility: Facility, card: RateCard | None, values: dict, rates: list[dict] | None,
                   actor=None) -> RateCard:
    """Create or change a rate card; a date range overlapping another card of the facility is refused."""
    start = values.get("effective_from", card.effective_from if card else None)
    end = values.get("effective_to", card.effective_to if card else None)
    if start is None:
        raise ValidationError.on("effective_from", "is required")
    if end is not None and end < start:
        raise ValidationError.on("effective_to", "must not be before effective_from")
    multiplier = values.get("overtime_multiplier")
    if multiplier is not None and not 1 <= multiplier <= MAX_OVERTIME_MULTIPLIER:
        raise ValidationError.on("overtime_multiplier", f"must be from 1 to {MAX_OVERTIME_MULTIPLIER}")
    threshold = values.get("overtime_threshold_hours")
    if threshold is not None and not 0 < threshold <= HOURS_IN_A_WEEK:
        raise ValidationError.on("overtime_threshold_hours", f"must be more than 0 and at most {HOURS_IN_A_WEEK}")
    values = _overtime_rule(card, values, start)
    # The columns hold hundredths: a third place would be rounded away (or cut, by SQLite) unseen.
    for key in ("overtime_threshold_hours", "daily_threshold_hours", "overtime_multiplier"):
        if values.get(key) is not None and values[key] != values[key].quantize(Decimal("0.01")):
            raise ValidationError.on(key, "must have at most 2 decimal places")
    if rates is not None:
        _check_rates(rates)
    _lock_facility(facility)
    clash = _overlapping(facility.id, start, end, card.id if card else None)
    if clash is not None:
        until = human_day(clash.effective_to) if clash.effective_to else "open-ended"
        raise Conflict(
            f"overlaps the rate card effective {human_day(clash.effective_from)} to {until}",
            {"effective_from": ["overlaps another rate card of this facility"]},
        )
    if card is None:
        card = RateCard(facility=facility, **values)
        db.session.add(card)
        action, changes, rates_before = "create", {}, None
    else:
        # Old and new terms and prices, so the audit log says what a change of contract changed.
        action, changes = "update", audit.diff(card, values)
        rates_before = {f"{r.item}/{r.discipline}": str(to_cents(r.amount)) for r in card.rates}
        for key, value in values.items():
            setattr(card, key, value)
    if rates is not None:
        rates_after = {f"{r['item']}/{r['discipline']}": str(to_cents(r["amount"])) for r in rates}
        if rates_before is None:
            changes["rates"] = rates_after
        elif rates_after != rates_before:
            changes["rates"] = [rates_before, rates_after]
        existing = {(r.item, r.discipline): r for r in card.rates}
        wanted = {(r["item"], r["discipline"]): r["amount"] for r in rates}
        for key, rate in existing.items():
            if key not in wanted:
                card.rates.remove(rate)
        for key, amount in wanted.items():
            if key in existing:
                existing[key].amount = amount
            else:
                card.rates.append(Rate(item=key[0], discipline=key[1], amount=amount))
    audit.record(
        action, card,
        f"rate card {human_day(start)} to {human_day(end) if end else 'open'} for {facility.name}",
        actor=actor, changes=changes or None,
    )
    commit_or_conflict()
    return card


def rate_card_on(facility_id: int, day: date) -> RateCard | None:
    """The facility's rate card in effect on a day."""
    return db.session.scalar(
        sa.select(RateCard).where(
            RateCard.facility_id == facility_id,
            RateCard.effective_from <= day,
            sa.or_(RateCard.effective_to.is_(None), RateCard.effective_to >= day),
        )
    )


def rate_cards_ending(as_of: date, days: int = RENEWAL_WINDOW_DAYS) -> list[RateCard]:
    """Rate cards ending within the window with no later card to follow them: renewal inquiries."""
    later = sa.orm.aliased(RateCard)
    followed = sa.select(later.id).where(
        later.facility_id == RateCard.facility_id, later.effective_from > RateCard.effective_to
    ).exists()
    return db.session.scalars(
        sa.select(RateCard)
        .join(RateCard.facility)
        .where(
            Facility.active.is_(True),
            RateCard.effective_to.is_not(None),
            RateCard.effective_to >= as_of,
            RateCard.effective_to <= as_of + timedelta(days=days),
            ~followed,
        )
        .options(joinedload(RateCard.facility))
        .order_by(RateCard.effective_to)
    ).all()
