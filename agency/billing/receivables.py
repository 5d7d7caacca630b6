"""Payments, voids, aging of what facilities owe, and the dunning that chases it."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from agency.billing import holds
from agency.billing.models import (
    BILLED_STATUSES,
    LIVE,
    OPEN_INVOICE_STATUSES,
    BilledEntry,
    DunningNotice,
    Invoice,
    Payment,
    TimesheetEntry,
)
from agency.core import audit
from agency.core.dates import human_day, start_of, today, utcnow
from agency.core.errors import Conflict, NotFound, ValidationError
from agency.core.money import format_money, to_cents, to_tenths
from agency.core.outbox import OutboxMessage, queue_email, remittance, withdraw_unsent
from agency.core.permissions import facility_scope
from agency.core.persistence import lock
from agency.extensions import db
from agency.facilities.models import Facility

BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")
BUCKET_LABELS = {"current": "Current", "1_30": "1–30 days", "31_60": "31–60 days",
                 "61_90": "61–90 days", "over_90": "Over 90 days"}
ZERO = Decimal("0.00")


def get_invoice(invoice_id: int, actor=None) -> Invoice:
    """An invoice, or NotFound when it is missing or belongs to another facility than the contact's."""
    query = sa.select(Invoice).where(Invoice.id == invoice_id)
    if (scope := facility_scope(actor)) is not None:
        query = query.where(Invoice.facility_id == scope)
    invoice = db.session.scalar(query)
    if invoice is None:
        raise NotFound(f"no invoice with id {invoice_id}")
    return invoice


def record_payment(invoice: Invoice, amount: Decimal, received_on: date, reference: str | None,
                   actor=None) -> Payment:
    """Apply a full or partial payment; more than the balance is refused."""
    # The balance as committed, and no other payment or void of the invoice until this one commits.
    invoice = lock(Invoice, invoice.id)
    if not invoice.is_open:
        raise Conflict(f"invoice {invoice.number} is {invoice.status.replace('_', ' ')}")
    if amount <= 0 or amount != to_cents(amount):
        raise ValidationError.on("amount", "must be a positive amount in cents")
    if amount > invoice.balance:
        raise ValidationError.on("amount", f"is more than the balance of {format_money(invoice.balance)}; "
                                           "overpayments are not accepted")
    if received_on > today():
        raise ValidationError.on("received_on", "cannot be in the future")
    if received_on < invoice.issued_on:
        raise ValidationError.on("received_on", "cannot be before the invoice was issued")
    payment = Payment(invoice=invoice, amount=amount, received_on=received_on,
                      reference=(reference or "").strip() or None, recorded_by_id=getattr(actor, "id", None))
    db.session.add(payment)
    invoice.amount_paid += amount
    invoice.status = "paid" if invoice.amount_paid == invoice.total else "partially_paid"
    if invoice.status == "paid":
        _withdraw_reminders(invoice)
    audit.record("create", payment, f"payment {format_money(amount)} on {invoice.number}", actor=actor)
    db.session.commit()
    return payment


def void_invoice(invoice: Invoice, reason: str, actor=None) -> Invoice:
    """Void an unpaid invoice with a reason; its entries go back to approved, ready to bill again, each
    judged again on its day (holds.settle): one now in a compliance gap is held, not billed again."""
    # The facility first, as its invoice runs do: a run never prices against hours a void is releasing.
    lock(Facility, invoice.facility_id)
    invoice = lock(Invoice, invoice.id)
    if not (reason or "").strip():
        raise ValidationError.on("reason", "say why the invoice is voided")
    if invoice.status == "void":
        raise Conflict(f"invoice {invoice.number} is already void")
    if invoice.amount_paid > 0:
        raise Conflict(f"invoice {invoice.number} has payments; refund them before voiding")
    entry_ids = db.session.scalars(
        sa.select(BilledEntry.entry_id)
        .where(BilledEntry.invoice_id == invoice.id, LIVE)
    ).all()
    db.session.execute(sa.update(BilledEntry).where(BilledEntry.invoice_id == invoice.id).values(live=False))
    db.session.execute(
        sa.update(TimesheetEntry).where(TimesheetEntry.id.in_(entry_ids)).values(status="approved")
    )
    # Under the facility's lock, as approvals are: an exclusion confirmed after the hours were billed holds them.
    holds.settle_ids(entry_ids, actor)
    invoice.status, invoice.void_reason, invoice.voided_at = "void", reason.strip(), utcnow()
    _withdraw_reminders(invoice)
    audit.record("update", invoice, f"invoice {invoice.number} voided: {reason.strip()}", actor=actor,
                 changes={"status": ["open", "void"]})
    db.session.commit()
    return invoice


def _withdraw_reminders(invoice: Invoice) -> None:
    """A paid or void invoice is never chased: reminders still waiting in the outbox are taken back."""
    keys = withdraw_unsent(_reminder_key(invoice, ""))
    levels = [key.rsplit(":", 1)[1] for key in keys]
    if levels:
        db.session.execute(sa.delete(DunningNotice).where(DunningNotice.invoice_id == invoice.id,
                                                          DunningNotice.level.in_(levels)))


def _reminder_key(invoice: Invoice, level: str) -> str:
    return f"dunning:{invoice.number}:{level}"


# ----------------------------------------------------------------------------- aging


# Upper bound of days past due for each bucket but the last, which takes the rest.
BUCKET_LIMITS = (("current", 0), ("1_30", 30), ("31_60", 60), ("61_90", 90))


def bucket_column(as_of: date):
    """The aging bucket of an invoice on a day, as SQL: days past due compared as due dates."""
    return sa.case(*((Invoice.due_on >= as_of - timedelta(days=limit), name) for name, limit in BUCKET_LIMITS),
                   else_="over_90")


class _Health:
    """What a set of aging buckets says about collections; the agency's and each facility's alike."""

    buckets: dict[str, Decimal]
    billed_90_days: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        """What is past its due date: every bucket but current (Invoice.is_overdue, summed)."""
        return self.total - self.buckets["current"]

    @property
    def over_60(self) -> Decimal:
        return self.buckets["61_90"] + self.buckets["over_90"]

    @property
    def over_60_share(self) -> Decimal:
        """Receivables more than 60 days past due as a share of all, in percent to a tenth: leadership wants
        it under 15-20%."""
        if not self.total:
            return ZERO
        return to_tenths(self.over_60 * 100 / self.total)

    @property
    def dso(self) -> Decimal:
        """Days sales outstanding, to a tenth of a day: receivables over the last 90 days' billing, times 90."""
        if not self.billed_90_days:
            return ZERO
        return to_tenths(self.total * 90 / self.billed_90_days)


@dataclass
class FacilityAging(_Health):
    facility_id: int
    name: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))
    billed_90_days: Decimal = ZERO


@dataclass
class Aging(_Health):
    as_of: date
    buckets: dict[str, Decimal]
    facilities: list[FacilityAging]
    billed_90_days: Decimal
    # Each facility's last 90 days' billing, those with nothing open included (for their DSO).
    billed_by_facility: dict[int, Decimal] = field(default_factory=dict)


# The row of aging()'s statement that carries the 90 days' billing rather than a bucket.
BILLED_ROW = "billed_90_days"


def aging(as_of: date, actor=None) -> Aging:
    """Open balances by days past due, per facility and in total, as they stood on a day: what Receivables,
    the dashboards and a facility's portal all show as owed, so they never disagree.

    An invoice dated after the day is not yet owed on it.

    One statement whatever the number of invoices: the balances grouped by facility
    and bucket, and one more row for the last 90 days' billing (for the DSO). A balance
    on a past day counts only payments received by then, and an invoice voided later
    was still owed then, so last month's aging reads the same after this month's payments.
    """
    # What was paid by then is what is paid now less the payments received since (amount_paid is the sum
    # of an invoice's payments, ledger_problems holds it): the few later payments are summed, not them all.
    later = (sa.select(Payment.invoice_id, sa.func.sum(Payment.amount).label("amount"))
             .where(Payment.received_on > as_of).group_by(Payment.invoice_id).subquery())
    balance = Invoice.total - Invoice.amount_paid + sa.func.coalesce(later.c.amount, 0)
    bucket = bucket_column(as_of).label("bucket")
    query = (
        sa.select(Invoice.facility_id, Facility.name, bucket, sa.func.sum(balance))
        .join(Facility, Facility.id == Invoice.facility_id)
        .outerjoin(later, later.c.invoice_id == Invoice.id)
        .where(Invoice.issued_on <= as_of, balance > 0,
               sa.or_(Invoice.voided_at.is_(None), Invoice.voided_at >= start_of(as_of + timedelta(days=1))))
        .group_by(Invoice.facility_id, Facility.name, bucket)
    )
    billed = (sa.select(Invoice.facility_id, sa.null(), sa.literal(BILLED_ROW), sa.func.sum(Invoice.total))
              .where(Invoice.status.in_(BILLED_STATUSES), Invoice.issued_on > as_of - timedelta(days=90),
                     Invoice.issued_on <= as_of)
              .group_by(Invoice.facility_id))
    if (scope := facility_scope(actor)) is not None:
        query = query.where(Invoice.facility_id == scope)
        billed = billed.where(Invoice.facility_id == scope)
    per_facility: dict[int, FacilityAging] = {}
    totals = dict.fromkeys(BUCKETS, ZERO)
    billed_by_facility: dict[int, Decimal] = {}
    for facility_id, name, bucket_name, amount in db.session.execute(sa.union_all(query, billed)):
        amount = to_cents(amount)
        if bucket_name == BILLED_ROW:
            billed_by_facility[facility_id] = amount
            continue
        per_facility.setdefault(facility_id, FacilityAging(facility_id, name)).buckets[bucket_name] += amount
        totals[bucket_name] += amount
    for row in per_facility.values():
        row.billed_90_days = billed_by_facility.get(row.facility_id, ZERO)
    facilities = sorted(per_facility.values(), key=lambda f: (-f.total, f.name))
    return Aging(as_of, totals, facilities, sum(billed_by_facility.values(), ZERO), billed_by_facility)


# ----------------------------------------------------------------------------- dunning


def dunning_level_for(days_past_due: int, levels: list[dict]) -> dict | None:
    """The latest level reached: an invoice found 35 days late gets the 30-day reminder, not all three."""
    reached = [lv for lv in levels if days_past_due >= lv["days"]]
    return max(reached, key=lambda lv: lv["days"]) if reached else None


def _notice(invoice: Invoice, level: dict, days: int, statement: list[Invoice]) -> tuple[str, str]:
    facility = invoice.facility
    when = (f"is due in {-days} days" if days < 0 else
            "is due today" if days == 0 else f"is {days} days past due")
    subject = f"Invoice {invoice.number} {when}: {format_money(invoice.balance)} open"
    body = (f"Invoice {invoice.number} to {facility.name}, issued {human_day(invoice.issued_on)}, "
            f"due {human_day(invoice.due_on)}, {when}. Balance: {format_money(invoice.balance)}.\n")
    if level["to"] == "leadership":
        subject = f"Escalation: {facility.name} is {days} days past due on {invoice.number}"
        open_total = sum((i.balance for i in statement), ZERO)
        body += (f"\nAccount summary for {facility.name}: {format_money(open_total)} open on "
                 f"{len(statement)} invoice(s).\n")
        for other in statement:
            body += (f"  {other.number}  issued {human_day(other.issued_on)}  due {human_day(other.due_on)}"
                     f"  balance {format_money(other.balance)}\n")
        body += "\nPlease reach out to the facility's leadership."
    else:
        body += f"\n{remittance()}\n\nThank you."
    return subject, body


def dunning_levels() -> list[dict]:
    """The configured reminder levels, earliest first."""
    return sorted(current_app.config["DUNNING_LEVELS"], key=lambda lv: lv["days"])


def _open_to_chase():
    return sa.select(Invoice).where(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.total > Invoice.amount_paid)


def _recipient(invoice: Invoice, level: dict) -> str | None:
    return current_app.config["LEADERSHIP_EMAIL"] if level["to"] == "leadership" else invoice.facility.billing_email


def _send_level(invoice: Invoice, level: dict, as_of: date, statement: list[Invoice]) -> str | None:
    """Queue one reminder level of an invoice and record it as sent, in one commit; the address it was queued
    to, or None when another run or click queued it first (the notice's unique level and the mail's dedupe
    key let only one through) or there is no one to send it to."""
    to = _recipient(invoice, level)
    if not to:
        return None
    subject, body = _notice(invoice, level, invoice.days_past_due(as_of), statement)
    try:
        db.session.add(DunningNotice(invoice_id=invoice.id, level=level["key"], sent_on=as_of, recipients=to))
        queued = queue_email(to, subject, body, dedupe_key=_reminder_key(invoice, level["key"]))
        if queued:
            db.session.commit()
    except IntegrityError:
        queued = False
    if not queued:
        db.session.rollback()
        return None
    return to


def run_dunning(as_of: date) -> dict:
    """Send each invoice's due reminder level once, never after it is paid nor while its facility's dunning
    is paused; returns what was sent."""
    levels = dunning_levels()
    invoices = db.session.scalars(
        _open_to_chase().join(Invoice.facility).where(Facility.dunning_paused.is_(False))
        .options(joinedload(Invoice.facility))
    ).all()
    sent_levels = defaultdict(set)
    for invoice_id, level in db.session.execute(sa.select(DunningNotice.invoice_id, DunningNotice.level)):
        sent_levels[invoice_id].add(level)
    by_facility = defaultdict(list)
    for invoice in invoices:
        by_facility[invoice.facility_id].append(invoice)
    sent = []
    for invoice in invoices:
        level = dunning_level_for(invoice.days_past_due(as_of), levels)
        if level is None or level["key"] in sent_levels[invoice.id]:
            continue
        if _send_level(invoice, level, as_of, by_facility[invoice.facility_id]):
            sent.append({"invoice_id": invoice.id, "level": level["key"]})
    return {"as_of": as_of.isoformat(), "sent": sent}


def next_level(invoice: Invoice, sent: set[str], as_of: date, levels: list[dict]) -> tuple[dict, date] | None:
    """The level an invoice's dunning sends next and the day it is due: the level reached if it was not
    sent, else the first one after it; None when the ladder is done."""
    reached = dunning_level_for(invoice.days_past_due(as_of), levels)
    if reached is not None and reached["key"] not in sent:
        return reached, invoice.due_on + timedelta(days=reached["days"])
    later = [lv for lv in levels if lv["key"] not in sent and (reached is None or lv["days"] > reached["days"])]
    return (later[0], invoice.due_on + timedelta(days=later[0]["days"])) if later else None


def send_next_now(invoice: Invoice, as_of: date, actor=None) -> tuple[dict, str]:
    """Queue the reminder level an invoice has reached and not been sent, now rather than with the next daily
    run, through the run's own send, once: a second click, or two at once, finds it sent. Only a level
    already due goes (never the next one early), and a paused facility's too: a person decided to send it."""
    invoice = db.session.scalar(_open_to_chase().where(Invoice.id == invoice.id)
                                .options(joinedload(Invoice.facility)))
    if invoice is None:
        raise Conflict("the invoice is paid or void; it is not chased")
    sent = set(db.session.scalars(sa.select(DunningNotice.level).where(DunningNotice.invoice_id == invoice.id)))
    upcoming = next_level(invoice, sent, as_of, dunning_levels())
    if upcoming is None:
        raise Conflict(f"every reminder level of {invoice.number} was sent already")
    level, due = upcoming
    if due > as_of:
        raise Conflict(f"no reminder of {invoice.number} is due yet; the next, {level['key'].replace('_', ' ')}, "
                       f"is due {due:%b %d, %Y}")
    if not _recipient(invoice, level):
        raise ValidationError.on("billing_email", f"{invoice.facility.name} has no billing email; add it first")
    statement = db.session.scalars(_open_to_chase().where(Invoice.facility_id == invoice.facility_id)
                                   .order_by(Invoice.due_on, Invoice.id)).all()
    audit.record("update", invoice, f"{level['key'].replace('_', ' ')} reminder for {invoice.number} sent now",
                 actor=actor)
    to = _send_level(invoice, level, as_of, statement)
    if to is None:
        raise Conflict(f"the {level['key'].replace('_', ' ')} reminder of {invoice.number} was queued already")
    return level, to


@dataclass
class DunningRow:
    """An invoice on the dunning ladder: what it reached, what goes next and when, and the mail sent."""

    invoice: Invoice
    days_past_due: int
    reached: DunningNotice | None
    upcoming: tuple[dict, date] | None
    messages: list


def dunning_ladder(as_of: date):
    """The open invoices the dunning chases on a day (their first level reached), most overdue first, as a
    query for a page of them; dunning_rows() then fills in a page in two more queries."""
    levels = dunning_levels()
    first = levels[0]["days"] if levels else 0
    return (_open_to_chase().where(Invoice.due_on <= as_of - timedelta(days=first))
            .options(joinedload(Invoice.facility)).order_by(Invoice.due_on, Invoice.id))


def dunning_rows(invoices: list[Invoice], as_of: date) -> list[DunningRow]:
    """The ladder of a page of invoices: their notices and their reminders' outbox messages, two queries."""
    levels = dunning_levels()
    ids = [invoice.id for invoice in invoices]
    notices = defaultdict(list)
    for notice in db.session.scalars(sa.select(DunningNotice).where(DunningNotice.invoice_id.in_(ids))
                                     .order_by(DunningNotice.sent_on, DunningNotice.id)) if ids else []:
        notices[notice.invoice_id].append(notice)
    keys = [_reminder_key(invoice, level["key"]) for invoice in invoices for level in levels]
    mail = {m.dedupe_key: m for m in db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.dedupe_key.in_(keys)))} if keys else {}
    rows = []
    for invoice in invoices:
        sent = notices[invoice.id]
        rows.append(DunningRow(
            invoice, invoice.days_past_due(as_of), sent[-1] if sent else None,
            next_level(invoice, {n.level for n in sent}, as_of, levels),
            [(n, mail.get(_reminder_key(invoice, n.level))) for n in sent]))
    return rows
