"""Timesheets, invoices, payments, dunning notices and invoice runs."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from agency.core.constraints import one_of
from agency.core.dates import utcnow
from agency.core.jobs import JobRecord
from agency.extensions import db
from agency.facilities.models import RATE_ITEMS, Facility
from agency.placements.models import Placement

# Held: recorded, but for a day the therapist could not bill (billing/holds.py says why); never approved
# or invoiced until the gap is resolved or an admin releases it.
ENTRY_STATUSES = ("submitted", "held", "approved", "rejected", "invoiced")
INVOICE_STATUSES = ("draft", "issued", "partially_paid", "paid", "void")
OPEN_INVOICE_STATUSES = ("issued", "partially_paid")
# Invoices the facility has been sent: a draft is not yet, a void no longer.
ISSUED_STATUSES = ("issued", "partially_paid", "paid")


class TimesheetEntry(db.Model):
    """One day's work of one placement: direct-care and supervision hours, travel miles."""

    __tablename__ = "timesheet_entries"
    __table_args__ = (
        sa.UniqueConstraint("placement_id", "work_date"),
        one_of("status", ENTRY_STATUSES),
        sa.CheckConstraint(
            "direct_care_hours >= 0 AND supervision_hours >= 0 AND travel_miles >= 0", name="not_negative"
        ),
        sa.CheckConstraint("direct_care_hours + supervision_hours <= 24", name="day_hours"),
        sa.CheckConstraint("status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejection_reason"),
        # A held entry says why, and only a held one carries reasons.
        sa.CheckConstraint("(status = 'held') = (hold_reasons IS NOT NULL)", name="hold_reasons"),
        # An admin's release is who, when, why and the codes it covered, all of them or none.
        sa.CheckConstraint("(released_at IS NULL) = (release_reason IS NULL) "
                           "AND (released_at IS NULL) = (released_codes IS NULL)", name="release"),
        sa.Index("ix_timesheet_entries_status_date", "status", "work_date"),
        # The timesheets list opens newest first: the latest days read off an index, not all entries sorted.
        sa.Index("ix_timesheet_entries_work_date", "work_date"),
        # What waits for approval, oldest first: the portal, the waiting list and the daily chase.
        sa.Index("ix_timesheet_entries_waiting", "submitted_at", postgresql_where=sa.text("status = 'submitted'"),
                 sqlite_where=sa.text("status = 'submitted'")),
    )
    __audit_type__ = "timesheet_entry"
    # An admin's release reason speaks of credentials, which a facility reads only as neutral hold reasons.
    __restricted__ = {"notes": "timesheets.notes", "release_reason": "readiness.details"}

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id", ondelete="RESTRICT"))
    work_date: Mapped[date]
    direct_care_hours: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("0"))
    supervision_hours: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("0"))
    travel_miles: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2), default=Decimal("0"))
    status: Mapped[str] = mapped_column(sa.String(20), default="submitted")
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(500))
    notes: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # When the hours last went to the facility for approval: recorded, corrected, or released from a hold.
    # The approval window and its reminders count from here (billing/approvals.py).
    submitted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Why the entry is held: [{"code", "message"}], as billing/holds.py found them; null unless held.
    hold_reasons: Mapped[list | None] = mapped_column(sa.JSON(none_as_null=True))
    # An admin released the held entry with a reason, for the hold codes it was held for: a reason of
    # another code found later holds it again (billing/holds.py settle).
    released_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    released_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    release_reason: Mapped[str | None] = mapped_column(sa.String(500))
    released_codes: Mapped[list | None] = mapped_column(sa.JSON(none_as_null=True))

    placement: Mapped[Placement] = relationship()
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    released_by = relationship("User", foreign_keys=[released_by_id])

    @property
    def total_hours(self) -> Decimal:
        return self.direct_care_hours + self.supervision_hours

    def submit(self) -> None:
        """Send the hours (back) to the facility for approval: the approval window starts again."""
        self.status, self.submitted_at = "submitted", utcnow()


CHASE_STEPS = ("approver", "alternate", "recruiter")


class ApprovalChase(db.Model):
    """A reminder that an entry waits for approval, sent at one step of the chase: each step goes once per
    submission (a correction sent back for approval starts the chase again)."""

    __tablename__ = "approval_chases"
    __table_args__ = (sa.UniqueConstraint("entry_id", "step"), one_of("step", CHASE_STEPS))

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("timesheet_entries.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(sa.String(20))
    sent_on: Mapped[date]
    recipient: Mapped[str] = mapped_column(sa.String(255))


class InvoiceCounter(db.Model):
    """The last invoice number used in a year: numbers run without gaps, one year at a time."""

    __tablename__ = "invoice_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)


class Invoice(db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        one_of("status", INVOICE_STATUSES),
        sa.CheckConstraint("period_end >= period_start", name="period"),
        sa.CheckConstraint("due_on >= issued_on", name="due"),
        sa.CheckConstraint("amount_paid >= 0 AND amount_paid <= total", name="paid"),
        sa.CheckConstraint("status <> 'void' OR void_reason IS NOT NULL", name="void_reason"),
        # A number is given at issue, from the year's gapless counter: a draft has none, and a draft
        # discarded (void) keeps none, so no number is ever lost.
        sa.CheckConstraint("(status = 'draft' AND number IS NULL) OR (status <> 'draft' AND "
                           "(number IS NOT NULL OR status = 'void'))", name="number"),
        sa.Index("ix_invoices_facility_status", "facility_id", "status"),
        sa.Index("ix_invoices_status_due", "status", "due_on"),
        # The sweep that renders PDFs a job did not (Redis was down) finds them without reading every PDF.
        sa.Index("ix_invoices_pdf_missing", "id", postgresql_where=sa.text("pdf IS NULL"),
                 sqlite_where=sa.text("pdf IS NULL")),
    )
    __audit_type__ = "invoice"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="RESTRICT"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    issued_on: Mapped[date] = mapped_column(index=True)  # the dashboards sum invoices by month
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(20), default="issued")
    total: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    amount_paid: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0"))
    void_reason: Mapped[str | None] = mapped_column(sa.String(500))
    voided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    pdf: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # The earlier, still-live invoice of the same facility and period this one adds to (hours approved
    # after it was issued), recorded as it is issued. A voided invoice is never supplemented: the invoice
    # that bills its hours again replaces it.
    supplements_invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id", ondelete="RESTRICT"))
    # Why the safety stop parked this draft instead of issuing it; None for a draft of a review facility.
    review_reason: Mapped[str | None] = mapped_column(sa.String(300))

    facility: Mapped[Facility] = relationship()
    supplements: Mapped["Invoice | None"] = relationship(remote_side=[id], foreign_keys=[supplements_invoice_id])
    lines: Mapped[list["InvoiceLine"]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position",
        foreign_keys="InvoiceLine.invoice_id",
    )
    payments: Mapped[list["Payment"]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="Payment.received_on"
    )
    notices: Mapped[list["DunningNotice"]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="DunningNotice.sent_on"
    )

    @property
    def balance(self) -> Decimal:
        return Decimal(0) if self.status in ("void", "draft") else self.total - self.amount_paid

    @property
    def label(self) -> str:
        """The invoice's number, or for a draft (and a discarded one) that has none, "draft #id"."""
        return self.number or f"draft #{self.id}"

    def waiting_since(self, as_of: date) -> date | None:
        """The day after its period closed, for a draft still not issued then: a period must not be left
        unbilled while it waits for review."""
        if self.status == "draft" and self.period_end < as_of:
            return self.period_end + timedelta(days=1)
        return None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INVOICE_STATUSES

    @property
    def credits(self) -> Decimal:
        """What the invoice's credit lines give back (negative, or zero): total = charges + credits."""
        return sum((line.amount for line in self.lines if line.is_credit), Decimal(0))

    @property
    def charges(self) -> Decimal:
        return self.total - self.credits

    @property
    def supplement_note(self) -> str | None:
        """What the page, the PDF and the email say of a supplemental invoice, so it never reads as a duplicate."""
        if self.supplements is None:
            return None
        return (f"Supplemental to {self.supplements.label}: hours approved after that invoice was issued, "
                f"for the same period")

    def days_past_due(self, as_of: date) -> int:
        return (as_of - self.due_on).days

    def is_overdue(self, as_of: date) -> bool:
        """Open with a balance and past its due date on that day: what the pages mark, and what the aging's
        buckets past current add up (receivables.aging, in SQL)."""
        return self.is_open and self.total > self.amount_paid and self.due_on < as_of


class InvoiceLine(db.Model):
    """A charge on an invoice, or a credit (negative quantity) giving back what a line of an earlier,
    still-live invoice billed beyond what its week owes: that invoice is never edited once issued."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        one_of("item", RATE_ITEMS),
        sa.CheckConstraint(
            "(corrects_invoice_id IS NULL AND quantity > 0) OR (corrects_invoice_id IS NOT NULL AND quantity < 0)",
            name="quantity",
        ),
        sa.Index("ix_invoice_lines_placement_period", "placement_id", "period_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id", ondelete="RESTRICT"))
    position: Mapped[int]
    item: Mapped[str] = mapped_column(sa.String(40))
    overtime: Mapped[bool] = mapped_column(default=False)
    # The week (its Monday) or month (its first day) a weekly, overtime or monthly charge belongs to.
    period_key: Mapped[date | None]
    description: Mapped[str] = mapped_column(sa.String(300))
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    unit_price: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    # A credit line names the invoice whose line billed the hours it gives back.
    corrects_invoice_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invoices.id", ondelete="RESTRICT"), index=True)

    invoice: Mapped[Invoice] = relationship(back_populates="lines", foreign_keys=[invoice_id])
    placement: Mapped[Placement] = relationship()
    corrects: Mapped[Invoice | None] = relationship(foreign_keys=[corrects_invoice_id])
    sources: Mapped[list["LineSource"]] = relationship(back_populates="line", cascade="all, delete-orphan")

    @property
    def is_credit(self) -> bool:
        return self.corrects_invoice_id is not None


class LineSource(db.Model):
    """Which entries a line bills, and how much of each (hours, miles or days).

    A week's correction traces the hours it moves: an entry billed before can
    have hours taken back (negative) on one line and billed again on another.
    The entry stays billed by its own invoice (BilledEntry), never twice.
    """

    __tablename__ = "line_sources"
    __table_args__ = (sa.UniqueConstraint("line_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice_lines.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("timesheet_entries.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))

    line: Mapped[InvoiceLine] = relationship(back_populates="sources")
    entry: Mapped[TimesheetEntry] = relationship()


class BilledEntry(db.Model):
    """An entry on a live invoice. The partial unique index means an entry is billed at most once;
    voiding the invoice sets live to false and frees the entry to be billed again."""

    __tablename__ = "billed_entries"
    __table_args__ = (
        sa.Index(
            "uq_billed_entries_live_entry", "entry_id", unique=True,
            postgresql_where=sa.text("live"), sqlite_where=sa.text("live"),
        ),
        # Any billing of an entry, live or voided: the weeks a void released are found by it.
        sa.Index("ix_billed_entries_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("timesheet_entries.id", ondelete="RESTRICT"))
    live: Mapped[bool] = mapped_column(default=True)

    invoice: Mapped[Invoice] = relationship()


# "On a live invoice", written exactly as the partial unique index's predicate (a bare column), so
# that both databases answer it from that index: SQLAlchemy would render `live = 1` on SQLite,
# and SQLite's planner only uses a partial index for a WHERE term identical to the index's.
LIVE = sa.text("billed_entries.live")


# A payment is money received; a credit is balance given back (a dispute settled by crediting): both
# lower what is owed, only payments are collected.
PAYMENT_KINDS = ("payment", "credit")


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount"), one_of("kind", PAYMENT_KINDS))
    __audit_type__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    kind: Mapped[str] = mapped_column(sa.String(20), default="payment", server_default="payment")
    received_on: Mapped[date] = mapped_column(index=True)  # the dashboards sum payments by month
    reference: Mapped[str | None] = mapped_column(sa.String(120))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


# Money collected: payments received, never credits (a credit lowers the balance and brings in nothing).
COLLECTED = Payment.kind == "payment"


class DunningNotice(db.Model):
    """A reminder level sent for an invoice: each level goes out once."""

    __tablename__ = "dunning_notices"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(sa.String(40))
    sent_on: Mapped[date]
    recipients: Mapped[str] = mapped_column(sa.String(500))
    # The outbox key of the facility's email that named this level (one email names several invoices).
    mail_key: Mapped[str | None] = mapped_column(sa.String(255))

    invoice: Mapped[Invoice] = relationship(back_populates="notices")


RUN_FACILITY_STATUSES = ("queued", "started", "finished", "failed")


class InvoiceRun(db.Model):
    """A period's invoice run that someone (or the schedule) started: its job record, split into parts.

    Its id is its job's id, so GET /jobs/{id} answers for the whole run; its status comes from the
    facilities' rows, each part's job writing its own, so no two workers ever update one counter.
    """

    __tablename__ = "invoice_runs"
    __table_args__ = (sa.CheckConstraint("period_end >= period_start", name="period"),)

    id: Mapped[str] = mapped_column(sa.ForeignKey("job_records.id", ondelete="CASCADE"), primary_key=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    # The one facility asked for; null when the run is for every facility with hours to bill.
    facility_id: Mapped[int | None] = mapped_column(sa.ForeignKey("facilities.id", ondelete="SET NULL"))

    record: Mapped[JobRecord] = relationship()
    facility: Mapped[Facility | None] = relationship()


class InvoiceRunFacility(db.Model):
    """One facility of a run: the part (batch) whose job invoices it, and how that ended for it."""

    __tablename__ = "invoice_run_facilities"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "facility_id"),
        one_of("status", RUN_FACILITY_STATUSES),
        sa.Index("ix_invoice_run_facilities_run_part", "run_id", "part"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.ForeignKey("invoice_runs.id", ondelete="CASCADE"))
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="RESTRICT"))
    part: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    invoice_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    # Entries left unbilled and why: [{"entry_id", "reason"}], as the invoicing reported them.
    unpriced: Mapped[list] = mapped_column(sa.JSON, default=list)
    # Held entries up to the period's end, never billed while held: [{"entry_id", "reason"}].
    held: Mapped[list] = mapped_column(sa.JSON, default=list)
    # Drafts the safety stop parked for a person to issue or discard: [{"invoice_id", "total", "reason"}].
    parked: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]")
    # Why the facility was not invoiced at all (its invoicing is off); None when it was considered.
    skipped: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    facility: Mapped[Facility] = relationship()


# ----------------------------------------------------------------------------- collections

DISPUTE_STATUSES = ("open", "resolved")
# Credited: part or all of the balance given back (a credit on the invoice); corrected: the invoice was
# voided and billed again right; upheld: the invoice stands as issued and is chased again.
DISPUTE_OUTCOMES = ("credited", "corrected", "upheld")


class Dispute(db.Model):
    """A facility's objection to an invoice or one of its lines: while open, the invoice is not chased
    and its balance is left out of what aging calls collectible. It has an owner and a due date."""

    __tablename__ = "disputes"
    __table_args__ = (
        one_of("status", DISPUTE_STATUSES),
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('credited', 'corrected', 'upheld')", name="outcome"),
        # Resolved means an outcome, a day and who, all together; open means none of them.
        sa.CheckConstraint("(status = 'resolved') = (outcome IS NOT NULL) "
                           "AND (status = 'resolved') = (resolved_on IS NOT NULL)", name="resolution"),
        sa.CheckConstraint("due_on >= opened_on", name="due"),
        sa.CheckConstraint("credit_amount IS NULL OR credit_amount > 0", name="credit_amount"),
        # One open dispute per invoice, whoever opens it at the same moment: the next adds to the first.
        sa.Index("uq_disputes_open_invoice", "invoice_id", unique=True,
                 postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'")),
        sa.Index("ix_disputes_status_due", "status", "due_on"),
    )
    __audit_type__ = "dispute"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    # The line disputed; null for the invoice as a whole.
    line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice_lines.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    opened_on: Mapped[date]
    opened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    due_on: Mapped[date]
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    outcome: Mapped[str | None] = mapped_column(sa.String(20))
    resolution_note: Mapped[str | None] = mapped_column(sa.String(1000))
    resolved_on: Mapped[date | None]
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # What a credited dispute gave back (recorded as a Payment of kind credit on the invoice).
    credit_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    invoice: Mapped[Invoice] = relationship()
    line: Mapped[InvoiceLine | None] = relationship()
    owner = relationship("User", foreign_keys=[owner_id])
    opened_by = relationship("User", foreign_keys=[opened_by_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])


# Withdrawn: its invoice was voided before the promise's day (the hours are billed again on a new invoice).
PROMISE_STATUSES = ("open", "kept", "broken", "withdrawn")


class PaymentPromise(db.Model):
    """Someone at the facility promised to pay an amount by a day: no reminders before it. Kept when the
    invoice is settled or the payments recorded since the promise (never credits) reach the amount by that
    day; else broken, and the ladder goes on one level up."""

    __tablename__ = "payment_promises"
    __table_args__ = (
        one_of("status", PROMISE_STATUSES),
        sa.CheckConstraint("amount > 0", name="amount"),
        sa.CheckConstraint("promised_on >= made_on", name="promised_after_made"),
        sa.CheckConstraint("(status = 'open') = (resolved_on IS NULL)", name="resolution"),
        sa.Index("uq_payment_promises_open_invoice", "invoice_id", unique=True,
                 postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'")),
        sa.Index("ix_payment_promises_status_promised", "status", "promised_on"),
    )
    __audit_type__ = "payment_promise"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    promised_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    # Who at the facility promised, in words ("Dana Ruiz, AP manager, by phone").
    promised_by: Mapped[str] = mapped_column(sa.String(200))
    made_on: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    resolved_on: Mapped[date | None]
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    invoice: Mapped[Invoice] = relationship()
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])


TASK_OWNERS = ("billing", "recruiter", "leadership")
TASK_KINDS = ("dunning", "broken_promise", "dispute")


class CollectionTask(db.Model):
    """Something a person must do to collect: call the facility at a dunning level, follow up a broken
    promise, settle a dispute past its due date. It shows on its owner's dashboard until done.

    The owner is a role (every billing user, leadership = admins) or, for the account's recruiter, one
    user. key makes each task once, however often or concurrently the jobs run."""

    __tablename__ = "collection_tasks"
    __table_args__ = (
        one_of("owner_role", TASK_OWNERS),
        one_of("kind", TASK_KINDS),
        sa.CheckConstraint("(done_at IS NULL) = (done_by_id IS NULL)", name="done"),
        sa.Index("ix_collection_tasks_open", "owner_role", "done_at", "due_on"),
    )
    __audit_type__ = "collection_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"))
    owner_role: Mapped[str] = mapped_column(sa.String(20))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    detail: Mapped[str | None] = mapped_column(sa.Text)
    created_on: Mapped[date]
    due_on: Mapped[date]
    done_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    facility: Mapped[Facility] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    owner = relationship("User", foreign_keys=[owner_id])


STATEMENT_KINDS = ("scheduled", "on_demand", "reminder")


class Statement(db.Model):
    """A statement of account sent to a facility: its open invoices and balance on a day. The schedule's
    statement of a day is sent once however often the job runs (the unique day and kind); "payments and
    credits since the last statement" start from the last one sent."""

    __tablename__ = "statements"
    __table_args__ = (sa.UniqueConstraint("facility_id", "as_of", "kind"), one_of("kind", STATEMENT_KINDS))
    __audit_type__ = "statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"))
    as_of: Mapped[date]
    kind: Mapped[str] = mapped_column(sa.String(20))
    balance: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    invoice_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    recipients: Mapped[str] = mapped_column(sa.String(500))
    sent_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    facility: Mapped[Facility] = relationship()
