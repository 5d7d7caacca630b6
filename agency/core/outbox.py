"""The email outbox: messages are written in the business transaction and sent later.

A message with a dedupe key is queued at most once, whatever runs twice; a
failed send is retried by the next run until MAIL_MAX_ATTEMPTS.
"""

import smtplib
from datetime import datetime
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, deferred, mapped_column

from agency.core.dates import utcnow
from agency.core.jobs import job
from agency.extensions import db


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_pending", "sent_at", "attempts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    attachment_name: Mapped[str | None] = mapped_column(sa.String(255))
    attachment_type: Mapped[str | None] = mapped_column(sa.String(100))
    attachment: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary))

    @property
    def status(self) -> str:
        if self.sent_at:
            return "sent"
        if self.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            return "failed"
        return "pending" if not self.attempts else "retrying"


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


def _smtp():
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=30)
    if config["MAIL_USE_TLS"]:
        smtp.starttls()
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


@job
def send_outbox(batch_size: int = 200) -> int:
    """Send pending messages one at a time, each claimed under a row lock and committed.

    The row lock (SKIP LOCKED) keeps two senders from mailing the same message.
    """
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return 0
    sent = 0
    last_id = 0
    smtp = None
    try:
        while True:
            message = db.session.scalar(
                sa.select(OutboxMessage)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.attempts < config["MAIL_MAX_ATTEMPTS"],
                    OutboxMessage.id > last_id,
                )
                .order_by(OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if message is None or sent >= batch_size:
                db.session.rollback()
                break
            last_id = message.id
            email = EmailMessage()
            email["From"] = config["MAIL_FROM"]
            email["To"] = message.to_addr
            email["Subject"] = message.subject
            email.set_content(message.body)
            if message.attachment is not None:
                maintype, _, subtype = message.attachment_type.partition("/")
                email.add_attachment(message.attachment, maintype=maintype, subtype=subtype,
                                     filename=message.attachment_name)
            message.attempts += 1
            try:
                smtp = smtp or _smtp()
                smtp.send_message(email)
            except (OSError, smtplib.SMTPException) as exc:
                message.last_error = str(exc)[:500]
                smtp = None
                db.session.commit()
                continue
            message.sent_at = utcnow()
            message.last_error = None
            db.session.commit()
            sent += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return sent
