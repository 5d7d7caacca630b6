"""Every sign-in, failed sign-in, lockout and sign-out is in the audit log, and guessing reveals no accounts."""

import sys

import pytest
import sqlalchemy as sa

from agency.auth.models import User
from agency.auth.services import authenticate, set_active
from agency.core.audit import AuditEvent
from agency.extensions import db
from tests.conftest import PASSWORD, Browser

ADMIN = "admin@staff.example.org"


def key_derivations(action) -> list[str]:
    """The password-hashing functions (PBKDF2, scrypt) the action runs, in order, watched as Python calls them."""
    seen = []

    def watch(_frame, event, arg):
        if event == "c_call" and getattr(arg, "__name__", "") in ("pbkdf2_hmac", "scrypt"):
            seen.append(arg.__name__)

    sys.setprofile(watch)
    try:
        action()
    finally:
        sys.setprofile(None)
    return seen


def test_an_unknown_or_inactive_account_costs_the_same_password_hashing_as_a_wrong_password(users, app):
    authenticate("warm.up@nowhere.example", "x")  # the stand-in hash is made once per process, not per sign-in
    set_active(users["billing"], False, users["admin"])
    work = {
        "wrong password": key_derivations(lambda: authenticate(ADMIN, "not the password")),
        "unknown email": key_derivations(lambda: authenticate("nobody@nowhere.example", "not the password")),
        "not an address": key_derivations(lambda: authenticate("a b@@c", "not the password")),
        "inactive account": key_derivations(lambda: authenticate(users["billing"].email, PASSWORD)),
        "right password": key_derivations(lambda: authenticate(ADMIN, PASSWORD)),
    }
    method = app.config["PASSWORD_HASH_METHOD"].partition(":")[0]  # this run's: pbkdf2
    assert work == dict.fromkeys(work, [{"pbkdf2": "pbkdf2_hmac", "scrypt": "scrypt"}[method]])


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


@pytest.fixture
def guest(app):
    return lambda: Browser(app.test_client())


def test_a_failed_sign_in_for_an_account_is_audited_with_the_address_typed_and_where_from(users, guest):
    assert guest().login("Admin@Staff.example.org", "not the password").status_code == 200
    (event,) = events("login_failed")
    assert (event.user_id, event.object_type, event.object_id) == (users["admin"].id, "user", users["admin"].id)
    assert event.changes == {"email": "Admin@Staff.example.org", "address": "127.0.0.1"}
    assert "'Admin@Staff.example.org'" in event.summary and "127.0.0.1" in event.summary


def test_a_failed_sign_in_for_no_account_is_audited_without_a_user(users, guest):
    guest().login("nobody@nowhere.example", "not the password")
    (event,) = events("login_failed")
    assert (event.user_id, event.object_type, event.object_id) == (None, "user", None)
    assert event.actor_label == "anonymous" and event.changes["email"] == "nobody@nowhere.example"


def test_a_password_typed_into_the_email_field_stays_out_of_the_audit_log(users, guest):
    for _ in range(5):
        guest().login("Tr0ub4dor&3 horse", "not the password")
    logged = events("login_failed") + events("lockout")
    assert len(logged) == 6
    assert not [e for e in logged if "Tr0ub4dor" in e.summary or "Tr0ub4dor" in str(e.changes)]
    assert all("(not an email address)" in e.summary for e in logged)


def test_a_sign_in_and_a_sign_out_are_audited(users, guest):
    b = guest()
    assert b.login(ADMIN).status_code == 302
    assert [e.user_id for e in events("login")] == [users["admin"].id]
    assert b.post("/logout", {}, form_url="/account").status_code == 302
    (out,) = events("logout")
    assert (out.user_id, out.object_id) == (users["admin"].id, users["admin"].id)


def test_an_account_locked_by_failures_is_audited_once_and_noted_on_the_user(users, guest):
    for _ in range(5):
        guest().login(ADMIN, "not the password")
    for _ in range(3):
        assert guest().login(ADMIN, PASSWORD).status_code == 429  # refused before any check: no new events
    (lockout,) = events("lockout")
    assert lockout.object_id == users["admin"].id and "after 5 failed attempts" in lockout.summary
    assert len(events("login_failed")) == 5
    admin = db.session.get(User, users["admin"].id)
    assert admin.locked_at is not None and admin.locked_until > admin.locked_at


def test_the_admin_sees_the_locked_account_and_unlocking_lets_its_user_in(users, guest, browser):
    for _ in range(5):
        guest().login("billing@staff.example.org", "not the password")
    assert guest().login("billing@staff.example.org").status_code == 429
    admin = browser("admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    locked = page[page.index('id="locked"'):page.index('id="users"')]
    assert "billing@staff.example.org" in locked and "<td>5</td>" in locked and "1: 127.0.0.1" in locked
    response = admin.post(f"/admin/users/{users['billing'].id}/unlock", {}, form_url="/admin/users")
    assert response.status_code == 302
    assert guest().login("billing@staff.example.org").status_code == 302
    (unlocked,) = events("unlock")
    assert unlocked.user_id == users["admin"].id and unlocked.object_id == users["billing"].id
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "No account is locked." in page


def test_an_admin_locked_out_with_every_other_admin_is_let_in_again_from_the_command_line(app, users, guest):
    for _ in range(5):
        guest().login(ADMIN, "not the password")
    assert guest().login(ADMIN).status_code == 429
    done = app.test_cli_runner().invoke(args=["users", "unlock", ADMIN.upper()])
    assert done.exit_code == 0 and f"{ADMIN} may sign in again" in done.output, done.output
    assert guest().login(ADMIN).status_code == 302
    (unlocked,) = events("unlock")
    assert unlocked.object_id == users["admin"].id and "by the command line" in unlocked.summary
    assert db.session.get(User, users["admin"].id).locked_until is None
