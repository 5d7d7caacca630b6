"""Schedules for `rq cron agency/cron.py`: the agency's daily jobs."""

from rq import cron

from agency import create_app
from agency.credentials.scan import daily_credential_scan

_app = create_app()

cron.register(
    daily_credential_scan,
    queue_name=_app.config["RQ_QUEUE"],
    cron=_app.config["CREDENTIAL_SCAN_CRON"],
    name="daily-credential-scan",
)
