"""The daily credential scan: reminders before each expiry, once per threshold per item."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app

from agency.core.dates import human_day, today
from agency.core.jobs import job
from agency.core.outbox import queue_emails, send_outbox
from agency.core.persistence import insert_new, write_transaction
from agency.credentials import requests
from agency.credentials.models import CredentialReminder
from agency.credentials.rules import CAQHReminders
from agency.credentials.worklist import WorkItem, deadline_rows, work_items
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
    agency = current_app.config["AGENCY_NAME"]
    subject = f"{item.title} for {therapist.full_name} due in {days_left} days ({human_day(item.due_on)})"
    body = (
        f"{item.kind_label}: {item.title}\n"
        f"Therapist: {therapist.full_name} ({therapist.discipline})\n"
        f"Details: {item.detail}\n"
        f"Due: {human_day(item.due_on)} ({days_left} days from today)\n\n"
        f"Please renew or update it before it lapses and let the credentialing team at {agency} know; "
        "an expired credential keeps the therapist from working."
    )
    return subject, body


def _due_reminders(day: date, thresholds: list[int]) -> tuple[list, int]:
    """The deadlines in reminder range whose threshold has no reminder yet, in key order; and how many had one.

    A CAQH attestation is reminded on the days of its home state's CAQH rule (CAQH's own 15, 10, 5),
    every other deadline on the thresholds. Three queries whatever the size: the CAQH rules, the
    deadline rows (plain columns, no objects) and the keys already sent.
    """
    caqh = CAQHReminders()
    rows = deadline_rows(day, day + timedelta(days=max(*thresholds, caqh.widest)))
    in_range = db.session.execute(
        sa.select(rows.c.kind, rows.c.subject, rows.c.item_id, rows.c.due_on, rows.c.therapist_id, rows.c.state)
        .where(rows.c.due_on >= day)
        .order_by(rows.c.subject, rows.c.item_id, rows.c.due_on)
    ).all()
    sent_before = set(db.session.execute(
        sa.select(CredentialReminder.item_kind, CredentialReminder.item_id, CredentialReminder.due_on,
                  CredentialReminder.threshold).where(CredentialReminder.due_on >= day)
    ))
    due, skipped = [], 0
    for row in in_range:
        # A CAQH row's state is the therapist's home state, whose rule applies.
        days = caqh.days_for(row.state) if row.subject == "caqh" else thresholds
        threshold = threshold_for((row.due_on - day).days, days)
        if threshold is None:
            continue
        if (row.subject, row.item_id, row.due_on, threshold) in sent_before:
            skipped += 1
        else:
            due.append((row, threshold))
    return due, skipped


def _remind(batch: list, day: date) -> int:
    """Record a batch of reminders and queue their emails in one transaction; how many were new.

    Only reminders this scan inserted get emails: one running at the same moment
    inserts the others, and its ON CONFLICT leaves ours alone (and ours, its).
    """
    items = work_items([row for row, _ in batch])
    write_transaction()
    inserted = {tuple(r) for r in insert_new(CredentialReminder, [
        {"item_kind": row.subject, "item_id": row.item_id, "due_on": row.due_on, "threshold": threshold,
         "sent_on": day, "therapist_id": row.therapist_id} for row, threshold in batch
    ], returning=(CredentialReminder.item_kind, CredentialReminder.item_id, CredentialReminder.due_on,
                  CredentialReminder.threshold))}
    staff = current_app.config["CREDENTIALING_EMAIL"]
    new = [(item, threshold) for item, (_, threshold) in zip(items, batch, strict=True)
           if (item.subject, item.item_id, item.due_on, threshold) in inserted]
    # A document's reminder asks the therapist for the renewal by private upload link (requests.py).
    links = requests.links_for_reminders([(i.therapist, i.doc_type) for i, _ in new if i.subject == "document"], day)
    messages = []
    for item, threshold in new:
        subject, body = _message(item, item.days_left(day))
        dedupe = f"reminder:{item.subject}:{item.item_id}:{item.due_on}:{threshold}"
        messages.append({"to_addr": staff, "subject": subject, "body": body, "dedupe_key": f"{dedupe}:staff"})
        link = links.get((item.therapist.id, item.doc_type))
        messages.append({"to_addr": item.therapist.email, "subject": subject,
                         "body": f"{body}\n\n{link}" if link else body, "dedupe_key": f"{dedupe}:therapist"})
    queue_emails(messages)
    db.session.commit()
    return len(inserted)


@job
def daily_credential_scan(as_of: str | None = None) -> dict:
    """Queue reminder emails for every deadline crossing a threshold, then send the outbox.

    Set-based: the deadlines and the reminders already sent are read once, and
    reminders are written CREDENTIAL_SCAN_BATCH_SIZE at a time, each batch with
    its emails in one commit, so a crash loses at most the batch in flight and
    a rerun finishes it.
    """
    day = date.fromisoformat(as_of) if as_of else today()
    thresholds = sorted(int(t) for t in current_app.config["REMINDER_THRESHOLDS"])
    due, skipped = _due_reminders(day, thresholds)
    db.session.rollback()  # end the reads, so that each batch's write transaction begins afresh
    size = int(current_app.config["CREDENTIAL_SCAN_BATCH_SIZE"])
    sent = 0
    for start in range(0, len(due), size):
        batch = due[start:start + size]
        new = _remind(batch, day)
        sent += new
        skipped += len(batch) - new
    chased = requests.chase(day)
    send_outbox()
    return ScanResult(day.isoformat(), sent, skipped).as_dict() | chased
