"""Promises to pay: someone at a facility promised an amount by a day, and billing recorded it. Until that day
collections.promised() keeps the invoice from being chased; the day after, the daily check settles it, kept
(collections.promise_kept) or broken, and a broken promise tells whoever recorded it, once."""

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from agency.auth.models import User
from agency.billing import collections
from agency.billing.models import Invoice, PaymentPromise
from agency.core import audit
from agency.core.dates import human_day, today
from agency.core.errors import Conflict, ValidationError
from agency.core.integrity import commit_or_conflict
from agency.core.money import format_money, to_cents
from agency.core.outbox import queue_email
from agency.core.persistence import lock
from agency.extensions import db


def record_promise(invoice: Invoice, promised_on: date | None, amount: Decimal | None, promised_by: str | None,
                   actor=None) -> PaymentPromise:
    """Record the invoice's one open promise; what is paid from now on counts toward it."""
    invoice = lock(Invoice, invoice.id)
    promised_by = (promised_by or "").strip()
    made_on = today()
    latest = made_on + timedelta(days=current_app.config["PROMISE_MAX_DAYS"])
    errors = {}
    if promised_on is None:
        errors["promised_on"] = ["say by which day the facility will pay"]
    elif not made_on <= promised_on <= latest:
        errors["promised_on"] = [f"must be between today and {human_day(latest)}"]
    if amount is None:
        errors["amount"] = ["say how much the facility promised"]
    elif amount <= 0 or amount != to_cents(amount):
        errors["amount"] = ["must be a positive amount in cents"]
    elif amount > invoice.balance:
        errors["amount"] = [f"is more than the balance of {format_money(invoice.balance)}"]
    if not promised_by:
        errors["promised_by"] = ["say who promised (a name, and how: by phone, by email)"]
    elif len(promised_by) > 200:
        errors["promised_by"] = ["must be at most 200 characters"]
    if errors:
        raise ValidationError("; ".join(f"{k}: {v[0]}" for k, v in errors.items()), errors)
    if not invoice.is_open:
        raise Conflict(f"invoice {invoice.label} is {invoice.status.replace('_', ' ')}; nothing is owed on it")
    if open_for(invoice.id) is not None:
        raise Conflict(f"invoice {invoice.number} already has an open promise to pay; wait for its day or "
                       "record a payment")
    promise = PaymentPromise(invoice_id=invoice.id, promised_on=promised_on, amount=amount, promised_by=promised_by,
                             made_on=made_on, status="open",
                             recorded_by_id=getattr(actor, "id", None))
    db.session.add(promise)
    db.session.flush()
    audit.record("create", promise, f"promise to pay {format_money(amount)} on {invoice.number} by "
                 f"{human_day(promised_on)} ({promised_by})", actor=actor)
    commit_or_conflict(f"invoice {invoice.number} already has an open promise to pay")
    return promise


def open_for(invoice_id: int) -> PaymentPromise | None:
    return db.session.scalar(sa.select(PaymentPromise).where(PaymentPromise.invoice_id == invoice_id,
                                                             PaymentPromise.status == "open"))


def promises_query(invoice_id: int):
    return (sa.select(PaymentPromise).where(PaymentPromise.invoice_id == invoice_id)
            .order_by(PaymentPromise.made_on.desc(), PaymentPromise.id.desc()))


def settle_on_payment(invoice: Invoice, actor=None) -> None:
    """A payment (or credit) that settles the invoice by the promise's day keeps its open promise at once, in
    the caller's transaction under the invoice's lock, rather than the day after its date (one received
    late leaves it to the daily check, which finds it broken)."""
    if invoice.balance != 0 or (promise := open_for(invoice.id)) is None:
        return
    if not collections.promise_kept(promise, invoice):
        return
    promise.status, promise.resolved_on = "kept", today()
    audit.record("update", promise, f"promise to pay on {invoice.number} kept: the invoice is settled",
                 actor=actor, changes={"status": ["open", "kept"]})


def withdraw_on_void(invoice: Invoice, actor=None) -> None:
    """Voiding the invoice withdraws its open promise, in the caller's transaction under the invoice's lock:
    nothing is owed on it any more, so the promise is neither kept nor broken (the hours billed again are
    chased on their new invoice)."""
    if (promise := open_for(invoice.id)) is None:
        return
    promise.status, promise.resolved_on = "withdrawn", today()
    audit.record("update", promise, f"promise to pay on {invoice.number} withdrawn: the invoice is void",
                 actor=actor, changes={"status": ["open", "withdrawn"]})


def check_promises(as_of: date) -> dict:
    """Settle the open promises whose day is before as_of: kept when paid, else broken (the dunning then goes
    on one level up) with a task and one email to whoever recorded it. Each under its invoice's lock, so two
    runs at once settle it once; the task's key and the mail's dedupe key make the telling once as well."""
    due = db.session.scalars(sa.select(PaymentPromise.id).where(
        PaymentPromise.status == "open", PaymentPromise.promised_on < as_of).order_by(PaymentPromise.id)).all()
    kept, broken = [], []
    for promise_id in due:
        promise = db.session.get(PaymentPromise, promise_id)
        invoice = lock(Invoice, promise.invoice_id)
        promise = db.session.get(PaymentPromise, promise_id, populate_existing=True)
        if promise.status != "open":
            db.session.rollback()
            continue
        promise.status = "kept" if collections.promise_kept(promise, invoice) else "broken"
        promise.resolved_on = as_of
        if promise.status == "kept":
            kept.append(promise.id)
        else:
            broken.append(promise.id)
            _tell_owner(promise, invoice, as_of)
        audit.record("update", promise, f"promise to pay on {invoice.number} {promise.status}",
                     changes={"status": ["open", promise.status]})
        db.session.commit()
    return {"as_of": as_of.isoformat(), "kept": kept, "broken": broken}


def _tell_owner(promise: PaymentPromise, invoice: Invoice, as_of: date) -> None:
    owner = db.session.get(User, promise.recorded_by_id) if promise.recorded_by_id else None
    _, paid = collections.paid_toward(promise)
    title = f"Promise broken: {invoice.facility.name} on {invoice.number}"
    detail = (f"{promise.promised_by} promised {format_money(promise.amount)} by {human_day(promise.promised_on)}; "
              f"{format_money(paid)} was paid since. Balance: {format_money(invoice.balance)}. "
              "Reminders resume one level up.")
    collections.add_task(key=f"broken_promise:{promise.id}", kind="broken_promise", facility_id=invoice.facility_id,
                         owner_role="billing", owner_id=owner.id if owner and owner.active else None,
                         invoice_id=invoice.id, title=title, detail=detail, due_on=as_of, created_on=as_of)
    to = owner.email if owner and owner.active else current_app.config["BILLING_EMAIL"]
    queue_email(to, title, detail, dedupe_key=f"promise-broken:{promise.id}")
