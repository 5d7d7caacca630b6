"""Private iCalendar feeds: the deadlines each user cares about, for any calendar client."""

import secrets
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from icalendar import Calendar, Event
from sqlalchemy.orm import joinedload

from agency.auth.models import User
from agency.billing.models import OPEN_INVOICE_STATUSES, Invoice
from agency.core import audit
from agency.core.dates import utcnow
from agency.core.permissions import can, facility_scope
from agency.credentials.worklist import deadlines
from agency.extensions import db
from agency.placements.models import CheckIn, ChecklistItem, Placement

# The feed looks a year ahead; nearer and overdue items matter most.
HORIZON_DAYS = 365


def rotate_token(user: User) -> str:
    """Give the user a new private feed URL; the old one stops working."""
    user.calendar_token = secrets.token_urlsafe(32)
    audit.record("update", user, f"calendar feed link renewed for {user.email}", actor=user)
    db.session.commit()
    return user.calendar_token


def user_for_calendar(token: str) -> User | None:
    if not token:
        return None
    user = db.session.scalar(sa.select(User).where(User.calendar_token == token))
    return user if user is not None and user.active else None


def _event(uid: str, day: date, summary: str, description: str = "") -> Event:
    event = Event()
    event.add("uid", f"{uid}@agency")
    event.add("dtstamp", utcnow())
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    event.add("transp", "TRANSPARENT")
    return event


def feed(user: User, as_of: date) -> bytes:
    """The user's deadlines as an all-day-event calendar, by what their role may see."""
    cal = Calendar()
    cal.add("prodid", "-//Agency placement and licensure tracker//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Agency deadlines ({user.role})")
    # A recruiter follows their own placements; admins see everything, credentialing staff their part.
    own_placements = Placement.recruiter_id == user.id if user.role == "recruiter" else sa.true()
    # A calendar is for what comes next: each kind of event is the soonest CALENDAR_FEED_EVENTS of them,
    # so the feed stays one size however large the agency; the worklist and the lists hold the rest.
    limit = int(current_app.config["CALENDAR_FEED_EVENTS"])
    if user.role in ("admin", "credentialing", "recruiter"):
        placed = None
        if user.role == "recruiter":
            placed = sa.select(Placement.therapist_id).where(
                own_placements, Placement.status.in_(("proposed", "onboarding", "active")))
        for item in deadlines(as_of, HORIZON_DAYS, therapist_ids=placed, limit=limit):
            cal.add_component(_event(f"{item.kind}-{item.item_id}-{item.due_on.isoformat()}", item.due_on,
                                     f"{item.kind_label}: {item.therapist.full_name}, {item.title}",
                                     item.detail))
    if can(user, "checklist.edit"):
        query = (
            sa.select(ChecklistItem).join(ChecklistItem.placement)
            .where(ChecklistItem.done.is_(False), Placement.status.in_(("proposed", "onboarding")), own_placements)
            .options(joinedload(ChecklistItem.placement).joinedload(Placement.therapist))
            .order_by(ChecklistItem.due_on, ChecklistItem.id).limit(limit)
        )
        if user.role == "credentialing":
            query = query.where(ChecklistItem.owner == "credentialing")
        for item in db.session.scalars(query):
            cal.add_component(_event(f"onboarding-{item.id}", item.due_on,
                                     f"Onboarding: {item.title} ({item.placement.therapist.full_name})"))
    if can(user, "checkins.edit"):
        checkins = db.session.scalars(
            sa.select(CheckIn).join(CheckIn.placement)
            .where(CheckIn.completed_on.is_(None), Placement.status.in_(("onboarding", "active")), own_placements)
            .options(joinedload(CheckIn.placement).joinedload(Placement.therapist),
                     joinedload(CheckIn.placement).joinedload(Placement.facility))
            .order_by(CheckIn.due_on, CheckIn.id).limit(limit)
        )
        for checkin in checkins:
            p = checkin.placement
            cal.add_component(_event(f"checkin-{checkin.id}", checkin.due_on,
                                     f"{checkin.day}-day check-in: {p.therapist.full_name} at {p.facility.name}"))
    if can(user, "invoices.view"):
        query = sa.select(Invoice).where(Invoice.status.in_(OPEN_INVOICE_STATUSES)).options(
            joinedload(Invoice.facility))
        if (own := facility_scope(user)) is not None:
            query = query.where(Invoice.facility_id == own)
        for invoice in db.session.scalars(query.order_by(Invoice.due_on, Invoice.id).limit(limit)):
            cal.add_component(_event(f"invoice-{invoice.id}", invoice.due_on,
                                     f"Invoice {invoice.number} due: ${invoice.balance} ({invoice.facility.name})"))
    return cal.to_ical()


