"""Disputes: a facility's objection to an invoice or one of its lines, opened by billing or by the facility's
contact from the portal, owned by someone in billing and due by a day, and resolved once: credited (part of
the balance given back as a credit), corrected (the invoice voided, to be billed again right) or upheld (the
invoice stands and is chased again). While open, collections.disputed() keeps the invoice out of reminders
and of aging's collectible total."""

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from agency.auth.models import User
from agency.billing import collections, promises, receivables
from agency.billing.models import DISPUTE_OUTCOMES, DISPUTE_STATUSES, Dispute, Invoice, InvoiceLine, Payment
from agency.core import audit
from agency.core.dates import human_day, today
from agency.core.errors import Conflict, NotFound, ValidationError
from agency.core.integrity import commit_or_conflict
from agency.core.money import format_money, to_cents
from agency.core.permissions import facility_scope
from agency.core.persistence import lock
from agency.extensions import db

# Who may own a dispute: the people who can resolve one.
OWNER_ROLES = ("billing", "admin")


def open_dispute(invoice: Invoice, reason: str | None, *, line_id: int | None = None, owner_id: int | None = None,
                 due_on: date | None = None, actor=None) -> Dispute:
    """Open the invoice's one dispute. A facility contact opens it on its own invoice only (the caller
    found the invoice through its scope) and names no owner nor due day: billing decides those."""
    invoice = lock(Invoice, invoice.id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError.on("reason", "say what is disputed")
    if len(reason) > 1000:
        raise ValidationError.on("reason", "must be at most 1000 characters")
    contact = facility_scope(actor) is not None
    if contact and (owner_id is not None or due_on is not None):
        raise ValidationError.on("owner_id" if owner_id is not None else "due_on",
                                 "is set by the agency's billing team")
    if invoice.status not in ("issued", "partially_paid"):
        raise Conflict(f"invoice {invoice.label} is {invoice.status.replace('_', ' ')}; only an open invoice "
                       "can be disputed")
    if line_id is not None and db.session.scalar(sa.select(InvoiceLine.id).where(
            InvoiceLine.id == line_id, InvoiceLine.invoice_id == invoice.id)) is None:
        raise ValidationError.on("line_id", f"is not a line of invoice {invoice.number}")
    if owner_id is not None:
        owner = db.session.get(User, owner_id)
        if owner is None or not owner.active or owner.role not in OWNER_ROLES:
            raise ValidationError.on("owner_id", "must be an active billing or admin user")
    elif not contact and getattr(actor, "role", None) in OWNER_ROLES:
        owner_id = actor.id
    opened_on = today()
    due_on = due_on or opened_on + timedelta(days=current_app.config["DISPUTE_DAYS"])
    latest = opened_on + timedelta(days=current_app.config["DISPUTE_MAX_DAYS"])
    if not opened_on <= due_on <= latest:
        raise ValidationError.on("due_on", f"must be between today and {human_day(latest)}")
    if open_for(invoice.id) is not None:
        raise Conflict(f"invoice {invoice.number} already has an open dispute; add to it")
    dispute = Dispute(invoice_id=invoice.id, line_id=line_id, reason=reason, status="open", opened_on=opened_on,
                      opened_by_id=getattr(actor, "id", None), due_on=due_on, owner_id=owner_id)
    db.session.add(dispute)
    db.session.flush()
    audit.record("create", dispute, f"dispute #{dispute.id} opened on {invoice.number}: {reason}", actor=actor)
    # Two at once: the one that waited on the lock saw the first (PostgreSQL); the partial unique index
    # refuses whatever got past it.
    commit_or_conflict(f"invoice {invoice.number} already has an open dispute; add to it")
    return dispute


def resolve(dispute: Dispute, outcome: str | None, note: str | None, *, amount: Decimal | None = None,
            actor=None) -> Dispute:
    """Resolve a dispute once, with a note. credited records the amount as a credit on the invoice (under its
    lock, as a payment is); corrected needs the invoice voided first; upheld leaves it to be chased again."""
    invoice = lock(Invoice, dispute.invoice_id)
    dispute = db.session.get(Dispute, dispute.id, populate_existing=True)
    # Read before the dispute changes: an actor expired by an earlier commit reloads with a query, whose
    # autoflush would write a resolved dispute without its day.
    actor_id = getattr(actor, "id", None)
    note = (note or "").strip()
    if outcome not in DISPUTE_OUTCOMES:
        raise ValidationError.on("outcome", f"must be one of {', '.join(DISPUTE_OUTCOMES)}")
    if not note:
        raise ValidationError.on("note", "say how the dispute was resolved")
    if len(note) > 1000:
        raise ValidationError.on("note", "must be at most 1000 characters")
    if dispute.status != "open":
        raise Conflict(f"dispute #{dispute.id} was resolved already ({dispute.outcome})")
    if outcome == "credited":
        if amount is None:
            raise ValidationError.on("amount", "a credited dispute needs the amount credited")
        if amount <= 0 or amount != to_cents(amount):
            raise ValidationError.on("amount", "must be a positive amount in cents")
        if amount > invoice.balance:
            raise ValidationError.on("amount", f"is more than the balance of {format_money(invoice.balance)}")
        db.session.add(Payment(invoice=invoice, amount=amount, kind="credit", received_on=today(),
                               reference=f"dispute #{dispute.id}", recorded_by_id=actor_id))
        invoice.amount_paid += amount
        invoice.status = "paid" if invoice.amount_paid == invoice.total else "partially_paid"
        dispute.credit_amount = amount
    elif amount is not None:
        raise ValidationError.on("amount", "only a credited dispute credits an amount")
    if outcome == "corrected" and invoice.status != "void":
        raise Conflict(f"invoice {invoice.number} is not void; void it (its hours are then billed again) "
                       "before resolving the dispute as corrected")
    dispute.status, dispute.outcome, dispute.resolution_note = "resolved", outcome, note
    dispute.resolved_on, dispute.resolved_by_id = today(), actor_id
    audit.record("update", dispute, f"dispute #{dispute.id} on {invoice.number} resolved: {outcome}"
                 + (f" {format_money(amount)}" if amount else ""), actor=actor,
                 changes={"status": ["open", "resolved"], "outcome": [None, outcome]})
    if invoice.status == "paid":
        promises.settle_on_payment(invoice)
        receivables._withdraw_reminders(invoice)
    db.session.commit()
    return dispute


def open_for(invoice_id: int) -> Dispute | None:
    return db.session.scalar(sa.select(Dispute).where(Dispute.invoice_id == invoice_id, Dispute.status == "open"))


def disputed_ids(invoice_ids: list[int]) -> set[int]:
    """Of these invoices, those with an open dispute: one query for a page of them."""
    if not invoice_ids:
        return set()
    return set(db.session.scalars(sa.select(Dispute.invoice_id).where(
        Dispute.invoice_id.in_(invoice_ids), Dispute.status == "open")))


def is_disputed(invoice: Invoice) -> bool:
    return bool(disputed_ids([invoice.id]))


def get_dispute(dispute_id: int, actor=None) -> Dispute:
    query = sa.select(Dispute).where(Dispute.id == dispute_id)
    if (scope := facility_scope(actor)) is not None:
        query = query.join(Dispute.invoice).where(Invoice.facility_id == scope)
    dispute = db.session.scalar(query)
    if dispute is None:
        raise NotFound(f"no dispute with id {dispute_id}")
    return dispute


def disputes_query(actor=None, *, status: str | None = None, overdue_on: date | None = None,
                   invoice_id: int | None = None):
    """The disputes a viewer sees (a facility contact its own facility's), newest first unless paged."""
    query = sa.select(Dispute).join(Dispute.invoice)
    if (scope := facility_scope(actor)) is not None:
        query = query.where(Invoice.facility_id == scope)
    if status in DISPUTE_STATUSES:
        query = query.where(Dispute.status == status)
    if overdue_on is not None:
        query = query.where(Dispute.status == "open", Dispute.due_on < overdue_on)
    if invoice_id is not None:
        query = query.where(Dispute.invoice_id == invoice_id)
    return query


def seen_by(actor) -> dict:
    """What a facility contact may not read of a dispute: who owns it inside the agency and the internal
    note of its resolution."""
    return {"owner_id": None, "note": None} if facility_scope(actor) is not None else {}


def add_overdue_tasks(as_of: date) -> list[int]:
    """A task on its owner's dashboard (else the billing team's) for each open dispute past its due day,
    once however often this runs; the disputes given one now."""
    late = db.session.scalars(sa.select(Dispute).join(Dispute.invoice)
                              .where(Dispute.status == "open", Dispute.due_on < as_of)
                              .order_by(Dispute.id)).all()
    added = []
    for dispute in late:
        invoice = dispute.invoice
        task = collections.add_task(
            key=f"dispute:{dispute.id}", kind="dispute", facility_id=invoice.facility_id, owner_role="billing",
            owner_id=dispute.owner_id, invoice_id=invoice.id, due_on=as_of, created_on=as_of,
            title=f"Dispute #{dispute.id} on {invoice.number} was due {dispute.due_on:%b %d, %Y}",
            detail=dispute.reason)
        if task is not None:
            audit.record("create", task, f"task for overdue dispute #{dispute.id} on {invoice.number}")
            added.append(dispute.id)
    db.session.commit()
    return added
