"""Two app servers and two workers on one database and one Redis keep every rule as one machine does.

Each server and worker is a process of its own that shares with the others only
what hosts share in production: PostgreSQL, Redis (the queue and the sign-in
counts) and the configuration. Whatever one of them holds in its own memory is
invisible to the others, so a rule kept there would break here.
"""

import os
import re
from datetime import date

import pytest
import requests
import sqlalchemy as sa
from limits import parse
from redis import Redis

from agency.auth.services import issue_token
from agency.billing.invoicing import invoice_facility
from agency.billing.ledger import ledger_problems
from agency.billing.models import Invoice
from agency.core.jobs import enqueue
from agency.core.outbox import queue_email, send_outbox
from agency.extensions import db
from tests import factories, live, workers
from tests.conftest import PASSWORD, REDIS_URL
from tests.smtp import smtp_server

pytestmark = pytest.mark.usefixtures("users")


@pytest.fixture(scope="module")
def hosts(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite is one file on one host's disk: several machines need PostgreSQL")
    with live.server(REDIS_URL=REDIS_URL) as first, live.server(REDIS_URL=REDIS_URL) as second:
        yield first, second


@pytest.fixture
def token(users):
    return issue_token(users["admin"])


@pytest.fixture
def counts_forgotten(app):
    """No failed sign-in left in Redis by an earlier test of this run."""
    redis = Redis.from_url(REDIS_URL)
    for key in redis.scan_iter(f"*{app.config['RATE_LIMIT_KEY_PREFIX']}*"):
        redis.delete(key)


def assert_no_server_error(answers, *sites) -> None:
    errors = [answer for answer in answers if answer.status_code >= 500]
    assert not errors, errors[0].text + "".join(site.log_text()[-2000:] for site in sites)


def both_workers(**settings) -> str:
    """Two workers started together, each on its own, until the queue is empty; their logs."""
    started = [workers.start_worker(REDIS_URL, name=f"host-{n}-{os.getpid()}", **settings) for n in (1, 2)]
    return "".join(workers.wait(worker, timeout=180) for worker in started)


def test_wrong_passwords_sent_to_either_server_count_together(app, hosts, users, counts_forgotten):
    first, second = hosts
    limit = parse(app.config["LOGIN_LIMIT_PER_ACCOUNT"]).amount
    email = users["billing"].email
    sites = [first, second] * limit
    answers = [site.sign_in(requests.Session(), email, "not the password") for site in sites[:limit]]
    assert [answer.status_code for answer in answers] == [200] * limit
    # Each server saw only part of the failures; the limit is the account's on every server.
    assert second.sign_in(requests.Session(), email, PASSWORD).status_code == 429
    assert first.sign_in(requests.Session(), email, PASSWORD).status_code == 429
    assert first.sign_in(requests.Session(), users["recruiter"].email, PASSWORD).status_code == 302


def test_a_sign_in_form_from_one_server_and_its_session_hold_on_the_other(hosts, users):
    first, second = hosts
    browser = requests.Session()
    page = browser.get(first.url + "/login", timeout=60)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    signed_in = browser.post(second.url + "/login", allow_redirects=False, timeout=60,
                             data={"email": users["recruiter"].email, "password": PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302
    home = browser.get(first.url + "/", timeout=60)
    assert home.status_code == 200 and "/login" not in home.url, home.url


def test_one_payment_sent_to_both_servers_at_once_is_recorded_once(hosts, token):
    first, second = hosts
    place = factories.facility()
    factories.rate_card(place, threshold=None)
    placement = factories.active_placement(place)
    rounds = []
    for day in range(2, 10):
        factories.entry(placement, date(2026, 10, day))
        invoice = invoice_facility(place.id, date(2026, 10, day), date(2026, 10, day))[0]
        body = {"amount": str(invoice.total), "received_on": factories.TODAY.isoformat(), "reference": "ACH"}
        path = f"/api/v1/invoices/{invoice.id}/payments"
        rounds.append(live.at_once(token, (first, "POST", path, body), (second, "POST", path, body)))
    assert_no_server_error([answer for pair in rounds for answer in pair], first, second)
    assert [sorted(answer.status_code for answer in pair) for pair in rounds] == [[201, 409]] * len(rounds)
    db.session.rollback()
    assert ledger_problems(db.session) == []


def test_invoice_runs_started_on_both_servers_and_run_on_both_workers_make_gapless_numbers(app, hosts, token,
                                                                                          redis_url):
    first, second = hosts
    places = []
    for _ in range(6):
        place = factories.facility()
        factories.rate_card(place, threshold=None)
        placement = factories.active_placement(place)
        for day in (2, 3, 4, 5, 6):
            factories.entry(placement, date(2026, 11, day))
        places.append(place)
    month = {"period_start": "2026-11-01", "period_end": "2026-11-30"}
    # The whole month on both servers at once, and each facility's run on one or the other.
    started = live.at_once(token, (first, "POST", "/api/v1/invoices/generate", month),
                           (second, "POST", "/api/v1/invoices/generate", month))
    for n, place in enumerate(places):
        started.append((first, second)[n % 2].call("POST", "/api/v1/invoices/generate", token,
                                                    {**month, "facility_id": place.id}))
    assert [answer.status_code for answer in started] == [202] * len(started), started[0].text
    logs = both_workers()

    db.session.rollback()
    numbers = db.session.scalars(sa.select(Invoice.number).order_by(Invoice.number)).all()
    assert len(numbers) == len(places), logs
    assert ledger_problems(db.session) == [], logs
    # A run started on one server is known to the other: its record is in the shared database.
    for n, answer in enumerate(started):
        status = (second, first)[n % 2].call("GET", f"/api/v1/jobs/{answer.json()['job_id']}", token).json()
        assert status["status"] == "finished", (status, logs)


def test_both_workers_sending_the_outbox_at_once_deliver_each_message_once(app, hosts, redis_url):
    subjects = [f"Reminder {n:02}" for n in range(24)]
    for subject in subjects:
        queue_email("ap@clinic.example.org", subject, "Your license expires soon.")
    db.session.commit()
    with smtp_server(app) as inbox, workers.jobs_on_redis(app, redis_url):
        for _ in range(6):
            enqueue(send_outbox, 4)
        logs = both_workers(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(app.config["MAIL_PORT"]))
        while send_outbox():  # whatever the small batches left, sent here; nothing twice
            pass
    assert sorted(message["subject"] for message in inbox.messages) == subjects, logs
