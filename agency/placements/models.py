"""Open assignments, placements, their onboarding checklists and 30/60-day check-ins."""

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agency.core.constraints import one_of
from agency.core.dates import utcnow
from agency.credentials.models import DISCIPLINES, Therapist
from agency.extensions import db
from agency.facilities.models import Facility

ASSIGNMENT_STATUSES = ("open", "filled", "cancelled")
PLACEMENT_STATUSES = ("proposed", "onboarding", "active", "completed", "cancelled")
BILLING_BASES = ("hourly", "per_diem", "weekly")
CHECKLIST_OWNERS = ("recruiter", "credentialing", "therapist", "facility")
CHECKIN_DAYS = (30, 60)

# The pipeline: which status may follow which.
TRANSITIONS = {
    "proposed": ("onboarding", "cancelled"),
    "onboarding": ("active", "cancelled", "proposed"),
    "active": ("completed", "cancelled"),
    "completed": (),
    "cancelled": (),
}

# An open onboarding item threatens the start once it is overdue or the start is this close.
AT_RISK_DAYS = 7

# A check-in may be held from a week before its day: a call on day 24 is the 30-day check-in,
# one on day 10 is not (and the recruiter worklist shows it from then on).
CHECKIN_OPENS_DAYS = 7

# A placement of at least this many hours a week is full-time: a therapist holds one at a time.
FULL_TIME_HOURS = 30


class Assignment(db.Model):
    """An open assignment (job order) a facility asked the agency to fill."""

    __tablename__ = "assignments"
    __table_args__ = (
        one_of("discipline", DISCIPLINES),
        one_of("status", ASSIGNMENT_STATUSES),
        sa.CheckConstraint("length_weeks BETWEEN 1 AND 260", name="length_weeks"),
        sa.CheckConstraint("hours_per_week > 0 AND hours_per_week <= 80", name="hours_per_week"),
        sa.Index("ix_assignments_status_start", "status", "start_on"),
    )
    __audit_type__ = "assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    discipline: Mapped[str] = mapped_column(sa.String(20))
    service_states: Mapped[list] = mapped_column(sa.JSON)
    start_on: Mapped[date]
    length_weeks: Mapped[int]
    hours_per_week: Mapped[int]
    telehealth: Mapped[bool] = mapped_column(default=False)
    billing_basis: Mapped[str] = mapped_column(sa.String(20), default="hourly")
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    facility: Mapped[Facility] = relationship()
    alerts: Mapped[list["AssignmentAlert"]] = relationship(
        back_populates="assignment", cascade="all, delete-orphan", order_by="AssignmentAlert.sent_at"
    )

    @property
    def end_on(self) -> date:
        return self.start_on + timedelta(weeks=self.length_weeks, days=-1)


class AssignmentAlert(db.Model):
    """Who was told about an open assignment, once each."""

    __tablename__ = "assignment_alerts"
    __table_args__ = (sa.UniqueConstraint("assignment_id", "therapist_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("assignments.id", ondelete="CASCADE"))
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    assignment: Mapped[Assignment] = relationship(back_populates="alerts")
    therapist: Mapped[Therapist] = relationship()


class Placement(db.Model):
    __tablename__ = "placements"
    __table_args__ = (
        one_of("status", PLACEMENT_STATUSES),
        one_of("billing_basis", BILLING_BASES),
        sa.CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates"),
        sa.CheckConstraint("hours_per_week IS NULL OR hours_per_week BETWEEN 1 AND 80", name="hours"),
        sa.Index("ix_placements_therapist_dates", "therapist_id", "start_on", "end_on"),
        sa.Index("ix_placements_status", "status"),
    )
    __audit_type__ = "placement"

    # The statuses that answer the same question everywhere, in queries and templates alike.
    LIVE = ("proposed", "onboarding", "active")  # not ended: it holds the therapist's time
    BEFORE_START = ("proposed", "onboarding")  # details may still change, onboarding items are due
    COMMITTED = ("onboarding", "active")  # agreed with the facility: it fills the assignment
    STARTED = ("active", "completed")  # the work began: its time is billed and its check-ins recorded
    # The agency's own notes: never shown to the facility (core/permissions.py withheld).
    __restricted__ = {"notes": "placements.notes"}

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id", ondelete="RESTRICT"))
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="RESTRICT"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("assignments.id", ondelete="SET NULL"), index=True
    )
    start_on: Mapped[date]
    end_on: Mapped[date | None]
    service_states: Mapped[list] = mapped_column(sa.JSON)
    billing_basis: Mapped[str] = mapped_column(sa.String(20), default="hourly")
    hours_per_week: Mapped[int | None]
    telehealth: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(20), default="proposed")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    # The recruiter who owns the placement: "my placements" on their dashboard.
    recruiter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    therapist: Mapped[Therapist] = relationship()
    facility: Mapped[Facility] = relationship()
    assignment: Mapped[Assignment | None] = relationship()
    recruiter = relationship("User")
    checklist: Mapped[list["ChecklistItem"]] = relationship(
        back_populates="placement", cascade="all, delete-orphan",
        order_by="(ChecklistItem.due_on, ChecklistItem.position)",
    )
    checkins: Mapped[list["CheckIn"]] = relationship(
        back_populates="placement", cascade="all, delete-orphan", order_by="CheckIn.day"
    )
    events: Mapped[list["PlacementEvent"]] = relationship(
        back_populates="placement", cascade="all, delete-orphan", order_by="PlacementEvent.id"
    )

    @hybrid_property
    def is_full_time(self) -> bool:
        # Hours not agreed yet count as full-time: the agency cannot promise the therapist's
        # other weeks to anyone until it knows.
        return self.hours_per_week is None or self.hours_per_week >= FULL_TIME_HOURS

    @is_full_time.inplace.expression
    @classmethod
    def _is_full_time_expression(cls):
        return sa.or_(cls.hours_per_week.is_(None), cls.hours_per_week >= FULL_TIME_HOURS)

    @property
    def allowed_next(self) -> tuple[str, ...]:
        return TRANSITIONS[self.status]


class PlacementEvent(db.Model):
    """One step of a placement's story: a status change, with who, when and why."""

    __tablename__ = "placement_events"
    # Why it moved (an admin's override of readiness, a cancellation) is the agency's to know.
    __restricted__ = {"reason": "placements.status_reasons"}

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(sa.String(500))

    placement: Mapped[Placement] = relationship(back_populates="events")
    by = relationship("User")


class ChecklistItem(db.Model):
    __tablename__ = "checklist_items"
    __table_args__ = (
        one_of("owner", CHECKLIST_OWNERS),
        sa.UniqueConstraint("placement_id", "key"),
        sa.CheckConstraint("(done AND done_at IS NOT NULL) OR (NOT done AND done_at IS NULL)",
                           name="done_at"),
        sa.Index("ix_checklist_items_open_due", "done", "due_on"),
    )
    __audit_type__ = "checklist_item"
    __restricted__ = {"done_by": "checklist.done_by"}

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    owner: Mapped[str] = mapped_column(sa.String(20))
    position: Mapped[int] = mapped_column(default=0)
    due_on: Mapped[date]
    done: Mapped[bool] = mapped_column(default=False)
    done_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    placement: Mapped[Placement] = relationship(back_populates="checklist")
    done_by = relationship("User")

    def threatens_start(self, as_of: date) -> bool:
        """Whether this open item can still make the start late: it is overdue, or the start is
        AT_RISK_DAYS or less away, while the placement is proposed or onboarding and has not started.

        Done items, items due after the start, and every item once the placement is active, finished
        or past its start date threaten nothing: the start they were for has happened or gone.
        """
        placement = self.placement
        if self.done or placement.status not in ("proposed", "onboarding") or placement.start_on < as_of:
            return False
        if self.due_on > placement.start_on:
            return False
        return self.due_on < as_of or placement.start_on <= as_of + timedelta(days=AT_RISK_DAYS)


class CheckIn(db.Model):
    __tablename__ = "checkins"
    __table_args__ = (
        sa.UniqueConstraint("placement_id", "day"),
        sa.CheckConstraint("day IN (30, 60)", name="day"),
        sa.CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        sa.Index("ix_checkins_open_due", "completed_on", "due_on"),
    )
    __audit_type__ = "checkin"
    # What the therapist told the agency about the placement stays with the agency.
    __restricted__ = {"satisfaction": "checkins.details", "notes": "checkins.details",
                      "concern": "checkins.details"}

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id", ondelete="CASCADE"))
    day: Mapped[int]
    due_on: Mapped[date]
    completed_on: Mapped[date | None]
    satisfaction: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    concern: Mapped[bool] = mapped_column(default=False)
    escalated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    placement: Mapped[Placement] = relationship(back_populates="checkins")

    @property
    def opens_on(self) -> date:
        """The first day it may be recorded as held: CHECKIN_OPENS_DAYS before it is due, never before the start."""
        return max(self.due_on - timedelta(days=CHECKIN_OPENS_DAYS), self.placement.start_on)
