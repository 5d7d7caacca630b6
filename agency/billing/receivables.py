"""Payments, voids, aging of what facilities owe, and the dunning that chases it."""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from agency.billing import collections, holds, promises
from agency.billing.models import (
    LIVE,
    OPEN_INVOICE_STATUSES,
    BilledEntry,
    Dispute,
    DunningNotice,
    Invoice,
    Payment,
    PaymentPromise,
    TimesheetEntry,
)
from agency.core import audit
from agency.core.dates import human_day, start_of, today, utcnow
from agency.core.errors import Conflict, NotFound, ValidationError
from agency.core.money import format_money, to_cents, to_tenths
from agency.core.outbox import queue_email, remittance, withdraw_unsent
from agency.core.permissions import facility_scope
from agency.core.persistence import lock
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Placement

BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")
BUCKET_LABELS = {"current": "Current", "1_30": "1–30 days", "31_60": "31–60 days",
                 "61_90": "61–90 days", "over_90": "Over 90 days"}
ZERO = Decimal("0.00")


def get_invoice(invoice_id: int, actor=None) -> Invoice:
    """An invoice, or NotFound when it is missing or belongs to another facility than the contact's."""
    query = sa.select(Invoice).where(Invoice.id == invoice_id)
    if (scope := facility_scope(actor)) is not None:
        # A draft is the agency's until issued; a discarded one never reached the facility.
        query = query.where(Invoice.facility_id == scope, Invoice.number.is_not(None))
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
        raise Conflict(f"invoice {invoice.label} is {invoice.status.replace('_', ' ')}")
    if amount <= 0 or amount != to_cents(amount):
        raise ValidationError.on("amount", "must be a positive amount in cents")
    if amount > invoice.balance:
        raise ValidationError.on("amount", f"is more than the balance of {format_money(invoice.balance)}; "
                                           "overpayments are not accepted")
    if received_on > today():
        raise ValidationError.on("received_on", "cannot be in the future")
    if received_on < invoice.issued_on:
        raise ValidationError.on("received_on", "cannot be before the invoice was issued")
    reference = (reference or "").strip() or None
    # A check or transfer pays an invoice once: its reference seen again on the invoice is the same money
    # recorded twice (a form sent twice, two clerks at once), which the invoice's lock lets us see.
    if reference and (same := db.session.scalar(sa.select(Payment).where(
            Payment.invoice_id == invoice.id, Payment.kind == "payment",
            sa.func.lower(Payment.reference) == reference.lower()))) is not None:
        raise Conflict(f"a payment with reference {same.reference} ({format_money(same.amount)} received "
                       f"{human_day(same.received_on)}) is already recorded on invoice {invoice.number}",
                       {"reference": ["is already recorded on this invoice"]})
    payment = Payment(invoice=invoice, amount=amount, kind="payment", received_on=received_on,
                      reference=reference, recorded_by_id=getattr(actor, "id", None))
    db.session.add(payment)
    invoice.amount_paid += amount
    invoice.status = "paid" if invoice.amount_paid == invoice.total else "partially_paid"
    if invoice.status == "paid":
        _withdraw_reminders(invoice)
        promises.settle_on_payment(invoice, actor)
    audit.record("create", payment, f"payment {format_money(amount)} on {invoice.number}", actor=actor)
    db.session.commit()
    return payment


def void_invoice(invoice: Invoice, reason: str, actor=None, draft: bool = False) -> Invoice:
    """Void an unpaid invoice with a reason; its entries go back to approved, ready to bill again, each
    judged again on its day (holds.settle): one now in a compliance gap is held, not billed again.
    A draft is voided only by discarding it (draft=True): it was never sent, and keeps no number."""
    # The facility first, as its invoice runs do: a run never prices against hours a void is releasing.
    lock(Facility, invoice.facility_id)
    invoice = lock(Invoice, invoice.id)
    if not (reason or "").strip():
        raise ValidationError.on("reason", "say why the invoice is " + ("discarded" if draft else "voided"))
    if invoice.status == "void":
        raise Conflict(f"invoice {invoice.label} is already void")
    if (invoice.status == "draft") != draft:
        raise Conflict(f"invoice {invoice.label} " + ("is not a draft" if draft else "is a draft: discard it"))
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
    if draft:
        audit.record("update", invoice, f"draft #{invoice.id} discarded: {reason.strip()}", actor=actor,
                     changes={"status": ["draft", "void"]})
        db.session.commit()
        return invoice
    _withdraw_reminders(invoice)
    promises.withdraw_on_void(invoice, actor)
    audit.record("update", invoice, f"invoice {invoice.number} voided: {reason.strip()}", actor=actor,
                 changes={"status": ["open", "void"]})
    db.session.commit()
    return invoice


def _withdraw_reminders(invoice: Invoice) -> None:
    """A paid or void invoice is never chased: a facility email naming it that still waits in the outbox is
    taken back, and the levels it carried for the facility's other invoices are forgotten, so the next run
    sends those again without this one."""
    keys = set(db.session.scalars(sa.select(DunningNotice.mail_key).where(
        DunningNotice.invoice_id == invoice.id, DunningNotice.mail_key.is_not(None))))
    withdrawn = [key for key in keys if withdraw_unsent(key)]
    if withdrawn:
        db.session.execute(sa.delete(DunningNotice).where(DunningNotice.mail_key.in_(withdrawn)))


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
    # Of the total, the balance of invoices under an open dispute: owed, but not collectible until resolved.
    disputed: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def collectible(self) -> Decimal:
        return self.total - self.disputed

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
            return to_tenths(ZERO)
        return to_tenths(self.over_60 * 100 / self.total)

    @property
    def dso(self) -> Decimal | None:
        """Days sales outstanding, to a tenth of a day: receivables over the last 90 days' billing, times 90;
        None when money is owed but nothing was billed in 90 days (no ratio says how slow that is; 0 would
        make the slowest payer look the best)."""
        if not self.billed_90_days:
            return None if self.total else to_tenths(ZERO)
        return to_tenths(self.total * 90 / self.billed_90_days)


@dataclass
class FacilityAging(_Health):
    facility_id: int
    name: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))
    billed_90_days: Decimal = ZERO
    disputed: Decimal = ZERO


@dataclass
class Aging(_Health):
    as_of: date
    buckets: dict[str, Decimal]
    facilities: list[FacilityAging]
    billed_90_days: Decimal
    disputed: Decimal = ZERO
    # Facilities billed in the last 90 days that owe nothing on the day: measured too (a DSO of 0), by name.
    paid_up: list[FacilityAging] = field(default_factory=list)


# The row of aging()'s statement that carries the 90 days' billing rather than a bucket.
BILLED_ROW = "billed_90_days"


def issued_by(as_of: date):
    """SQL: the invoice stood issued on the day: numbered, dated by then, and not voided by then (a void
    later undoes nothing of that day). Aging's balances and its 90 days' billing both count by it, so a past
    day's DSO compares what was owed with what was billed as they stood."""
    # An invoice never issued (a draft, or one discarded as a draft) has no number.
    return sa.and_(Invoice.number.is_not(None), Invoice.issued_on <= as_of,
                   sa.or_(Invoice.voided_at.is_(None), Invoice.voided_at >= start_of(as_of + timedelta(days=1))))


def owed_on(as_of: date):
    """What each invoice owed on a day, as SQL: (the later payments' subquery to outer-join on invoice_id,
    the balance then, the condition that it was owed then). Aging and statements count it the same way."""
    # What was paid by then is what is paid now less the payments received since (amount_paid is the sum
    # of an invoice's payments, ledger_problems holds it): the few later payments are summed, not them all.
    later = (sa.select(Payment.invoice_id, sa.func.sum(Payment.amount).label("amount"))
             .where(Payment.received_on > as_of).group_by(Payment.invoice_id).subquery())
    balance = Invoice.total - Invoice.amount_paid + sa.func.coalesce(later.c.amount, 0)
    return later, balance, sa.and_(issued_by(as_of), balance > 0)


def aging(as_of: date, actor=None) -> Aging:
    """Open balances by days past due, per facility and in total, as they stood on a day: what Receivables,
    the dashboards and a facility's portal all show as owed, so they never disagree.

    An invoice dated after the day is not yet owed on it.

    One statement whatever the number of invoices: the balances grouped by facility
    and bucket, and a row per facility for its last 90 days' billing (for the DSO). A balance
    on a past day counts only payments received by then, and an invoice voided later
    was still owed then, so last month's aging reads the same after this month's payments.
    """
    later, balance, owed = owed_on(as_of)
    bucket = bucket_column(as_of).label("bucket")
    disputed = sa.func.sum(sa.case((collections.disputed(as_of), balance), else_=0))
    query = (
        sa.select(Invoice.facility_id, Facility.name, bucket, sa.func.sum(balance), disputed)
        .join(Facility, Facility.id == Invoice.facility_id)
        .outerjoin(later, later.c.invoice_id == Invoice.id)
        .where(owed)
        .group_by(Invoice.facility_id, Facility.name, bucket)
    )
    billed = (sa.select(Invoice.facility_id, Facility.name, sa.literal(BILLED_ROW), sa.func.sum(Invoice.total),
                        sa.literal(0))
              .join(Facility, Facility.id == Invoice.facility_id)
              .where(issued_by(as_of), Invoice.issued_on > as_of - timedelta(days=90))
              .group_by(Invoice.facility_id, Facility.name))
    if (scope := facility_scope(actor)) is not None:
        query = query.where(Invoice.facility_id == scope)
        billed = billed.where(Invoice.facility_id == scope)
    per_facility: dict[int, FacilityAging] = {}
    totals = dict.fromkeys(BUCKETS, ZERO)
    billed_by_facility: dict[int, tuple[str, Decimal]] = {}
    total_disputed = ZERO
    for facility_id, name, bucket_name, amount, in_dispute in db.session.execute(sa.union_all(query, billed)):
        amount = to_cents(amount)
        if bucket_name == BILLED_ROW:
            billed_by_facility[facility_id] = (name, amount)
            continue
        row = per_facility.setdefault(facility_id, FacilityAging(facility_id, name))
        row.buckets[bucket_name] += amount
        row.disputed += to_cents(in_dispute)
        totals[bucket_name] += amount
        total_disputed += to_cents(in_dispute)
    paid_up = []
    for facility_id, (name, amount) in billed_by_facility.items():
        if facility_id in per_facility:
            per_facility[facility_id].billed_90_days = amount
        else:
            paid_up.append(FacilityAging(facility_id, name, billed_90_days=amount))
    facilities = sorted(per_facility.values(), key=lambda f: (-f.total, f.name))
    return Aging(as_of, totals, facilities, sum((amount for _, amount in billed_by_facility.values()), ZERO),
                 total_disputed, paid_up)


# ----------------------------------------------------------------------------- dunning

LEVEL_OWNERS = ("billing", "recruiter", "leadership")
LEVEL_ACTIONS = ("email", "task", "both")


def check_dunning_levels(levels) -> None:
    """Refuse at start a DUNNING_LEVELS the ladder cannot run: each level needs a unique key, whole days,
    an owner (billing, recruiter, leadership) and an action (email, task, both)."""
    problems, keys = [], set()
    for n, level in enumerate(levels if isinstance(levels, list) else [None]):
        if not isinstance(level, dict):
            problems.append(f"entry {n + 1} is not a table")
            continue
        key = level.get("key")
        if not isinstance(key, str) or not key or key in keys:
            problems.append(f"entry {n + 1} needs a unique key")
        keys.add(key)
        if not isinstance(level.get("days"), int) or isinstance(level.get("days"), bool):
            problems.append(f"{key}: days must be a whole number")
        if level.get("owner") not in LEVEL_OWNERS:
            problems.append(f"{key}: owner must be one of {', '.join(LEVEL_OWNERS)}")
        if level.get("action") not in LEVEL_ACTIONS:
            problems.append(f"{key}: action must be one of {', '.join(LEVEL_ACTIONS)}")
    if problems:
        raise RuntimeError("DUNNING_LEVELS is invalid: " + "; ".join(problems))


def dunning_levels() -> list[dict]:
    """The configured reminder levels, earliest first."""
    return sorted(current_app.config["DUNNING_LEVELS"], key=lambda lv: lv["days"])


def dunning_level_for(days_past_due: int, levels: list[dict]) -> dict | None:
    """The latest level reached: an invoice found 35 days late gets the 30-day reminder, not all three."""
    reached = [lv for lv in levels if days_past_due >= lv["days"]]
    return max(reached, key=lambda lv: lv["days"]) if reached else None


def level_to_send(invoice: Invoice, sent: set[str], broken_on: date | None, last_sent: date | None,
                  as_of: date, levels: list[dict]) -> dict | None:
    """The level an invoice's dunning sends on a day, or None. After a broken promise (broken_on, and no
    notice since) it is the one after the highest sent (the first if none), whatever its days: the
    facility had its respite. Else the level reached, if not sent."""
    if broken_on is not None and (last_sent is None or last_sent < broken_on):
        order = [lv["key"] for lv in levels]
        highest = max((order.index(key) for key in sent if key in order), default=-1)
        return levels[highest + 1] if highest + 1 < len(levels) else None
    reached = dunning_level_for(invoice.days_past_due(as_of), levels)
    return reached if reached is not None and reached["key"] not in sent else None


def _open_to_chase():
    return sa.select(Invoice).where(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.total > Invoice.amount_paid)


@dataclass
class LadderState:
    """What the ladder knows of some invoices, in four queries: notices sent, the last broken promise, and
    which are held back on the day."""

    notices: dict = field(default_factory=lambda: defaultdict(list))
    broken_on: dict = field(default_factory=dict)
    held: set = field(default_factory=set)

    def sent(self, invoice_id: int) -> set[str]:
        return {n.level for n in self.notices[invoice_id]}

    def last_sent(self, invoice_id: int) -> date | None:
        return max((n.sent_on for n in self.notices[invoice_id]), default=None)


def ladder_state(invoice_ids: list[int], as_of: date) -> LadderState:
    state = LadderState()
    if not invoice_ids:
        return state
    for notice in db.session.scalars(sa.select(DunningNotice).where(DunningNotice.invoice_id.in_(invoice_ids))
                                     .order_by(DunningNotice.sent_on, DunningNotice.id)):
        state.notices[notice.invoice_id].append(notice)
    state.broken_on = dict(db.session.execute(
        sa.select(PaymentPromise.invoice_id, sa.func.max(PaymentPromise.resolved_on))
        .where(PaymentPromise.invoice_id.in_(invoice_ids), PaymentPromise.status == "broken",
               PaymentPromise.resolved_on <= as_of)
        .group_by(PaymentPromise.invoice_id)).all())
    state.held = set(db.session.scalars(sa.select(Invoice.id).where(Invoice.id.in_(invoice_ids),
                                                                    collections.held_back(as_of))))
    return state


def account_recruiter(facility_id: int) -> int | None:
    """The account's recruiter: the one with most of the facility's onboarding or active placements, ties
    to the lowest user id; None when it has none."""
    return db.session.scalar(
        sa.select(Placement.recruiter_id)
        .where(Placement.facility_id == facility_id, Placement.status.in_(Placement.COMMITTED),
               Placement.recruiter_id.is_not(None))
        .group_by(Placement.recruiter_id)
        .order_by(sa.func.count().desc(), Placement.recruiter_id).limit(1))


@dataclass
class Chase:
    invoice: Invoice
    level: dict
    days: int


def _when(days: int) -> str:
    return f"due in {-days} days" if days < 0 else "due today" if days == 0 else f"{days} days past due"


def _facility_notice(facility: Facility, chases: list[Chase]) -> tuple[str, str]:
    total = sum((c.invoice.balance for c in chases), ZERO)
    subject = f"Payment reminder from {current_app.config['AGENCY_NAME']}: {len(chases)} invoice(s), " \
              f"{format_money(total)} open"
    body = f"Dear {facility.name} accounts payable,\n\nThese invoices are open:\n"
    for c in chases:
        body += (f"  {c.invoice.number}  due {human_day(c.invoice.due_on)}, {_when(c.days)}  "
                 f"{format_money(c.invoice.balance)}  ({c.level['key'].replace('_', ' ')})\n")
    return subject, body + f"\nYour statement of account is attached.\n\n{remittance()}\n\nThank you."


def _leadership_summary(facility: Facility, chases: list[Chase], account) -> tuple[str, str]:
    """One summary of the account's history for leadership: invoices, reminders sent, disputes, promises,
    payments."""
    ids = [line.invoice_id for line in account.invoices] or [0]
    every = sorted({*ids, *(c.invoice.id for c in chases)})
    oldest = max(chases, key=lambda c: c.days)
    subject = (f"Escalation: {facility.name} is {oldest.days} days past due, "
               f"{format_money(account.balance)} open")
    body = (f"{facility.name} reached {', '.join(sorted({c.level['key'].replace('_', ' ') for c in chases}))} "
            f"on {', '.join(c.invoice.number for c in chases)}.\n\n"
            f"Open invoices on {human_day(account.as_of)} ({format_money(account.balance)}):\n")
    for line in account.invoices:
        body += (f"  {line.number}  issued {human_day(line.issued_on)}  due {human_day(line.due_on)}  "
                 f"{_when(line.days_past_due)}  balance {format_money(line.balance)}"
                 f"{'  DISPUTED' if line.disputed else ''}\n")
    numbers = dict(db.session.execute(sa.select(Invoice.id, Invoice.number).where(Invoice.id.in_(every))).all())
    body += "\nReminders sent:\n"
    for notice in db.session.scalars(sa.select(DunningNotice).where(DunningNotice.invoice_id.in_(every))
                                     .order_by(DunningNotice.sent_on, DunningNotice.id)):
        body += f"  {human_day(notice.sent_on)}  {numbers[notice.invoice_id]}  " \
                f"{notice.level.replace('_', ' ')} to {notice.recipients}\n"
    body += "\nDisputes:\n"
    for d in db.session.scalars(sa.select(Dispute).where(Dispute.invoice_id.in_(every)).order_by(Dispute.id)):
        body += (f"  {numbers[d.invoice_id]}  opened {human_day(d.opened_on)}: {d.reason} ({d.status}"
                 f"{', ' + d.outcome if d.outcome else ''})\n")
    body += "\nPromises to pay:\n"
    for p in db.session.scalars(sa.select(PaymentPromise).where(PaymentPromise.invoice_id.in_(every))
                                .order_by(PaymentPromise.id)):
        body += (f"  {numbers[p.invoice_id]}  {format_money(p.amount)} by {human_day(p.promised_on)}, "
                 f"promised by {p.promised_by}: {p.status}\n")
    body += "\nPayments and credits:\n"
    for p in db.session.scalars(sa.select(Payment).where(Payment.invoice_id.in_(every))
                                .order_by(Payment.received_on, Payment.id)):
        body += f"  {human_day(p.received_on)}  {numbers[p.invoice_id]}  {p.kind}  {format_money(p.amount)}\n"
    return subject, body + "\nPlease reach out to the facility's leadership."


def _chase_key(facility: Facility, chases: list[Chase], to: str) -> str:
    pairs = ",".join(f"{c.invoice.id}-{c.level['key']}" for c in sorted(chases, key=lambda c: c.invoice.id))
    return f"dunning:{facility.id}:{to}:{hashlib.sha1(pairs.encode()).hexdigest()[:16]}"


def _task_owner(level: dict, facility_id: int) -> tuple[str, int | None]:
    if level["owner"] == "recruiter":
        recruiter = account_recruiter(facility_id)
        return ("recruiter", recruiter) if recruiter is not None else ("billing", None)
    return level["owner"], None


def _chase_facility(facility_id: int, as_of: date, levels: list[dict], *, paused_too: bool) -> list[Chase]:
    """Send one facility what its ladder owes on a day, in one commit under the facility's lock: one email
    naming every invoice chased, with the statement attached; leadership's summary; the owners' tasks. Each
    invoice-level is recorded once (DunningNotice, unique), so a second run or one at the same moment finds
    it sent and sends nothing. The chases sent."""
    from agency.billing import statements  # statements reads aging's balances from this module

    facility = lock(Facility, facility_id)
    if facility is None or (facility.dunning_paused and not paused_too):
        db.session.rollback()
        return []
    invoices = db.session.scalars(_open_to_chase().where(Invoice.facility_id == facility_id)
                                  .order_by(Invoice.due_on, Invoice.id)).all()
    state = ladder_state([i.id for i in invoices], as_of)
    chases = []
    for invoice in invoices:
        if invoice.id in state.held:
            continue
        level = level_to_send(invoice, state.sent(invoice.id), state.broken_on.get(invoice.id),
                              state.last_sent(invoice.id), as_of, levels)
        if level is not None:
            chases.append(Chase(invoice, level, invoice.days_past_due(as_of)))
    if not chases:
        db.session.rollback()
        return []
    account = statements.statement(facility, as_of)
    to_facility = [c for c in chases if c.level["owner"] != "leadership" and c.level["action"] != "task"]
    to_leadership = [c for c in chases if c.level["owner"] == "leadership" and c.level["action"] != "task"]
    recipients, keys = {}, {}
    if to_facility and facility.billing_email:
        subject, body = _facility_notice(facility, to_facility)
        key = _chase_key(facility, to_facility, "facility")
        queue_email(facility.billing_email, subject, body, dedupe_key=key,
                    attachment=(statements.pdf_name(account), "application/pdf", statements.statement_pdf(account)))
        statements.record_sent(account, "reminder", facility.billing_email)
        recipients.update({id(c): facility.billing_email for c in to_facility})
        keys.update({id(c): key for c in to_facility})
    if to_leadership:
        leadership = current_app.config["LEADERSHIP_EMAIL"]
        subject, body = _leadership_summary(facility, to_leadership, account)
        key = _chase_key(facility, to_leadership, "leadership")
        queue_email(leadership, subject, body, dedupe_key=key)
        recipients.update({id(c): leadership for c in to_leadership})
        keys.update({id(c): key for c in to_leadership})
    for level_key in dict.fromkeys(c.level["key"] for c in chases if c.level["action"] != "email"):
        level = next(c.level for c in chases if c.level["key"] == level_key)
        named = [c for c in chases if c.level["key"] == level_key]
        oldest = max(named, key=lambda c: c.days).invoice
        role, owner_id = _task_owner(level, facility_id)
        collections.add_task(
            key=f"dunning:{facility_id}:{level_key}:{oldest.id}", kind="dunning", facility_id=facility_id,
            owner_role=role, owner_id=owner_id, invoice_id=oldest.id, due_on=as_of, created_on=as_of,
            title=f"Call {facility.name} about {', '.join(c.invoice.number for c in named)} "
                  f"({level_key.replace('_', ' ')})",
            detail=f"{format_money(sum((c.invoice.balance for c in named), ZERO))} open; oldest "
                   f"{oldest.number}, {_when(max(c.days for c in named))}.")
        recipients.update({id(c): recipients.get(id(c), "") + (" + " if id(c) in recipients else "") +
                           f"{role} task" for c in named})
    sent = [c for c in chases if recipients.get(id(c))]
    if not sent:  # a level that only emails, and no billing email: nothing to record as sent
        db.session.rollback()
        return []
    db.session.add_all(DunningNotice(invoice_id=c.invoice.id, level=c.level["key"], sent_on=as_of,
                                     recipients=recipients[id(c)][:500], mail_key=keys.get(id(c)))
                       for c in sent)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return []
    return sent


def _facilities_to_chase(as_of: date) -> list[int]:
    """Facilities with an open invoice the ladder may reach (not paused), whose first level is due."""
    levels = dunning_levels()
    first = levels[0]["days"] if levels else 0
    return list(db.session.scalars(
        sa.select(Invoice.facility_id).distinct()
        .join(Facility, Facility.id == Invoice.facility_id)
        .where(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.total > Invoice.amount_paid,
               Facility.dunning_paused.is_(False), Invoice.due_on <= as_of - timedelta(days=first)
               ).order_by(Invoice.facility_id)))


def run_dunning(as_of: date) -> dict:
    """Chase each facility once on a day: its due levels in one email (never a paid, disputed or promised
    invoice, never a paused facility); returns what was sent."""
    levels = dunning_levels()
    sent = []
    for facility_id in _facilities_to_chase(as_of):
        for c in _chase_facility(facility_id, as_of, levels, paused_too=False):
            sent.append({"facility_id": facility_id, "invoice_id": c.invoice.id, "level": c.level["key"]})
    return {"as_of": as_of.isoformat(), "sent": sent}


def send_next_now(facility: Facility, as_of: date, actor=None) -> list[Chase]:
    """Send a facility's due levels now rather than with the next daily run, through the run's own send,
    once: a second click, or two at once, finds them sent. Only levels already due go (never the next one
    early), and a paused facility's too: a person decided to send them."""
    chases = _chase_facility(facility.id, as_of, dunning_levels(), paused_too=True)
    if not chases:
        raise Conflict(f"no reminder of {facility.name} is due now, or it was sent already")
    audit.record("update", facility, "reminders sent now: " + ", ".join(
        f"{c.invoice.number} {c.level['key'].replace('_', ' ')}" for c in chases), actor=actor)
    db.session.commit()
    return chases


@dataclass
class LadderInvoice:
    invoice: Invoice
    days_past_due: int
    held: bool
    reached: DunningNotice | None
    due_now: dict | None
    notices: list


@dataclass
class LadderRow:
    """A facility on the dunning ladder: its chased invoices, what each reached and what goes now."""

    facility: Facility
    invoices: list[LadderInvoice]

    @property
    def balance(self) -> Decimal:
        return sum((i.invoice.balance for i in self.invoices), ZERO)

    @property
    def due_now(self) -> bool:
        return any(i.due_now for i in self.invoices)


def dunning_ladder(as_of: date):
    """The facilities the dunning chases on a day (an open invoice at its first level), most overdue first,
    as a query for a page of them; dunning_rows() then fills in a page in a few more queries."""
    levels = dunning_levels()
    first = levels[0]["days"] if levels else 0
    oldest = (sa.select(Invoice.facility_id, sa.func.min(Invoice.due_on).label("due_on"))
              .where(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.total > Invoice.amount_paid,
                     Invoice.due_on <= as_of - timedelta(days=first))
              .group_by(Invoice.facility_id).subquery())
    return sa.select(Facility).join(oldest, oldest.c.facility_id == Facility.id).order_by(oldest.c.due_on,
                                                                                          Facility.id)


def dunning_rows(facilities: list[Facility], as_of: date) -> list[LadderRow]:
    levels = dunning_levels()
    first = levels[0]["days"] if levels else 0
    ids = [f.id for f in facilities]
    invoices = db.session.scalars(_open_to_chase().where(
        Invoice.facility_id.in_(ids), Invoice.due_on <= as_of - timedelta(days=first))
        .order_by(Invoice.due_on, Invoice.id)).all() if ids else []
    state = ladder_state([i.id for i in invoices], as_of)
    by_facility = defaultdict(list)
    for invoice in invoices:
        notices = state.notices[invoice.id]
        held = invoice.id in state.held
        due = None if held else level_to_send(invoice, state.sent(invoice.id), state.broken_on.get(invoice.id),
                                              state.last_sent(invoice.id), as_of, levels)
        by_facility[invoice.facility_id].append(LadderInvoice(
            invoice, invoice.days_past_due(as_of), held, notices[-1] if notices else None, due, notices))
    return [LadderRow(f, by_facility[f.id]) for f in facilities]
