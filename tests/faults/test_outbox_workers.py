"""Never twice: an email whose sender dies in the middle of the send is not sent again on its own."""

import asyncio

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.core.jobs import enqueue
from agency.core.outbox import SEND_TIMEOUT, OutboxMessage, queue_email, send_outbox
from agency.extensions import db
from tests import workers
from tests.smtp import Inbox, smtp_server

pytestmark = pytest.mark.usefixtures("users")


class StallingInbox(Inbox):
    """Takes the whole message, then never answers: the sender cannot know whether it was delivered."""

    async def handle_DATA(self, server, session, envelope):
        await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(120)
        return "250 too late"


def invoice_email() -> OutboxMessage:
    queue_email("ap@clinic.example.org", "Invoice INV-2026-00001", "Please find the invoice attached.",
                dedupe_key="invoice:INV-2026-00001")
    db.session.commit()
    return db.session.scalars(sa.select(OutboxMessage)).one()


def fresh(message: OutboxMessage) -> OutboxMessage:
    db.session.rollback()
    return db.session.get(OutboxMessage, message.id, populate_existing=True)


def test_a_sender_killed_mid_send_never_sends_the_email_again_until_someone_releases_it(app, redis_url,
                                                                                        browser):
    message = invoice_email()
    stalling = StallingInbox()
    with smtp_server(app, stalling), workers.jobs_on_redis(app, redis_url):
        enqueue(send_outbox)
        worker = workers.start_worker(redis_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(app.config["MAIL_PORT"]))
        try:
            workers.poll(lambda: stalling.messages, timeout=60)
        finally:
            workers.kill(worker)
    assert len(stalling.messages) == 1
    claimed = fresh(message)
    assert (claimed.sent_at, claimed.attempts, claimed.status) == (None, 1, "sending")

    # Long after the sender died, the message is unconfirmed: later runs leave it alone.
    claimed.claimed_at -= SEND_TIMEOUT
    db.session.commit()
    with smtp_server(app) as inbox:
        assert send_outbox() == 0
        assert inbox.messages == []
        assert fresh(message).status == "unconfirmed"

        staff = browser("billing")  # an invoice email is billing's to check and release
        assert b"Release for another send" in staff.get("/outbox").data
        released = staff.post(f"/outbox/{message.id}/release", form_url="/outbox", follow_redirects=True)
        assert b"goes out with the next send" in released.data
        assert send_outbox() == 1 and send_outbox() == 0
    assert [m["subject"] for m in inbox.messages] == ["Invoice INV-2026-00001"]
    assert fresh(message).status == "sent"
    assert db.session.scalar(sa.select(AuditEvent.object_type).where(AuditEvent.action == "update")) == "email"


def test_only_an_unconfirmed_email_can_be_released(app, browser):
    message = invoice_email()
    with smtp_server(app):
        send_outbox()
    page = browser("billing").post(f"/outbox/{message.id}/release", form_url="/outbox",
                                         follow_redirects=True)
    assert b"Not released. The message is sent" in page.data
    assert fresh(message).attempts == 1

