"""Redis stopped and started again mid-use: pages work, job actions refuse and change nothing, mail goes once.

The test runs a redis-server of its own on a free port, so stopping it
disturbs nobody else's queue.
"""

import subprocess
from datetime import date

import pytest
import sqlalchemy as sa
from redis import Redis
from redis.exceptions import RedisError

from agency.billing.models import Invoice, TimesheetEntry
from agency.core.jobs import JobRecord, enqueue
from agency.core.outbox import OutboxMessage, send_outbox
from agency.extensions import db
from tests import factories, workers
from tests.smtp import free_port, smtp_server

pytestmark = pytest.mark.usefixtures("users")


class RedisServer:
    """A redis-server process that keeps nothing on disk: a restart starts it empty, as after a crash."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        workers.poll(self._answers, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def _answers(self) -> bool:
        try:
            return Redis.from_url(self.url).ping()
        except RedisError:
            return False


@pytest.fixture
def own_redis():
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


RUN = {"period_start": "2026-11-01", "period_end": "2026-11-30", "facility_id": ""}


def test_redis_stopped_then_started_pages_work_jobs_refuse_then_succeed_and_mail_goes_once(
        app, browser, api, users, own_redis):
    place = factories.facility(billing_email="ap@clinic.example.org")
    factories.rate_card(place)
    factories.entry(factories.active_placement(place), date(2026, 11, 2))
    rosa = factories.therapist(email="rosa@example.org")
    omar = factories.therapist(email="omar@example.org")
    billing, staff = browser("billing"), browser("credentialing")

    with workers.jobs_on_redis(app, own_redis.url), smtp_server(app) as inbox:
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(app.config["MAIL_PORT"])}
        # Before the outage: a run with nothing to bill finishes at once; an alert is queued and its send job too.
        empty = billing.post("/invoices/run", {**RUN, "period_start": "2026-10-01", "period_end": "2026-10-31"},
                             form_url="/invoices/run", follow_redirects=True)
        assert b"Nothing new to bill in that period." in empty.data
        empty_run = f"/invoices/runs/{db.session.scalar(sa.select(JobRecord.id))}"
        factories.alert_through_api(api("recruiter"), users["facility"].facility_id, rosa)

        own_redis.stop()
        # The send job died with Redis; the email itself is safe in the outbox.
        assert db.session.scalars(sa.select(OutboxMessage.sent_at)).all() == [None]
        for url in ("/invoices", "/invoices/run", "/timesheets", "/dashboard", empty_run):
            page = billing.get(url)
            assert page.status_code == 200, url
        # A run's progress is in the database: its page needs no Redis.
        assert b"Nothing new to bill." in billing.get(empty_run).data
        assert staff.get("/outbox").status_code == 200
        assert api("billing").get("/api/v1/invoices").status_code == 200
        # Queuing mail needs no job: the alert is taken and its email waits.
        factories.alert_through_api(api("recruiter"), users["facility"].facility_id, omar)

        refused = billing.post("/invoices/run", RUN, form_url="/invoices/run")
        assert refused.status_code == 503 and b"Nothing was started" in refused.data
        refused_api = api("billing").post("/api/v1/invoices/generate", json={
            "period_start": RUN["period_start"], "period_end": RUN["period_end"]})
        assert refused_api.status_code == 503
        assert refused_api.json["error"]["code"] == "service_unavailable"
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JobRecord)) == 1
        assert db.session.scalars(sa.select(TimesheetEntry.status)).all() == ["approved"]
        assert inbox.messages == []

        own_redis.start()
        ran = billing.post("/invoices/run", RUN, form_url="/invoices/run", follow_redirects=True)
        assert b"Invoice run queued" in ran.data
        workers.wait(workers.start_worker(own_redis.url, **mail))
        assert "1 invoice(s)" in billing.get(ran.request.path).data.decode()
        # The scheduler's next send finds nothing left to send.
        enqueue(send_outbox)
        workers.wait(workers.start_worker(own_redis.url, **mail))

    db.session.rollback()
    invoice = db.session.scalars(sa.select(Invoice)).one()
    assert sorted((m["to"][0], m["subject"].split(":")[0]) for m in inbox.messages) == [
        ("ap@clinic.example.org", f"Invoice {invoice.number} from {app.config['AGENCY_NAME']}"),
        ("omar@example.org", "New LCSW assignment"),
        ("rosa@example.org", "New LCSW assignment"),
    ]
    assert {m.status for m in db.session.scalars(sa.select(OutboxMessage))} == {"sent"}
