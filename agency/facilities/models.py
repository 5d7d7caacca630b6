"""Facilities the agency staffs, their contacts and their rate cards."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agency.core.constraints import one_of
from agency.core.dates import utcnow
from agency.credentials.models import DISCIPLINES, disciplines_for
from agency.extensions import db

FACILITY_TYPE_LABELS = {
    "cmhc": "Community mental health center",
    "inpatient": "Inpatient unit",
    "php": "Partial hospitalization (PHP)",
    "iop": "Intensive outpatient (IOP)",
    "school": "School",
    "correctional": "Correctional program",
    "telehealth": "Telehealth platform",
}
FACILITY_TYPES = tuple(FACILITY_TYPE_LABELS)
FUNDING = ("commercial", "medicaid")
INVOICE_SCHEDULES = ("weekly", "biweekly", "monthly")
STATEMENT_SCHEDULES = ("weekly", "biweekly", "monthly", "off")
# automatic: runs issue invoices (the safety stop parks an unusual one as a draft); review: runs make
# drafts billing issues; off: runs skip the facility and say so.
INVOICING_MODES = ("automatic", "review", "off")
CONTACT_ROLES = ("clinical_director", "hr", "compliance", "billing")
# Who approves the facility's hours: the primary approver is asked first, the alternate next
# (billing/approvals.py); with no primary marked, the clinical director approves.
APPROVERS = ("primary", "alternate")
# Business days a facility has to approve submitted hours before it is reminded (1 to 30).
APPROVAL_WINDOW_DAYS = (1, 30)
RATE_ITEMS = (
    "direct_care_hour", "per_diem_day", "contract_week", "supervision_hour", "travel_mile",
    "travel_flat", "telehealth_platform_month",
)
# How a card counts direct-care overtime: over a weekly threshold (FLSA workweek); over a daily threshold
# (and the weekly one, if set); or the 8-and-80 system of hospitals and residential care (29 CFR 778.601):
# over 8 h a day or 80 h in a fixed 14-day period, whichever gives more overtime.
OVERTIME_RULE_LABELS = {
    "weekly": "Weekly: over the weekly threshold",
    "eight_and_eighty": "8-and-80: over 8 h a day or 80 h in 14 days",
    "daily": "Daily: over the daily threshold (and the weekly one, if set)",
}
OVERTIME_RULES = tuple(OVERTIME_RULE_LABELS)
EIGHT_AND_EIGHTY_DAY = Decimal("8")
EIGHT_AND_EIGHTY_PERIOD = Decimal("80")
EIGHT_AND_EIGHTY_DAYS = 14


class Facility(db.Model):
    __tablename__ = "facilities"
    __table_args__ = (
        one_of("facility_type", FACILITY_TYPES),
        one_of("funding", FUNDING),
        one_of("invoice_schedule", INVOICE_SCHEDULES),
        one_of("statement_schedule", STATEMENT_SCHEDULES),
        one_of("invoicing", INVOICING_MODES),
        sa.CheckConstraint("safety_factor IS NULL OR safety_factor > 1", name="safety_factor"),
        sa.CheckConstraint("payment_terms_days BETWEEN 0 AND 365", name="payment_terms"),
        sa.CheckConstraint("approval_window_days BETWEEN 1 AND 30", name="approval_window"),
    )
    __audit_type__ = "facility"
    __restricted__ = {"invoicing": "facilities.internal", "safety_factor": "facilities.internal",
                      "dunning_pause_reason": "facilities.internal"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    facility_type: Mapped[str] = mapped_column(sa.String(20), index=True)
    address_line1: Mapped[str | None] = mapped_column(sa.String(200))
    address_line2: Mapped[str | None] = mapped_column(sa.String(200))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    state: Mapped[str] = mapped_column(sa.String(2), index=True)
    postal_code: Mapped[str | None] = mapped_column(sa.String(10))
    funding: Mapped[str] = mapped_column(sa.String(20), default="commercial")
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    bills_insurance: Mapped[bool] = mapped_column(default=False)
    payers: Mapped[list] = mapped_column(sa.JSON, default=list)
    invoice_schedule: Mapped[str] = mapped_column(sa.String(20), default="monthly")
    billing_email: Mapped[str | None] = mapped_column(sa.String(255))
    # A statement of account goes to the billing email when each period of this schedule closes.
    statement_schedule: Mapped[str] = mapped_column(sa.String(20), default="monthly", server_default="monthly")
    invoicing: Mapped[str] = mapped_column(sa.String(20), default="automatic", server_default="automatic")
    # How far an invoice's total may stray from the facility's recent average before it is parked for
    # review; None: INVOICE_SAFETY_FACTOR.
    safety_factor: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    required_documents: Mapped[list] = mapped_column(sa.JSON, default=list)
    orientation_requirements: Mapped[str | None] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(default=True)
    # No payment reminders for this facility while set (billing is talking to them); the invoices still age.
    dunning_paused: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    dunning_pause_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # Business days after hours are submitted before their approver is reminded (billing/approvals.py).
    approval_window_days: Mapped[int] = mapped_column(default=3, server_default="3")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    contacts: Mapped[list["FacilityContact"]] = relationship(
        back_populates="facility", cascade="all, delete-orphan", order_by="FacilityContact.role"
    )
    rate_cards: Mapped[list["RateCard"]] = relationship(
        back_populates="facility", cascade="all, delete-orphan",
        order_by="RateCard.effective_from.desc()",
    )

    @property
    def type_label(self) -> str:
        return FACILITY_TYPE_LABELS[self.facility_type]

    @property
    def is_telehealth(self) -> bool:
        return self.facility_type == "telehealth"

    def contact(self, role: str) -> "FacilityContact | None":
        return next((c for c in self.contacts if c.role == role), None)

    def approver(self, which: str) -> "FacilityContact | None":
        """Who approves the hours (which = primary) or stands in (alternate): the contact so marked; with no
        primary marked, the clinical director."""
        marked = next((c for c in self.contacts if c.approver == which), None)
        if marked is None and which == "primary":
            return self.contact("clinical_director")
        return marked


class FacilityContact(db.Model):
    __tablename__ = "facility_contacts"
    __table_args__ = (
        one_of("role", CONTACT_ROLES),
        one_of("approver", APPROVERS),
        sa.UniqueConstraint("facility_id", "role", "email"),
        # At most one primary and one alternate approver per facility.
        sa.Index("uq_facility_contacts_approver", "facility_id", "approver", unique=True,
                 postgresql_where=sa.text("approver IS NOT NULL"), sqlite_where=sa.text("approver IS NOT NULL")),
    )
    __audit_type__ = "facility_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(30))
    name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str] = mapped_column(sa.String(255))
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    approver: Mapped[str | None] = mapped_column(sa.String(20))

    facility: Mapped[Facility] = relationship(back_populates="contacts")


class RateCard(db.Model):
    """A facility's contract prices for a date range; ranges of one facility never overlap."""

    # The agency's notes on a contract (how a rate was negotiated) are not the facility's to read.
    __restricted__ = {"notes": "rate_cards.notes"}
    __tablename__ = "rate_cards"
    __table_args__ = (
        sa.CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="range"),
        sa.CheckConstraint(
            "overtime_threshold_hours IS NULL OR overtime_threshold_hours > 0", name="ot_threshold"
        ),
        sa.CheckConstraint("overtime_multiplier >= 1", name="ot_multiplier"),
        one_of("overtime_rule", OVERTIME_RULES),
        sa.CheckConstraint(
            "(overtime_rule = 'daily') = (daily_threshold_hours IS NOT NULL) AND "
            "(daily_threshold_hours IS NULL OR (daily_threshold_hours > 0 AND daily_threshold_hours <= 24))",
            name="daily_threshold",
        ),
        sa.CheckConstraint("overtime_rule = 'eight_and_eighty' OR period_anchor IS NULL", name="period_anchor"),
        sa.CheckConstraint("overtime_rule <> 'eight_and_eighty' OR overtime_threshold_hours IS NULL",
                           name="eighty_fixed"),
        sa.Index("ix_rate_cards_facility_from", "facility_id", "effective_from"),
        sa.Index("ix_rate_cards_effective_to", "effective_to"),
    )
    __audit_type__ = "rate_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"))
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    overtime_threshold_hours: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    overtime_multiplier: Mapped[Decimal] = mapped_column(sa.Numeric(4, 2), default=Decimal("1.5"))
    overtime_rule: Mapped[str] = mapped_column(sa.String(20), default="weekly", server_default="weekly")
    daily_threshold_hours: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    # The first day of an 8-and-80 period; periods repeat every 14 days from it, before it too.
    period_anchor: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)

    facility: Mapped[Facility] = relationship(back_populates="rate_cards")
    rates: Mapped[list["Rate"]] = relationship(
        back_populates="rate_card", cascade="all, delete-orphan", lazy="selectin",
        order_by="(Rate.item, Rate.discipline)",
    )

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def overtime_period(self, day: date) -> tuple[date, int]:
        """(first day, length in days) of the overtime period the day falls in under this card: the fixed
        14-day period from the anchor for 8-and-80, else the day's Monday-to-Sunday week."""
        if self.overtime_rule == "eight_and_eighty":
            anchor = self.period_anchor or self.effective_from
            return anchor + timedelta(days=(day - anchor).days // EIGHT_AND_EIGHTY_DAYS * EIGHT_AND_EIGHTY_DAYS), \
                EIGHT_AND_EIGHTY_DAYS
        return day - timedelta(days=day.weekday()), 7

    def overtime_caps(self) -> tuple[Decimal | None, Decimal | None]:
        """(regular hours a day, regular hours an overtime period) at most; None: no such limit."""
        if self.overtime_rule == "eight_and_eighty":
            return EIGHT_AND_EIGHTY_DAY, EIGHT_AND_EIGHTY_PERIOD
        return (self.daily_threshold_hours if self.overtime_rule == "daily" else None), self.overtime_threshold_hours

    def rate(self, item: str, discipline: str) -> Decimal | None:
        """The rate for the discipline, else for the same license under another state's title."""
        for title in (discipline, *disciplines_for(discipline)):
            amount = next((r.amount for r in self.rates if r.item == item and r.discipline == title), None)
            if amount is not None:
                return amount
        return None


class Rate(db.Model):
    __tablename__ = "rates"
    __table_args__ = (
        sa.UniqueConstraint("rate_card_id", "item", "discipline"),
        one_of("item", RATE_ITEMS),
        one_of("discipline", DISCIPLINES),
        sa.CheckConstraint("amount >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rate_card_id: Mapped[int] = mapped_column(sa.ForeignKey("rate_cards.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(sa.String(40))
    discipline: Mapped[str] = mapped_column(sa.String(20))
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))

    rate_card: Mapped[RateCard] = relationship(back_populates="rates")
