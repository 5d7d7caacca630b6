"""The email outbox: messages are written in the business transaction and sent later.

A message with a dedupe key is queued at most once, whatever runs twice. A
request that queued mail sends it as it ends (a job on RQ, or inline with no
Redis), and a periodic job (agency/cron.py) sends whatever is still due, so no
message waits for an unrelated job. A send the mail server refuses waits an
increasing time before the next attempt, and after MAIL_MAX_ATTEMPTS (or a
permanent refusal, or a message that cannot be built) the message is failed
with the reason. A sender claims a message in its own committed transaction
before talking to the mail server, so a message goes out at most once: if the
sender dies mid-send nobody knows whether the server took it, and the message
waits, unconfirmed, for a person to check and release it rather than risk a
second copy.
"""

import logging
import smtplib
from datetime import datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, deferred, mapped_column

from agency.core import audit
from agency.core.constraints import one_of
from agency.core.dates import as_utc, utcnow
from agency.core.errors import Conflict, NotFound, ServiceUnavailable
from agency.core.jobs import enqueue, job
from agency.core.permissions import can
from agency.core.persistence import insert_new
from agency.extensions import db

log = logging.getLogger(__name__)

# Whose mail a message is, and so who sees and releases it in the outbox: each kind has its
# permission (core/permissions.py), and an admin holds them all.
MAIL_KINDS = {
    "credential": "outbox.credential_mail",  # license, CE, panel and document reminders, document requests
    "billing": "outbox.billing_mail",  # invoices, dunning, billing email changes
    "placement": "outbox.placement_mail",  # assignment alerts, check-in escalations
    "account": "outbox.account_mail",  # anything else: sign-in and account notices
}
# A message's kind is named by the first part of its dedupe key; migration 0016 filled the messages
# queued before kinds existed by the same rule. Mail of a new kind adds its key here.
KIND_OF_KEY = {"reminder": "credential", "document-request": "credential", "screening-due": "credential",
               "invoice": "billing", "approval-chase": "billing", "statement": "billing",
               "dunning": "billing", "billing-email-changed": "billing", "promise-broken": "billing",
               "assignment-alert": "placement",
               "checkin-concern": "placement"}


def kind_for(dedupe_key: str | None) -> str:
    """The kind of a message by its dedupe key: mail with no known key is an admin's to see."""
    return KIND_OF_KEY.get((dedupe_key or "").split(":", 1)[0], "account")


def visible_kinds(actor) -> list[str]:
    """The kinds of message this person may see and release in the outbox."""
    return [kind for kind, permission in MAIL_KINDS.items() if can(actor, permission)]


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_pending", "sent_at", "attempts"),
                      sa.Index("ix_outbox_messages_kind", "kind", "id"),
                      one_of("kind", tuple(MAIL_KINDS)))
    __audit_type__ = "email"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    to_addr: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Set when a sender takes the message, cleared when the mail server refuses it.
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    # After a refusal, the message is not tried again before this time (empty: due now).
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Set when the outbox gives the message up; last_error says why.
    failed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
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
        if self.failed_at or self.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            return "failed"
        return "pending" if not self.attempts else "retrying"


# A send takes at most the SMTP timeout per step; a claim older than this lost its sender.
SEND_TIMEOUT = timedelta(minutes=5)

# session.info keys: this transaction queued mail; a transaction that queued mail committed.
_QUEUED = "outbox_queued"
_COMMITTED = "outbox_committed"


@sa.event.listens_for(db.session, "after_commit")
def _mail_committed(session) -> None:
    if session.info.pop(_QUEUED, False):
        session.info[_COMMITTED] = True


@sa.event.listens_for(db.session, "after_rollback")
def _mail_rolled_back(session) -> None:
    session.info.pop(_QUEUED, None)


# The desk that answers each kind of mail, named under the signature (config keys); other mail gives the phone.
_DESK = {"credential": "CREDENTIALING_EMAIL", "billing": "BILLING_EMAIL"}


def signature(kind: str) -> str:
    """The agency's signature under every email it sends: its configured name, address, phone and desk."""
    config = current_app.config
    desk = f" · {config[_DESK[kind]]}" if kind in _DESK else ""
    return f"-- \n{config['AGENCY_NAME']}\n{config['AGENCY_ADDRESS']}\n{config['AGENCY_PHONE']}{desk}"


def remittance() -> str:
    """How to pay the agency, for billing mail: the name and address that REMIT_TO's checks go to, then REMIT_TO."""
    config = current_app.config
    return f"Please remit to:\n{config['AGENCY_NAME']}\n{config['AGENCY_ADDRESS']}\n{config['REMIT_TO']}"


def _signed(body: str, kind: str) -> str:
    return f"{body.rstrip()}\n\n{signature(kind)}"


def queue_email(to_addr: str, subject: str, body: str, dedupe_key: str | None = None, *,
                attachment: tuple[str, str, bytes] | None = None) -> bool:
    """Add a message to the outbox in the caller's transaction; False if already queued.

    attachment is (file name, content type, bytes); the dedupe key names its kind (kind_for). The body is
    signed here with the agency's signature, so no email goes out without it.
    Once the transaction commits, the request sends it as it ends.
    """
    if dedupe_key is not None:
        exists = db.session.scalar(
            sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if exists:
            return False
    kind = kind_for(dedupe_key)
    message = OutboxMessage(to_addr=to_addr, subject=subject, body=_signed(body, kind), dedupe_key=dedupe_key,
                            kind=kind)
    if attachment is not None:
        message.attachment_name, message.attachment_type, message.attachment = attachment
    db.session.add(message)
    db.session.info[_QUEUED] = True
    return True


def queue_emails(messages: list[dict]) -> int:
    """Add many messages ({to_addr, subject, body, dedupe_key}) in one statement; how many were new.

    A message whose dedupe key is already queued, by this run or one at the same
    moment, is left out (ON CONFLICT DO NOTHING), as queue_email() would.
    """
    now = utcnow()
    rows = []
    for m in messages:
        kind = kind_for(m.get("dedupe_key"))
        rows.append({**m, "body": _signed(m["body"], kind), "kind": kind, "created_at": now, "attempts": 0})
    inserted = insert_new(OutboxMessage, rows,
                          returning=(OutboxMessage.id,))
    if inserted:
        db.session.info[_QUEUED] = True
    return len(inserted)


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


def _due():
    """The conditions of a message a sender may take now."""
    return (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.claimed_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.attempts < current_app.config["MAIL_MAX_ATTEMPTS"],
        sa.or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= utcnow()),
    )


def _claim(message_id: int) -> bool:
    """Take a message for sending, committed before the mail server hears of it; False if taken."""
    claimed = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, *_due())
        .values(claimed_at=utcnow(), attempts=OutboxMessage.attempts + 1),
        # The commit below expires what the session holds; SQLite's naive times cannot be evaluated here.
        execution_options={"synchronize_session": False},
    ).rowcount == 1
    db.session.commit()
    return claimed


def _email(message: OutboxMessage) -> EmailMessage:
    """The message as it goes out; raises ValueError or MessageError when it cannot be built.

    The default email policy encodes non-ASCII header text and refuses CR or LF
    in a header, so text from a user (a therapist's name in a subject) never
    adds a header of its own.
    """
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = _recipient(message.to_addr)
    email["Subject"] = message.subject
    email.set_content(message.body)
    if message.attachment is not None:
        maintype, _, subtype = message.attachment_type.partition("/")
        email.add_attachment(message.attachment, maintype=maintype, subtype=subtype,
                             filename=message.attachment_name)
    return email


def _recipient(addr: str) -> Address:
    if not addr:
        raise ValueError("no recipient address")
    return Address(addr_spec=addr)


def retry_delay(attempts: int) -> timedelta:
    """How long a message refused on its nth attempt waits: doubling from MAIL_RETRY_BASE_SECONDS, capped."""
    config = current_app.config
    seconds = int(config["MAIL_RETRY_BASE_SECONDS"]) * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, int(config["MAIL_RETRY_MAX_SECONDS"])))


def _permanent(exc: Exception) -> bool:
    """A 5xx answer: the server will never take this message, so trying again only repeats it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _give_up(message: OutboxMessage, reason: str) -> None:
    message.claimed_at = None
    message.failed_at = utcnow()
    message.last_error = reason[:500]
    db.session.commit()


def _refused(message: OutboxMessage, exc: Exception) -> None:
    """The server did not take the message: fail it, or let it wait its backoff before the next attempt."""
    if _permanent(exc) or message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        _give_up(message, f"refused after {message.attempts} attempt(s): {exc}")
        return
    message.claimed_at = None
    message.next_attempt_at = utcnow() + retry_delay(message.attempts)
    message.last_error = str(exc)[:500]
    db.session.commit()


def _unreachable(exc: Exception) -> None:
    """Note on every waiting message that the mail server cannot be reached; no attempt is spent on it."""
    db.session.rollback()
    db.session.execute(
        sa.update(OutboxMessage).where(*_due()).values(last_error=f"mail server unreachable: {exc}"[:500]),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


def _next_due(after_id: int) -> OutboxMessage | None:
    return db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.id > after_id, *_due())
        .order_by(OutboxMessage.id).limit(1)
    ).first()


@job
def send_outbox(batch_size: int = 200) -> int:
    """Send due messages one at a time, each claimed first so no two senders mail the same one.

    A message that cannot be built is failed with the reason and the next one
    goes on; a server that cannot be reached ends the run, spending no attempt.
    """
    if not current_app.config["MAIL_SERVER"]:
        return 0
    sent = 0
    last_id = 0
    smtp = None
    try:
        while sent < batch_size:
            message = _next_due(last_id)
            if message is None:
                break
            last_id = message.id
            try:
                email = _email(message)
            except (ValueError, MessageError) as exc:
                _give_up(message, f"cannot be built: {exc}")
                continue
            try:
                smtp = smtp or _smtp()
            except (OSError, smtplib.SMTPException) as exc:
                _unreachable(exc)
                break
            if not _claim(message.id):
                continue
            try:
                smtp.send_message(email)
            except (OSError, smtplib.SMTPException) as exc:
                # Refused or cut off: the server did not take it, so it is safe to try again later.
                _refused(message, exc)
                smtp = None
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
    db.session.info.pop(_COMMITTED, None)
    try:
        enqueue(send_outbox)
    except ServiceUnavailable:
        return False
    return True


def init_outbox(app) -> None:
    """Send, as each request ends, the mail that request queued and committed."""

    @app.before_request
    def _forget_mail_queued_before():
        # Tests and CLI commands share the session with later requests; their mail is theirs to send.
        db.session.info.pop(_COMMITTED, None)

    @app.after_request
    def _send_mail_queued_here(response):
        if db.session.info.get(_COMMITTED):
            try:
                send_soon()
            except sa.exc.SQLAlchemyError:
                # The request's own work is committed; its mail waits for the periodic send.
                log.exception("sending the outbox after a request failed")
                db.session.rollback()
        return response


def outbox_query(actor):
    """The messages this person may see in the outbox, newest first: only the kinds that are theirs."""
    return (sa.select(OutboxMessage).where(OutboxMessage.kind.in_(visible_kinds(actor)))
            .order_by(OutboxMessage.id.desc()))


def visible_message(actor, message_id: int) -> OutboxMessage:
    """One message of a kind this person may see; another kind's is as unknown as a missing one."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.kind not in visible_kinds(actor):
        raise NotFound(f"no email with id {message_id}")
    return message


def release_unconfirmed(message: OutboxMessage, actor=None) -> OutboxMessage:
    """Let the next run send a message whose sender died mid-send, once someone has checked it did not arrive."""
    if message.status != "unconfirmed":
        raise Conflict(f"the message is {message.status}; only an unconfirmed message is released")
    message.claimed_at = None
    message.last_error = "released for another send after the sender stopped mid-send"
    audit.record("update", message, f"email to {message.to_addr} released for another send", actor=actor)
    db.session.commit()
    return message
