"""The mail server down, then busy, then back: real workers retry with backoff and each email arrives once."""

from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from agency.core.dates import utcnow
from agency.core.jobs import enqueue
from agency.core.outbox import OutboxMessage, send_outbox
from agency.extensions import db
from tests import factories, workers
from tests.core.test_outbox import RefusingInbox
from tests.smtp import free_port

pytestmark = pytest.mark.usefixtures("users")


@contextmanager
def mail_server_on(port: int, inbox):
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def messages() -> list[OutboxMessage]:
    db.session.rollback()
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def send_on_a_worker(redis_url: str, port: int) -> None:
    enqueue(send_outbox)
    workers.wait(workers.start_worker(redis_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port)))


def test_mail_queued_while_the_server_is_down_is_retried_with_backoff_and_delivered_once(app, browser, redis_url):
    for n in range(2):
        place = factories.facility(billing_email=f"ap{n}@clinic.example.org")
        factories.rate_card(place)
        factories.entry(factories.active_placement(place), date(2026, 11, 2))
    port = free_port()  # nobody listening: the mail server is down
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        with workers.jobs_on_redis(app, redis_url):
            ran = browser("billing").post("/invoices/run", {"period_start": "2026-11-01", "period_end": "2026-11-30",
                                                            "facility_id": ""}, follow_redirects=True)
            assert b"Invoice run queued" in ran.data
            workers.wait(workers.start_worker(redis_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port)))
            # Down: the run made its invoices; their emails wait, no attempt spent, saying why.
            waiting = messages()
            assert len(waiting) == 2
            assert {(m.status, m.attempts) for m in waiting} == {("pending", 0)}
            assert all(m.last_error.startswith("mail server unreachable") for m in waiting)
            assert send_outbox() == 0
            assert {(m.status, m.attempts) for m in messages()} == {("pending", 0)}

            # Up but busy: each email is refused once and waits its backoff.
            with mail_server_on(port, RefusingInbox(2)) as busy:
                send_on_a_worker(redis_url, port)
                assert busy.refusals == 0 and busy.messages == []
                retrying = messages()
                assert {(m.status, m.attempts) for m in retrying} == {("retrying", 1)}
                assert all(m.next_attempt_at is not None for m in retrying)
            with mail_server_on(port, RefusingInbox(0)) as inbox:
                # Before the backoff has passed a send leaves them alone.
                assert send_outbox() == 0 and inbox.messages == []
                for message in messages():
                    message.next_attempt_at = utcnow() - timedelta(seconds=1)
                db.session.commit()
                send_on_a_worker(redis_url, port)
                assert send_outbox() == 0
    finally:
        app.config.update(saved)
    assert sorted(m["to"][0] for m in inbox.messages) == ["ap0@clinic.example.org", "ap1@clinic.example.org"]
    assert {(m.status, m.attempts) for m in messages()} == {("sent", 2)}
