"""Private iCalendar feeds: the deadlines each user cares about, for any calendar client."""

import secrets
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from agency.auth.models import User
from agency.billing.models import OPEN_INVOICE_STATUSES, Invoice
from agency.core import audit
from agency.core.dates import utcnow
from agency.core.money import format_money
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


def note_fetch(user: User, address: str | None) -> None:
    """Audit a fetch of the user's feed unless one from the same address was audited in the last day; commit.

    Calendar apps poll a feed every few minutes to hours: an event per fetch would bury the log under
    thousands a day that say nothing new. Once a day per address still shows that the link is in use,
    and a link that leaked shows up as fetches from an address that is not the user's. (The day is
    the clock's last 24 hours, as events are stamped: not the agency's "today", which tests and the
    demo may pin.)
    """
    summary = f"calendar feed of {user.email} fetched from {address or 'an unknown address'}"
    seen = sa.select(audit.AuditEvent.id).where(
        audit.AuditEvent.action == "download", audit.AuditEvent.object_type == user.__audit_type__,
        audit.AuditEvent.object_id == user.id, audit.AuditEvent.occurred_at >= utcnow() - timedelta(days=1),
        audit.AuditEvent.summary == summary[:500])
    if db.session.scalar(seen.limit(1)) is None:
        audit.record("download", user, summary, actor=user)
        db.session.commit()


def _text(value: str) -> str:
    """An iCalendar TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newline escaped."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """A content line folded under 75 octets (RFC 5545 3.1), never splitting an escape from its character."""
    if len(line) < 75 and line.isascii():
        return line
    parts, current, size = [], [], 0
    for char in line:
        width = len(char.encode())
        if current and size + width >= 75:
            carried = [current.pop()] if len(current) > 1 and current[-1] == "\\" else []
            parts.append("".join(current))
            current, size = carried, sum(len(c.encode()) for c in carried)
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _event(uid: str, day: date, summary: str, description: str = "") -> list[str]:
    # Written out directly rather than through icalendar's objects: a full feed is hundreds of events
    # and building each as a component costs far more than the request's queries.
    lines = [
        "BEGIN:VEVENT",
        f"SUMMARY:{_text(summary)}",
        f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
        f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
        f"DTSTAMP:{utcnow():%Y%m%dT%H%M%SZ}",
        f"UID:{_text(uid)}@agency",
    ]
    if description:
        lines.append(f"DESCRIPTION:{_text(description)}")
    return [*lines, "TRANSP:TRANSPARENT", "END:VEVENT"]


def feed(user: User, as_of: date) -> bytes:
    """The user's deadlines as an all-day-event calendar, by what their role may see."""
    cal = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Agency placement and licensure tracker//EN",
           f"X-WR-CALNAME:{_text(f'Agency deadlines ({user.role})')}"]
    # A recruiter follows their own placements; admins see everything, credentialing staff their part.
    own_placements = Placement.recruiter_id == user.id if user.role == "recruiter" else sa.true()
    # A calendar is for what comes next: each kind of event is the soonest CALENDAR_FEED_EVENTS of them,
    # so the feed stays one size however large the agency; the worklist and the lists hold the rest.
    limit = int(current_app.config["CALENDAR_FEED_EVENTS"])
    if user.role in ("admin", "credentialing", "recruiter"):
        placed = None
        if user.role == "recruiter":
            placed = sa.select(Placement.therapist_id).where(
                own_placements, Placement.status.in_(Placement.LIVE))
        for item in deadlines(as_of, HORIZON_DAYS, therapist_ids=placed, limit=limit):
            cal.extend(_event(f"{item.kind}-{item.item_id}-{item.due_on.isoformat()}", item.due_on,
                                     f"{item.kind_label}: {item.therapist.full_name}, {item.title}",
                                     item.detail))
    if can(user, "checklist.edit"):
        query = (
            sa.select(ChecklistItem).join(ChecklistItem.placement)
            .where(ChecklistItem.done.is_(False), Placement.status.in_(Placement.BEFORE_START), own_placements)
            .options(joinedload(ChecklistItem.placement).joinedload(Placement.therapist))
            .order_by(ChecklistItem.due_on, ChecklistItem.id).limit(limit)
        )
        if user.role == "credentialing":
            query = query.where(ChecklistItem.owner == "credentialing")
        for item in db.session.scalars(query):
            cal.extend(_event(f"onboarding-{item.id}", item.due_on,
                                     f"Onboarding: {item.title} ({item.placement.therapist.full_name})"))
    if can(user, "checkins.edit"):
        checkins = db.session.scalars(
            sa.select(CheckIn).join(CheckIn.placement)
            .where(CheckIn.completed_on.is_(None), Placement.status.in_(Placement.COMMITTED), own_placements)
            .options(joinedload(CheckIn.placement).joinedload(Placement.therapist),
                     joinedload(CheckIn.placement).joinedload(Placement.facility))
            .order_by(CheckIn.due_on, CheckIn.id).limit(limit)
        )
        for checkin in checkins:
            p = checkin.placement
            cal.extend(_event(f"checkin-{checkin.id}", checkin.due_on,
                                     f"{checkin.day}-day check-in: {p.therapist.full_name} at {p.facility.name}"))
    if can(user, "invoices.view"):
        query = sa.select(Invoice).where(Invoice.status.in_(OPEN_INVOICE_STATUSES)).options(
            joinedload(Invoice.facility))
        if (own := facility_scope(user)) is not None:
            query = query.where(Invoice.facility_id == own)
        for invoice in db.session.scalars(query.order_by(Invoice.due_on, Invoice.id).limit(limit)):
            due = f"Invoice {invoice.number} due: {format_money(invoice.balance)} ({invoice.facility.name})"
            cal.extend(_event(f"invoice-{invoice.id}", invoice.due_on, due))
    cal.append("END:VCALENDAR")
    return "".join(f"{_fold(line)}\r\n" for line in cal).encode()


