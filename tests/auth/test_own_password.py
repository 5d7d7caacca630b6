"""A signed-in user changes their own password: the current one first, the policy for the new one."""

import sqlalchemy as sa

from agency.auth.models import User
from agency.core.audit import AuditEvent
from agency.extensions import db
from tests.conftest import PASSWORD, Browser

NEW = "a brand new passphrase"


def change(b, current, new, confirm=None):
    return b.post("/account/password", {"current_password": current, "new_password": new,
                                        "confirm": new if confirm is None else confirm})


def actions() -> list[str]:
    return db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()


def test_a_user_changes_their_password_and_signs_in_with_the_new_one(browser, users, app):
    b = browser("recruiter")
    answer = change(b, PASSWORD, NEW)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/account")
    assert b.get("/account").status_code == 200  # still signed in here
    assert actions()[-1] == "password_change"
    assert Browser(app.test_client()).login(users["recruiter"].email, NEW).status_code == 302
    assert Browser(app.test_client()).login(users["recruiter"].email, PASSWORD).status_code == 200


def test_the_new_password_must_pass_the_policy_and_differ_and_match(browser, users):
    b = browser("recruiter")
    before = db.session.get(User, users["recruiter"].id).password_hash
    for new, confirm, says in [("password1234", None, "one of the most common passwords"),
                               ("recruiter is me", None, "must not contain your email address"),
                               (PASSWORD, None, "must differ from your current password"),
                               (NEW, "something else entirely", "Must match the new password")]:
        page = change(b, PASSWORD, new, confirm)
        assert page.status_code == 200 and says in page.get_data(as_text=True), says
    db.session.expire_all()
    assert db.session.get(User, users["recruiter"].id).password_hash == before
    assert "password_change" not in actions()


def test_a_wrong_current_password_is_a_failed_sign_in_and_five_lock_the_account(browser, users, app):
    b = browser("recruiter")
    for _ in range(5):
        page = change(b, "not my password", NEW)
        assert page.status_code == 200 and "is not your current password" in page.get_data(as_text=True)
    assert change(b, PASSWORD, NEW).status_code == 429  # the right one waits too
    assert Browser(app.test_client()).login(users["recruiter"].email).status_code == 429
    assert actions().count("login_failed") == 5 and actions().count("lockout") == 1
