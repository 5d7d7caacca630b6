"""The daily credential scan: reminders at 90, 60, 30 and 7 days, once per threshold per item."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from agency import ROOT
from agency.core.outbox import OutboxMessage, send_outbox
from agency.credentials.models import CredentialReminder
from agency.credentials.scan import daily_credential_scan
from agency.extensions import db
from tests import factories, workers
from tests.factories import TODAY
from tests.smtp import free_port, smtp_server


def reminders():
    db.session.rollback()
    return db.session.execute(
        sa.select(CredentialReminder.item_kind, CredentialReminder.threshold).order_by(CredentialReminder.id)
    ).all()


def test_a_license_gets_each_threshold_once_and_a_scan_that_missed_days_sends_only_the_latest(app):
    person = factories.therapist(email="mia@example.org")
    factories.license(person, expires_on=TODAY + timedelta(days=90))
    for day in (0, 0, 0, 1, 30, 31, 45, 80, 83, 84, 89):
        daily_credential_scan((TODAY + timedelta(days=day)).isoformat())
    # Day 0: 90 days left; day 30: 60; day 45: 45 left, still the 60-day reminder; day 80: 10 left, the
    # 30-day one (skipped days never produce a burst); day 83: 7 left.
    assert reminders() == [("license", 90), ("license", 60), ("license", 30), ("license", 7)]
    to_therapist = db.session.scalars(sa.select(OutboxMessage.subject).where(
        OutboxMessage.to_addr == "mia@example.org").order_by(OutboxMessage.id)).all()
    assert len(to_therapist) == 4 and "due in 90 days" in to_therapist[0]
    staff = app.config["CREDENTIALING_EMAIL"]
    assert db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.to_addr == staff)) == 4


def test_caqh_documents_and_panel_recredentialing_are_reminded_too(app):
    import io

    from agency.credentials.documents import store_document
    from tests.credentials.test_api import PDF

    # Due in 10 days: CAQH's own 10-day reminder (with no CAQH rule stored, CAQH_REMINDER_DAYS).
    person = factories.therapist(caqh_id="12345", caqh_attested_on=TODAY - timedelta(days=110))
    store_document(person, io.BytesIO(PDF), "bls.pdf", "bls_card", None, TODAY + timedelta(days=7))
    factories.panel(person, payer="Cigna", status="approved", submitted_on=date(2023, 6, 1),
                    effective_on=date(2023, 9, 1), recredential_due_on=TODAY + timedelta(days=30))
    daily_credential_scan(TODAY.isoformat())
    assert sorted(reminders()) == [("caqh", 10), ("document", 7), ("panel", 30)]


def test_a_renewed_license_starts_its_reminders_afresh_and_inactive_therapists_get_none(app):
    person = factories.therapist()
    lic = factories.license(person, expires_on=TODAY + timedelta(days=7))
    gone = factories.therapist(status="inactive")
    factories.license(gone, expires_on=TODAY + timedelta(days=7))
    daily_credential_scan(TODAY.isoformat())
    assert reminders() == [("license", 7)]
    from agency.credentials.services import update_license

    update_license(lic, {"expires_on": TODAY + timedelta(days=60)})
    daily_credential_scan(TODAY.isoformat())
    assert reminders() == [("license", 7), ("license", 60)]


def test_reminders_reach_a_real_smtp_server_once_and_a_failed_send_is_retried(app):
    person = factories.therapist(email="omar@example.org")
    factories.license(person, expires_on=TODAY + timedelta(days=30))
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listening
    try:
        daily_credential_scan(TODAY.isoformat())
    finally:
        app.config.update(saved)
    # A server that cannot be reached spends no attempt: the messages wait, saying why.
    waiting = db.session.scalars(sa.select(OutboxMessage)).all()
    assert {(m.attempts, m.status) for m in waiting} == {(0, "pending")}
    assert all(m.last_error.startswith("mail server unreachable") for m in waiting)
    with smtp_server(app) as inbox:
        assert send_outbox() == 2
        assert send_outbox() == 0
        daily_credential_scan(TODAY.isoformat())
    assert len(inbox.to("omar@example.org")) == 1
    assert "due in 30 days" in inbox.to("omar@example.org")[0]["subject"]
    assert len(inbox.to(app.config["CREDENTIALING_EMAIL"])) == 1


def test_the_scan_is_registered_with_rqs_cron_scheduler_and_runs_from_the_cli(app):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=None, name="test")
    scheduler.load_config_from_file(str(ROOT / "agency" / "cron.py"))
    names = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert names["daily_credential_scan"].cron == app.config["CREDENTIAL_SCAN_CRON"]
    assert {"invoice_schedule", "daily_dunning", "statement_schedule"} <= set(names)
    assert names["statement_schedule"].cron == app.config["STATEMENT_CRON"]
    person = factories.therapist()
    factories.license(person, expires_on=TODAY + timedelta(days=60))
    result = app.test_cli_runner().invoke(args=["credentials", "scan", "--as-of", TODAY.isoformat()])
    assert result.exit_code == 0 and '"reminders": 1' in result.output


def test_two_scans_on_two_real_workers_at_once_send_each_reminder_once(app, redis_url):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL; SQLite serialises all writers")
    for n in range(6):
        factories.license(factories.therapist(), expires_on=TODAY + timedelta(days=7 + n))
    from agency.core.jobs import enqueue

    with workers.jobs_on_redis(app, redis_url):
        enqueue(daily_credential_scan, TODAY.isoformat())
        enqueue(daily_credential_scan, TODAY.isoformat())
        # In batches of two, so that the two scans overlap over several commits.
        first, second = (workers.start_worker(redis_url, CREDENTIAL_SCAN_BATCH_SIZE="2") for _ in range(2))
        logs = workers.wait(first) + workers.wait(second)
    assert len(reminders()) == 6, logs
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 12
    assert len(set(outbox_keys())) == 12


def test_a_document_is_replaced_only_by_its_renewal_not_by_another_license_copy_or_an_old_undated_card():
    from agency.credentials.worklist import worklist

    person = factories.therapist()
    soon = TODAY + timedelta(days=20)
    factories.document(person, "bls_card", issued_on=date(2019, 3, 1))  # an old card filed without an expiry
    card = factories.document(person, "bls_card", issued_on=date(2024, 12, 15), expires_on=soon)
    copy = factories.document(person, "license_copy", expires_on=soon)
    factories.document(person, "license_copy", expires_on=TODAY + timedelta(days=700))  # another state's license
    expiring = {(i.kind, i.item_id) for i in worklist(TODAY) if i.kind == "document_expiring"}
    assert expiring == {("document_expiring", card.id), ("document_expiring", copy.id)}

    factories.document(person, "bls_card", issued_on=TODAY, expires_on=TODAY + timedelta(days=730))  # renewed
    expiring = {i.item_id for i in worklist(TODAY) if i.kind == "document_expiring"}
    assert expiring == {copy.id}


def outbox_keys() -> list[str]:
    db.session.rollback()
    return db.session.scalars(sa.select(OutboxMessage.dedupe_key).order_by(OutboxMessage.dedupe_key)).all()


@pytest.fixture
def batches_of_three(setting):
    setting(CREDENTIAL_SCAN_BATCH_SIZE=3)


def test_a_first_run_catching_up_on_more_reminders_than_a_batch_sends_each_once_and_a_rerun_nothing(
        app, batches_of_three):
    people = [factories.therapist(caqh_id=str(n), caqh_attested_on=TODAY - timedelta(days=108)) for n in range(4)]
    for n, person in enumerate(people):
        factories.license(person, expires_on=TODAY + timedelta(days=4 + n))
        factories.document(person, "bls_card", expires_on=TODAY + timedelta(days=40))
    first = daily_credential_scan(TODAY.isoformat())
    assert (first["reminders"], first["skipped_already_sent"]) == (12, 0)
    assert sorted(reminders()) == [("caqh", 15)] * 4 + [("document", 60)] * 4 + [("license", 7)] * 4
    queued = outbox_keys()
    assert len(queued) == len(set(queued)) == 24
    again = daily_credential_scan(TODAY.isoformat())
    assert (again["reminders"], again["skipped_already_sent"]) == (0, 12)
    assert outbox_keys() == queued


def test_two_scans_started_at_the_same_moment_in_two_threads_send_each_reminder_once(app, batches_of_three):
    import threading

    for n in range(8):
        factories.license(factories.therapist(), expires_on=TODAY + timedelta(days=3 + n))
    start = threading.Barrier(2)
    results, errors = [], []

    def scan():
        with app.app_context():
            try:
                start.wait()
                results.append(daily_credential_scan(TODAY.isoformat()))
            except Exception as exc:  # the assertion below shows it
                errors.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(results) == 2 and sum(r["reminders"] for r in results) == 8
    assert sum(r["skipped_already_sent"] for r in results) == 8
    assert len(reminders()) == 8
    queued = outbox_keys()
    assert len(queued) == len(set(queued)) == 16


def test_the_scan_reads_in_the_same_number_of_statements_whatever_the_number_of_therapists(app):
    from tests.sql import counted

    def selects_of_a_scan(day: int) -> int:
        with counted() as statements:
            daily_credential_scan((TODAY + timedelta(days=day)).isoformat())
        return sum(1 for s in statements if s.lstrip().upper().startswith("SELECT"))

    def grow(n: int) -> None:
        for _ in range(n):
            person = factories.therapist(caqh_id="1", caqh_attested_on=TODAY - timedelta(days=110))
            factories.license(person, expires_on=TODAY + timedelta(days=20))
            factories.document(person, "tb_test", expires_on=TODAY + timedelta(days=50))
            factories.panel(person, status="approved", submitted_on=date(2024, 1, 1),
                            effective_on=date(2024, 3, 1), recredential_due_on=TODAY + timedelta(days=80))

    # Each time: a scan with new reminders to send (one batch), then a rerun with none.
    grow(2)
    small = selects_of_a_scan(0), selects_of_a_scan(0)
    grow(10)
    assert (selects_of_a_scan(0), selects_of_a_scan(0)) == small
