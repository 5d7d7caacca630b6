"""The outbox: a message that cannot be built fails alone, a refused one backs off, and mail goes out on its own."""

import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import Queue

from agency import ROOT
from agency.core.dates import as_utc, utcnow
from agency.core.jobs import redis_connection
from agency.core.outbox import OutboxMessage, queue_email, retry_delay, send_outbox
from agency.extensions import db
from tests import factories, workers
from tests.smtp import Inbox, free_port, smtp_server

pytestmark = pytest.mark.usefixtures("users")


class RefusingInbox(Inbox):
    """Answers the first `refusals` messages with `answer`, then takes them."""

    def __init__(self, refusals: int, answer: str = "451 4.3.0 Mailbox busy, try again later"):
        super().__init__()
        self.refusals = refusals
        self.answer = answer

    async def handle_DATA(self, server, session, envelope):
        if self.refusals:
            self.refusals -= 1
            return self.answer
        return await super().handle_DATA(server, session, envelope)


def queue(to_addr: str, subject: str) -> int:
    queue_email(to_addr, subject, "Please find the details below.")
    db.session.commit()
    return db.session.scalars(sa.select(OutboxMessage.id).order_by(OutboxMessage.id.desc())).first()


def fresh(message_id: int) -> OutboxMessage:
    db.session.rollback()
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def due_now(message_id: int) -> None:
    """Let the backoff pass: the next attempt is due."""
    fresh(message_id).next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_a_message_that_cannot_be_built_is_failed_with_the_reason_and_the_next_one_is_delivered(app, browser):
    injected = queue("ap@clinic.example.org", "New LCSW assignment for Dana\rBcc: everyone@example.org")
    bad_to = queue("dana@example.org\r\nBcc: everyone@example.org", "Your license is due")
    no_to = queue("", "Your license is due")
    good = queue("ap@clinic.example.org", "Invoice INV-2026-00002 for Zoë Núñez")
    with smtp_server(app) as inbox:
        assert send_outbox() == 1
        assert send_outbox() == 0
    assert [(m["to"], m["subject"]) for m in inbox.messages] == [
        (["ap@clinic.example.org"], "Invoice INV-2026-00002 for Zoë Núñez")]
    assert "Bcc" not in inbox.messages[0]["message"]
    assert fresh(good).status == "sent"
    for message_id in (injected, bad_to, no_to):
        failed = fresh(message_id)
        assert (failed.status, failed.attempts) == ("failed", 0)
        assert failed.last_error.startswith("cannot be built: ")
    assert "linefeed or carriage return" in fresh(injected).last_error

    page = browser("admin").get("/outbox").data.decode()  # mail of no known kind is an admin's to see
    assert page.count("cannot be built: ") == 3


def test_a_refused_message_waits_longer_before_each_retry_and_is_delivered_once(app):
    message_id = queue("ap@clinic.example.org", "Invoice INV-2026-00003")
    inbox = RefusingInbox(2)
    with smtp_server(app, inbox):
        for attempt in (1, 2):
            before = utcnow()
            assert send_outbox() == 0
            waiting = fresh(message_id)
            assert (waiting.status, waiting.attempts) == ("retrying", attempt)
            assert "Mailbox busy" in waiting.last_error
            wait = retry_delay(attempt)
            assert before + wait <= as_utc(waiting.next_attempt_at) <= utcnow() + wait
            # Before its backoff has passed a run leaves it alone: the server hears nothing.
            assert send_outbox() == 0 and inbox.refusals == 2 - attempt
            due_now(message_id)
        assert send_outbox() == 1
        assert send_outbox() == 0
    assert [m["subject"] for m in inbox.messages] == ["Invoice INV-2026-00003"]
    sent = fresh(message_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 3, None)


def test_the_wait_doubles_from_the_base_up_to_the_cap(app):
    base, cap = app.config["MAIL_RETRY_BASE_SECONDS"], app.config["MAIL_RETRY_MAX_SECONDS"]
    waits = [retry_delay(n).total_seconds() for n in range(1, 10)]
    assert waits[:3] == [base, 2 * base, 4 * base]
    assert waits == sorted(waits) and max(waits) == cap


def test_a_message_refused_on_every_attempt_fails_after_the_last_and_a_permanent_refusal_at_once(app):
    busy = queue("ap@clinic.example.org", "Invoice INV-2026-00004")
    saved = app.config["MAIL_MAX_ATTEMPTS"]
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    try:
        with smtp_server(app, RefusingInbox(10)):
            send_outbox()
            due_now(busy)
            send_outbox()
            assert fresh(busy).status == "failed"
            assert fresh(busy).last_error.startswith("refused after 2 attempt(s)")
        unknown = queue("nobody@clinic.example.org", "Invoice INV-2026-00005")
        with smtp_server(app, RefusingInbox(1, "550 5.1.1 No such mailbox")) as inbox:
            assert send_outbox() == 0
            assert send_outbox() == 0 and inbox.messages == []
    finally:
        app.config["MAIL_MAX_ATTEMPTS"] = saved
    assert (fresh(unknown).status, fresh(unknown).attempts) == ("failed", 1)
    assert "No such mailbox" in fresh(unknown).last_error


def test_an_unreachable_mail_server_spends_no_attempt(app):
    message_id = queue("ap@clinic.example.org", "Invoice INV-2026-00006")
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listening
    try:
        assert send_outbox() == 0
    finally:
        app.config.update(saved)
    waiting = fresh(message_id)
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == ("pending", 0, None)
    assert waiting.last_error.startswith("mail server unreachable")


def test_with_no_redis_the_request_that_queued_an_email_sends_it(app, api, users):
    therapist = factories.therapist(email="rosa@example.org")
    with smtp_server(app) as inbox:
        factories.alert_through_api(api("recruiter"), users["facility"].facility_id, therapist)
        assert [m["to"] for m in inbox.messages] == [["rosa@example.org"]]
        assert send_outbox() == 0
    assert db.session.scalars(sa.select(OutboxMessage)).one().status == "sent"


def test_with_redis_the_request_that_queued_an_email_starts_a_send_on_a_real_worker(app, api, users, redis_url):
    therapist = factories.therapist(email="rosa@example.org")
    with smtp_server(app) as inbox, workers.jobs_on_redis(app, redis_url):
        factories.alert_through_api(api("recruiter"), users["facility"].facility_id, therapist)
        assert inbox.messages == []
        assert Queue(app.config["RQ_QUEUE"], connection=redis_connection()).count == 1
        worker = workers.start_worker(redis_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(app.config["MAIL_PORT"]))
        workers.wait(worker)
    assert [m["to"] for m in inbox.messages] == [["rosa@example.org"]]


def test_the_scheduler_sends_the_outbox_with_no_request_and_no_other_job(app, redis_url):
    message_id = queue("ap@clinic.example.org", "Invoice INV-2026-00007")
    with workers.jobs_on_redis(app, redis_url):
        queued = Queue(app.config["RQ_QUEUE"], connection=redis_connection())
        cron = subprocess.Popen([str(workers.RQ.with_name("rq")), "cron", "--url", redis_url, "agency/cron.py"],
                                cwd=ROOT, env=workers.worker_env(redis_url), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            workers.poll(lambda: queued.job_ids, timeout=60)
        finally:
            workers.kill(cron)
        assert [queued.fetch_job(job_id).func_name for job_id in queued.job_ids] == [
            "agency.core.outbox.send_outbox"]
        with smtp_server(app) as inbox:
            worker = workers.start_worker(redis_url, MAIL_SERVER="127.0.0.1",
                                          MAIL_PORT=str(app.config["MAIL_PORT"]))
            workers.wait(worker)
    assert [m["subject"] for m in inbox.messages] == ["Invoice INV-2026-00007"]
    assert fresh(message_id).status == "sent"
