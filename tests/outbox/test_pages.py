"""The outbox pages: each team sees and releases its own kind of mail, whatever area queued it."""

from datetime import timedelta

import sqlalchemy as sa

from agency.core.dates import utcnow
from agency.core.outbox import SEND_TIMEOUT, OutboxMessage, queue_email
from agency.extensions import db
from tests.conftest import csrf_of

STAFF = ("admin", "recruiter", "credentialing", "billing")


def _message(subject: str, key: str | None, unconfirmed=True) -> OutboxMessage:
    queue_email("someone@example.org", subject, "Body.", dedupe_key=key)
    db.session.commit()
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.subject == subject))
    if unconfirmed:  # its sender died mid-send long ago: a person must check and release it
        message.claimed_at, message.attempts = utcnow() - SEND_TIMEOUT - timedelta(minutes=1), 1
        db.session.commit()
    return message


MAIL = {  # subject -> (dedupe key, the roles whose mail it is)
    "Your NY license expires in 30 days": ("reminder:license:1:2026-12-25:30:therapist", {"credentialing"}),
    "Invoice INV-2026-00042": ("invoice:INV-2026-00042", {"billing"}),
    "Reminder: invoice INV-2026-00042 is past due": ("dunning:INV-2026-00042:first", {"billing"}),
    "New LCSW assignment: Outpatient LCSW": ("assignment-alert:1:1", {"recruiter"}),
    "Welcome to the agency": (None, set()),
}


def test_each_team_sees_and_releases_only_its_own_kind_of_mail(browser):
    messages = {subject: _message(subject, key) for subject, (key, _) in MAIL.items()}
    assert browser("facility").get("/outbox").status_code == 403
    for role in STAFF:
        staff = browser(role)
        page = staff.get("/outbox")
        shown = {subject for subject in MAIL if subject in page.data.decode()}
        mine = {subject for subject, (_, owners) in MAIL.items() if role == "admin" or role in owners}
        assert shown == mine, role
        csrf = csrf_of(page)
        for subject, message in messages.items():
            if subject in mine:
                continue
            refused = staff.client.post(f"/outbox/{message.id}/release", data={"csrf_token": csrf})
            assert refused.status_code == 404, (role, subject)
            db.session.refresh(message)
            assert message.status == "unconfirmed"
    invoice = messages["Invoice INV-2026-00042"]
    released = browser("billing").post(f"/outbox/{invoice.id}/release", form_url="/outbox", follow_redirects=True)
    assert b"goes out with the next send" in released.data
    db.session.refresh(invoice)
    assert invoice.status == "retrying"  # due for the next send, its one attempt counted
