"""Schedules for `rq cron agency/cron.py`: the agency's daily jobs and the outbox send."""

from rq import cron

from agency import create_app
from agency.billing.jobs import (
    approval_chase,
    daily_dunning,
    daily_promise_check,
    invoice_schedule,
    render_missing_pdfs,
    statement_schedule,
)
from agency.core.outbox import send_outbox
from agency.credentials.scan import daily_credential_scan
from agency.credentials.screening import screening_reminder

_app = create_app()

cron.register(
    daily_credential_scan,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["CREDENTIAL_SCAN_CRON"],
    name="daily-credential-scan",
)
cron.register(
    screening_reminder,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["SCREENING_REMINDER_CRON"],
    name="exclusion-screening-reminder",
)
cron.register(
    invoice_schedule,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["INVOICE_SCHEDULE_CRON"],
    name="invoice-schedule",
)
cron.register(
    daily_promise_check,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["PROMISE_CHECK_CRON"],
    name="daily-promise-check",
)
cron.register(
    daily_dunning,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["DUNNING_CRON"],
    name="daily-dunning",
)
cron.register(
    approval_chase,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["APPROVAL_CHASE_CRON"],
    name="approval-chase",
)
cron.register(
    statement_schedule,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["STATEMENT_CRON"],
    name="statement-schedule",
)
# Every minute or so: whatever is due in the outbox (retries after their backoff,
# mail a request queued while Redis was down), so no email waits for a daily job.
cron.register(
    send_outbox,
    queue_name=_app.config["RQ_QUEUE"],
    interval=int(_app.config["OUTBOX_SEND_SECONDS"]),
    name="outbox-send",
)
# Invoices whose PDF job could not be queued (Redis down as they committed) get their PDF and email.
cron.register(
    render_missing_pdfs,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["PDF_SWEEP_CRON"],
    name="missing-invoice-pdfs",
)
