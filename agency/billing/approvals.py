"""Hours waiting for a facility's approval: since when, and the daily chase of those past the window.

A facility approves submitted hours within its approval window (business days, federal holidays not
counted; default 3). Past it the approving contact is reminded, a business day later the alternate
approver, a business day later the placement's recruiter (APPROVAL_CHASE_STEPS), each step once per
submission. Held entries wait for the agency, not the facility: only submitted ones are waiting.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from agency.billing import queries
from agency.billing.models import CHASE_STEPS, ApprovalChase, TimesheetEntry
from agency.core.dates import business_days_between, human_day, local_day, start_of
from agency.core.outbox import queue_email
from agency.core.persistence import insert_new
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Placement


def send_for_approval(entry: TimesheetEntry) -> None:
    """The hours go (back) to the facility: the window counts from now and the chase starts over."""
    entry.submit()
    if entry.id is not None:
        db.session.execute(sa.delete(ApprovalChase).where(ApprovalChase.entry_id == entry.id))


def business_days_waiting(entry: TimesheetEntry, as_of: date) -> int:
    return business_days_between(local_day(entry.submitted_at), as_of)


def waiting_phrase(entry: TimesheetEntry, as_of: date) -> str:
    """How the portal says it: "waiting 4 business days, since Nov 24"."""
    days = business_days_waiting(entry, as_of)
    since = local_day(entry.submitted_at)
    return f"waiting {days} business day{'' if days == 1 else 's'}, since {since:%b} {since.day}"


def chase_offsets() -> dict[str, int]:
    """Business days after the window closes at which each step is sent (APPROVAL_CHASE_STEPS)."""
    configured = current_app.config["APPROVAL_CHASE_STEPS"]
    return {step: int(configured[step]) for step in CHASE_STEPS if step in configured}


def due_steps(entry: TimesheetEntry, as_of: date) -> list[str]:
    """The chase steps an entry has reached on a day, in order."""
    waited = business_days_waiting(entry, as_of)
    window = entry.placement.facility.approval_window_days
    return [step for step, after in chase_offsets().items() if waited >= window + after]


def waiting_query(actor, facility_id: int | None = None):
    """Entries waiting for a facility's approval, oldest submission first; a contact sees only their own."""
    return queries.entries_query(actor, status="submitted", facility_id=facility_id).order_by(
        TimesheetEntry.submitted_at, TimesheetEntry.id)


def chased_steps(entry_ids) -> dict[int, list[str]]:
    """The chase steps sent for each of these entries, in one query."""
    sent = defaultdict(list)
    if entry_ids:
        for entry_id, step in db.session.execute(
                sa.select(ApprovalChase.entry_id, ApprovalChase.step)
                .where(ApprovalChase.entry_id.in_(sorted(set(entry_ids))))):
            sent[entry_id].append(step)
    order = {step: n for n, step in enumerate(CHASE_STEPS)}
    return {entry_id: sorted(steps, key=order.__getitem__) for entry_id, steps in sent.items()}


def waiting_rows(entries: list[TimesheetEntry], as_of: date) -> list[dict]:
    """What the waiting list says of each entry beyond its own fields, for a page of them."""
    sent = chased_steps([entry.id for entry in entries])
    return [{"business_days_waiting": business_days_waiting(entry, as_of), "chased": sent.get(entry.id, [])}
            for entry in entries]


# ----------------------------------------------------------------------------- the daily chase


@dataclass
class Recipient:
    """One person chased in a run, with every entry the run chases them for: (entry id, step, the email's line),
    worked out before the first commit so no commit reloads an entry."""

    email: str
    name: str
    is_contact: bool
    items: list[tuple[int, str, str]] = field(default_factory=list)


def _recipient(entry: TimesheetEntry, step: str) -> tuple[str, str, bool] | None:
    """(email, name, is a facility contact) of who a step goes to; None when nobody holds that part."""
    if step == "recruiter":
        recruiter = entry.placement.recruiter
        return (recruiter.email, recruiter.display_name, False) if recruiter is not None else None
    contact = entry.placement.facility.approver("primary" if step == "approver" else "alternate")
    return (contact.email, contact.name, True) if contact is not None else None


def _candidates(as_of: date) -> list[TimesheetEntry]:
    # A window is at least one business day, so hours submitted today are never due.
    return db.session.scalars(
        sa.select(TimesheetEntry).join(TimesheetEntry.placement)
        .where(TimesheetEntry.status == "submitted", TimesheetEntry.submitted_at < start_of(as_of))
        .options(joinedload(TimesheetEntry.placement).joinedload(Placement.therapist),
                 joinedload(TimesheetEntry.placement).joinedload(Placement.recruiter),
                 joinedload(TimesheetEntry.placement).joinedload(Placement.facility)
                 .selectinload(Facility.contacts))
        .order_by(TimesheetEntry.submitted_at, TimesheetEntry.id)
    ).unique().all()


def recipients_due(as_of: date) -> list[Recipient]:
    """Who is to be chased on a day and for which entries: each step reached and not sent yet, grouped by
    person (an approver of two facilities, or the recruiter of two placements, gets one email)."""
    entries = _candidates(as_of)
    sent = chased_steps([entry.id for entry in entries])
    people: dict[str, Recipient] = {}
    for entry in entries:
        for step in due_steps(entry, as_of):
            if step in sent.get(entry.id, ()):
                continue
            who = _recipient(entry, step)
            if who is None:
                continue  # no alternate marked (or no recruiter): the next step follows on its own day
            email, name, is_contact = who
            person = people.setdefault(email.lower(), Recipient(email, name, is_contact))
            person.items.append((entry.id, step, _line(entry, as_of)))
    return list(people.values())


def _link(is_contact: bool) -> str:
    """The portal's approvals for a contact, the submitted timesheets for staff: PUBLIC_URL, never a Host."""
    urls = current_app.url_map.bind("localhost")
    path = (urls.build("billing.portal") + "#approvals" if is_contact
            else urls.build("billing.timesheets_list", {"status": "submitted"}))
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def _line(entry: TimesheetEntry, as_of: date) -> str:
    placement = entry.placement
    return (f"- {placement.therapist.full_name} at {placement.facility.name}, {human_day(entry.work_date)}: "
            f"{entry.total_hours} h, {waiting_phrase(entry, as_of)}")


def _email(person: Recipient, lines: list[str]) -> tuple[str, str]:
    count = len(lines)
    subject = f"{count} timesheet entr{'y' if count == 1 else 'ies'} waiting for approval"
    ask = ("Please approve or reject them in the portal:" if person.is_contact
           else "The facility has not approved them in its window; please follow up:")
    body = (f"Dear {person.name},\n\nThese hours were submitted for approval and are still waiting:\n\n"
            + "\n".join(lines) + f"\n\n{ask}\n{_link(person.is_contact)}")
    return subject, body


def _chase(person: Recipient, as_of: date) -> list[dict]:
    """Record and queue one person's reminder in one commit; what this run sent them. Entries another run
    recorded first are left to it (the unique step rows), and a person already mailed today is not mailed
    again (the outbox key): their steps wait for tomorrow's run."""
    rows = [{"entry_id": entry_id, "step": step, "sent_on": as_of, "recipient": person.email}
            for entry_id, step, _ in person.items]
    try:
        taken = {tuple(row) for row in insert_new(ApprovalChase, rows,
                                                  returning=(ApprovalChase.entry_id, ApprovalChase.step))}
        items = [item for item in person.items if item[:2] in taken]
        queued = bool(items) and queue_email(
            person.email, *_email(person, [line for _, _, line in items]),
            dedupe_key=f"approval-chase:{person.email.lower()}:{as_of.isoformat()}")
        if queued:
            db.session.commit()
    except IntegrityError:
        queued = False
    if not queued:
        db.session.rollback()
        return []
    return [{"entry_id": entry_id, "step": step, "to": person.email} for entry_id, step, _ in items]


def run_chase(as_of: date) -> dict:
    """Send the approval reminders due on a day, each step of each entry once; returns what was sent."""
    sent = []
    for person in recipients_due(as_of):
        sent += _chase(person, as_of)
    return {"as_of": as_of.isoformat(), "sent": sent}
