"""The email outbox: messages are written in the business transaction and sent later.

A message with a dedupe key is queued at most once, whatever runs twice; a
failed send is retried by the next run until MAIL_MAX_ATTEMPTS. A sender
claims a message in its own committed transaction before talking to the mail
server, so a message goes out at most once: if the sender dies mid-send
nobody knows whether the server took it, and the message waits, unconfirmed,
for a person to check and release it rather than risk a second copy.
"""

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, deferred, mapped_column

from agency.core import audit
from agency.core.dates import as_utc, utcnow
from agency.core.errors import Conflict, ServiceUnavailable
from agency.core.jobs import enqueue, job
from agency.extensions import db


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_pending", "sent_at", "attempts"),)
    __audit_type__ = "email"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Set when a sender takes the message, cleared when the mail server refuses it.
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    attachment_name: Mapped[str | None] = mapped_column(sa.String(255))
    attachment_type: Mapped[str | None] = mapped_column(sa.String(100))
    attachment: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary))

    @property
    def status(self) -> str:
        if self.sent_at:
            return "sent"
        if self.claimed_at:
            return "unconfirmed" if as_utc(self.claimed_at) < utcnow() - SEND_TIMEOUT else "sending"
        if self.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            return "failed"
        return "pending" if not self.attempts else "retrying"


# A send takes at most the SMTP timeout per step; a claim older than this lost its sender.
SEND_TIMEOUT = timedelta(minutes=5)


def queue_email(to_addr: str, subject: str, body: str, dedupe_key: str | None = None, *,
                attachment: tuple[str, str, bytes] | None = None) -> bool:
    """Add a message to the outbox in the caller's transaction; False if already queued.

    attachment is (file name, content type, bytes).
    """
    if dedupe_key is not None:
        exists = db.session.scalar(
            sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if exists:
            return False
    message = OutboxMessage(to_addr=to_addr, subject=subject, body=body, dedupe_key=dedupe_key)
    if attachment is not None:
        message.attachment_name, message.attachment_type, message.attachment = attachment
    db.session.add(message)
    return True


def withdraw_unsent(dedupe_prefix: str) -> list[str]:
    """Take back queued messages no sender has touched yet, in the caller's transaction; their keys."""
    rows = db.session.execute(
        sa.delete(OutboxMessage)
        .where(OutboxMessage.dedupe_key.startswith(dedupe_prefix, autoescape=True),
               OutboxMessage.sent_at.is_(None), OutboxMessage.claimed_at.is_(None))
        .returning(OutboxMessage.dedupe_key)
    ).scalars().all()
    return list(rows)


def _smtp():
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=30)
    if config["MAIL_USE_TLS"]:
        smtp.starttls()
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


def _claim(message_id: int) -> bool:
    """Take a message for sending, committed before the mail server hears of it; False if taken."""
    claimed = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None),
               OutboxMessage.claimed_at.is_(None))
        .values(claimed_at=utcnow(), attempts=OutboxMessage.attempts + 1)
    ).rowcount == 1
    db.session.commit()
    return claimed


def _email(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    email.set_content(message.body)
    if message.attachment is not None:
        maintype, _, subtype = message.attachment_type.partition("/")
        email.add_attachment(message.attachment, maintype=maintype, subtype=subtype,
                             filename=message.attachment_name)
    return email


@job
def send_outbox(batch_size: int = 200) -> int:
    """Send pending messages one at a time, each claimed first so no two senders mail the same one."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return 0
    sent = 0
    last_id = 0
    smtp = None
    try:
        while sent < batch_size:
            message_id = db.session.scalar(
                sa.select(OutboxMessage.id)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.claimed_at.is_(None),
                    OutboxMessage.attempts < config["MAIL_MAX_ATTEMPTS"],
                    OutboxMessage.id > last_id,
                )
                .order_by(OutboxMessage.id)
                .limit(1)
            )
            if message_id is None:
                break
            last_id = message_id
            if not _claim(message_id):
                continue
            message = db.session.get(OutboxMessage, message_id)
            try:
                smtp = smtp or _smtp()
                smtp.send_message(_email(message))
            except (OSError, smtplib.SMTPException) as exc:
                # Refused or unreachable: the server did not take it, so it is safe to try again later.
                message.claimed_at = None
                message.last_error = str(exc)[:500]
                smtp = None
                db.session.commit()
                continue
            message.sent_at = utcnow()
            message.last_error = None
            db.session.commit()
            sent += 1
    finally:
        db.session.rollback()
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return sent


def send_soon() -> bool:
    """Ask for the outbox to be sent now; False when Redis is down and the messages wait for the next send.

    The messages are already committed, so nothing is lost either way.
    """
    try:
        enqueue(send_outbox)
    except ServiceUnavailable:
        return False
    return True


def release_unconfirmed(message: OutboxMessage, actor=None) -> OutboxMessage:
    """Let the next run send a message whose sender died mid-send, once someone has checked it did not arrive."""
    if message.status != "unconfirmed":
        raise Conflict(f"the message is {message.status}; only an unconfirmed message is released")
    message.claimed_at = None
    message.last_error = "released for another send after the sender stopped mid-send"
    audit.record("update", message, f"email to {message.to_addr} released for another send", actor=actor)
    db.session.commit()
    return message
