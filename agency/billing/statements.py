"""Statements of account: what a facility owes on a day, invoice by invoice, with what it paid or was credited
since the last statement, as one email with one PDF on the facility's schedule, on demand, and with the
dunning's reminders."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from agency.billing import collections, invoicing
from agency.billing.models import Invoice, Payment, Statement
from agency.billing.pdf import render_pdf
from agency.billing.receivables import owed_on
from agency.core import audit
from agency.core.dates import human_day, today
from agency.core.errors import Conflict, NotFound, ValidationError
from agency.core.money import format_money, to_cents
from agency.core.outbox import queue_email, remittance
from agency.core.permissions import facility_scope
from agency.core.persistence import lock
from agency.extensions import db
from agency.facilities.models import Facility

ZERO = Decimal("0.00")


@dataclass
class StatementLine:
    invoice_id: int
    number: str
    issued_on: date
    due_on: date
    days_past_due: int
    balance: Decimal
    disputed: bool


@dataclass
class AccountStatement:
    facility: Facility
    as_of: date
    since: date | None  # the day of the last statement sent before this one; None when there was none
    invoices: list[StatementLine]
    payments: list[Payment]

    @property
    def facility_id(self) -> int:
        return self.facility.id

    @property
    def balance(self) -> Decimal:
        return sum((line.balance for line in self.invoices), ZERO)

    @property
    def paid_since(self) -> Decimal:
        return sum((p.amount for p in self.payments if p.kind == "payment"), ZERO)

    @property
    def credited_since(self) -> Decimal:
        return sum((p.amount for p in self.payments if p.kind == "credit"), ZERO)


def get_facility(facility_id: int, actor=None) -> Facility:
    """The facility of a statement, or NotFound when it is missing or is not the contact's own."""
    scope = facility_scope(actor)
    facility = db.session.get(Facility, facility_id) if scope in (None, facility_id) else None
    if facility is None:
        raise NotFound(f"no facility with id {facility_id}")
    return facility


def statement(facility: Facility, as_of: date) -> AccountStatement:
    """The facility's statement on a day: every invoice it owed on then, with its balance then (as aging
    counts it), its age and whether it is disputed; the payments and credits received after the last
    statement sent before that day and by it. Three queries whatever the number of invoices."""
    later, balance, owed = owed_on(as_of)
    rows = db.session.execute(
        sa.select(Invoice.id, Invoice.number, Invoice.issued_on, Invoice.due_on, balance,
                  collections.disputed(as_of))
        .outerjoin(later, later.c.invoice_id == Invoice.id)
        .where(Invoice.facility_id == facility.id, owed)
        .order_by(Invoice.due_on, Invoice.id)
    ).all()
    lines = [StatementLine(i, number, issued, due, (as_of - due).days, to_cents(amount), bool(disputed))
             for i, number, issued, due, amount, disputed in rows]
    last = db.session.execute(sa.select(Statement.as_of, Statement.sent_at)
                              .where(Statement.facility_id == facility.id, Statement.as_of < as_of)
                              .order_by(Statement.as_of.desc(), Statement.sent_at.desc()).limit(1)).first()
    since = last.as_of if last else None
    # Since the last statement: received after its day, or recorded after it was sent (a payment received
    # on its day but entered later was on no statement yet).
    new = [sa.or_(Payment.received_on > last.as_of, Payment.created_at > last.sent_at)] if last else []
    payments = db.session.scalars(
        sa.select(Payment).join(Invoice, Invoice.id == Payment.invoice_id)
        .where(Invoice.facility_id == facility.id, Payment.received_on <= as_of, *new)
        .options(joinedload(Payment.invoice)).order_by(Payment.received_on, Payment.id)
    ).all()
    return AccountStatement(facility, as_of, since, lines, payments)


def statement_html(account: AccountStatement) -> str:
    return render_template("pdf/statement.html", statement=account, config=current_app.config)


def statement_pdf(account: AccountStatement) -> bytes:
    return render_pdf(statement_html(account))


def pdf_name(account: AccountStatement) -> str:
    return f"statement-{account.facility.id}-{account.as_of.isoformat()}.pdf"


def record_sent(account: AccountStatement, kind: str, recipients: str, actor=None) -> Statement | None:
    """Record a statement as sent, in the caller's transaction under a savepoint; None when the facility's
    statement of that kind and day was recorded already (another run, another click)."""
    row = Statement(facility_id=account.facility.id, as_of=account.as_of, kind=kind, balance=account.balance,
                    invoice_ids=[line.invoice_id for line in account.invoices], recipients=recipients,
                    sent_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return None
    return row


def _email(account: AccountStatement) -> tuple[str, str]:
    facility, agency = account.facility, current_app.config["AGENCY_NAME"]
    subject = f"Statement of account from {agency}: {format_money(account.balance)} open on " \
              f"{human_day(account.as_of)}"
    body = (f"Dear {facility.name} accounts payable,\n\nPlease find attached your statement of account on "
            f"{human_day(account.as_of)}: {len(account.invoices)} open invoice(s), "
            f"{format_money(account.balance)} in all.\n")
    for line in account.invoices:
        age = f"{line.days_past_due} days past due" if line.days_past_due > 0 else f"due {human_day(line.due_on)}"
        body += f"  {line.number}  {age}  {format_money(line.balance)}{'  (disputed)' if line.disputed else ''}\n"
    return subject, body + f"\n{remittance()}\n\nThank you."


def send_statement(facility: Facility, as_of: date, kind: str, actor=None) -> Statement | None:
    """Email the facility's statement of a day with its PDF to the billing email and record it, once per
    facility, day and kind (the unique row and the mail's dedupe key); None when it was sent already."""
    facility = lock(Facility, facility.id)
    if not facility.billing_email:
        raise ValidationError.on("billing_email", f"{facility.name} has no billing email; add it first")
    account = statement(facility, as_of)
    row = record_sent(account, kind, facility.billing_email, actor)
    if row is None:
        db.session.rollback()
        return None
    subject, body = _email(account)
    queued = queue_email(facility.billing_email, subject, body,
                         dedupe_key=f"statement:{facility.id}:{as_of.isoformat()}:{kind}",
                         attachment=(pdf_name(account), "application/pdf", statement_pdf(account)))
    if not queued:
        db.session.rollback()
        return None
    audit.record("create", row, f"{kind.replace('_', ' ')} statement of {facility.name} on {human_day(as_of)} "
                                f"sent to {facility.billing_email}: {format_money(account.balance)}", actor=actor)
    db.session.commit()
    return row


def send_now(facility: Facility, actor=None) -> Statement:
    """A statement of today sent on demand ("send statement now"); once a day."""
    row = send_statement(facility, today(), "on_demand", actor)
    if row is None:
        raise Conflict(f"a statement of {facility.name} was sent on demand today already")
    return row


def send_scheduled(as_of: date) -> list[int]:
    """Send each active facility whose statement period closed by as_of the statement of that period's last
    day, once: a second run (or two at once) finds it recorded. The ids of the facilities sent."""
    facilities = db.session.scalars(
        sa.select(Facility).where(Facility.active.is_(True), Facility.statement_schedule != "off",
                                  Facility.billing_email.is_not(None)).order_by(Facility.id)).all()
    due = {f.id: invoicing.last_closed_period(f.statement_schedule, as_of)[1] for f in facilities}
    sent_before = {(fid, day) for fid, day in db.session.execute(
        sa.select(Statement.facility_id, Statement.as_of).where(Statement.kind == "scheduled",
                                                                Statement.as_of.in_(set(due.values()))))}
    sent = []
    for facility in facilities:
        if (facility.id, due[facility.id]) in sent_before:
            continue
        if send_statement(facility, due[facility.id], "scheduled") is not None:
            sent.append(facility.id)
    return sent


def to_json(account: AccountStatement) -> dict:
    return {
        "facility_id": account.facility.id, "as_of": account.as_of, "since": account.since,
        "invoices": account.invoices, "payments": account.payments, "balance": account.balance,
        "paid_since": account.paid_since, "credited_since": account.credited_since,
    }
