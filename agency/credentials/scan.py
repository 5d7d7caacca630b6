"""The daily credential scan: reminders before each expiry, once per threshold per item."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from agency.core.dates import today
from agency.core.jobs import job
from agency.core.outbox import queue_email
from agency.credentials.models import CredentialReminder
from agency.credentials.worklist import WorkItem, deadlines
from agency.extensions import db


@dataclass
class ScanResult:
    as_of: str
    reminders: int
    skipped_already_sent: int

    def as_dict(self) -> dict:
        return {"as_of": self.as_of, "reminders": self.reminders,
                "skipped_already_sent": self.skipped_already_sent}


def threshold_for(days_left: int, thresholds: list[int]) -> int | None:
    """The tightest threshold reached: 25 days left with 90/60/30/7 is the 30-day reminder.

    A scan that missed days sends only the reminder now due, never the wider
    ones it skipped, so nobody gets three emails on one morning.
    """
    reached = [t for t in thresholds if 0 <= days_left <= t]
    return min(reached) if reached else None


def _message(item: WorkItem, days_left: int) -> tuple[str, str]:
    therapist = item.therapist
    subject = f"{item.title} for {therapist.full_name} due in {days_left} days ({item.due_on:%b %d, %Y})"
    body = (
        f"{item.kind_label}: {item.title}\n"
        f"Therapist: {therapist.full_name} ({therapist.discipline})\n"
        f"Details: {item.detail}\n"
        f"Due: {item.due_on.isoformat()} ({days_left} days from today)\n\n"
        "Please renew or update it in the agency's credentialing worklist before it lapses; "
        "an expired credential keeps the therapist from working."
    )
    return subject, body


@job
def daily_credential_scan(as_of: str | None = None) -> dict:
    """Queue reminder emails for every deadline crossing a threshold, then send the outbox.

    Each reminder commits on its own with its guard row; a second scan running
    at the same time trips the unique constraint and skips that item.
    """
    from datetime import date

    from agency.core.outbox import send_outbox

    day = date.fromisoformat(as_of) if as_of else today()
    thresholds = sorted(int(t) for t in current_app.config["REMINDER_THRESHOLDS"])
    items = deadlines(day, max(thresholds))
    sent_before = {
        (r.item_kind, r.item_id, r.due_on, r.threshold)
        for r in db.session.scalars(
            sa.select(CredentialReminder).where(CredentialReminder.due_on >= day)
        )
    }
    staff = current_app.config["CREDENTIALING_EMAIL"]
    sent = skipped = 0
    for item in items:
        days_left = item.days_left(day)
        threshold = threshold_for(days_left, thresholds)
        if threshold is None:
            continue
        key = (item.subject, item.item_id, item.due_on, threshold)
        if key in sent_before:
            skipped += 1
            continue
        subject, body = _message(item, days_left)
        db.session.add(CredentialReminder(
            item_kind=item.subject, item_id=item.item_id, due_on=item.due_on,
            threshold=threshold, sent_on=day, therapist_id=item.therapist.id,
        ))
        dedupe = f"reminder:{item.subject}:{item.item_id}:{item.due_on}:{threshold}"
        queue_email(staff, subject, body, dedupe_key=f"{dedupe}:staff")
        queue_email(item.therapist.email, subject, body, dedupe_key=f"{dedupe}:therapist")
        try:
            db.session.commit()
            sent += 1
        except IntegrityError:
            db.session.rollback()
            skipped += 1
    send_outbox()
    return ScanResult(day.isoformat(), sent, skipped).as_dict()
