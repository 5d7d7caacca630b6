"""One password policy: short, common, email-like and repetitive passwords are refused wherever one is set."""

import pytest
import sqlalchemy as sa

from agency.auth import passwords
from agency.auth.models import User
from agency.auth.services import create_user, reset_password
from agency.core.errors import ValidationError
from agency.demo import PASSWORD as DEMO_PASSWORD
from agency.extensions import db
from tests.conftest import PASSWORD

EMAIL = "dana.rivera@staff.example.org"

REFUSED = {
    "short": ("eleven char", "must be at least 12 characters"),
    "common": ("1qaz2wsx3edc", "one of the most common passwords"),
    "common in capitals": ("Q1W2E3R4T5Y6", "one of the most common passwords"),
    "the email itself": ("Dana.Rivera@Staff.example.org", "must not contain your email address"),
    "containing the email's name": ("my dana.rivera pass", "must not contain your email address or its name part"),
    "another email address": ("someone@elsewhere.example", "must not be an email address"),
    "one character": ("aaaaaaaaaaaa", "mostly one character repeated"),
    "mostly one character": ("aaaaaaaaab12x", "mostly one character repeated"),
    "two characters taking turns": ("abababababab", "mostly one character repeated"),
    # At twelve characters or more, the common ones are mostly common words padded out to the length.
    "a common word with digits added": ("iloveyou1234", "a common password with digits or symbols added"),
    "a common word with a year and symbols": ("Summer2024!!", "a common password with digits or symbols added"),
    "digits in order": ("123456789012", "a run of letters or digits in order"),
    "letters in order, backwards too": ("zyxwvutsrqpo", "a run of letters or digits in order"),
    "a word twice": ("passwordpassword", "one piece repeated"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_the_service_refuses_a_weak_password_and_creates_nobody(app, name):
    password, says = REFUSED[name]
    with pytest.raises(ValidationError) as refused:
        create_user(EMAIL, "billing", password)
    assert says in refused.value.fields["password"][0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_the_shipped_list_is_a_real_list_of_common_passwords():
    common = passwords.common_passwords()
    assert len(common) > 10_000
    assert {"password", "123456", "qwerty", "iloveyou", "password12"} <= common


@pytest.mark.parametrize("password", [PASSWORD, DEMO_PASSWORD, "loadtest-password-1", "bench-password-1",
                                      "long enough pw", "Tr0ub4dor&3 horse"])
def test_the_passwords_the_product_and_its_tests_use_pass(password):
    passwords.check_policy(password, EMAIL)


@pytest.mark.parametrize("name", REFUSED)
def test_the_admin_form_shows_the_refusal_beside_the_password(browser, name):
    password, says = REFUSED[name]
    page = browser("admin").post("/admin/users", {"email": EMAIL, "role": "billing", "password": password})
    assert page.status_code == 200
    beside = page.get_data(as_text=True).split('id="password-error"', 1)[1].split("</div>", 1)[0]
    assert says in beside
    assert db.session.scalar(sa.select(User.id).where(User.email == EMAIL)) is None


@pytest.mark.parametrize("name", REFUSED)
def test_the_command_line_refuses_a_weak_password(app, name):
    password, says = REFUSED[name]
    made = app.test_cli_runner().invoke(args=["users", "create", EMAIL, "--role", "billing", "--password", password])
    assert made.exit_code != 0 and "password: " in made.output and says in made.output
    assert db.session.scalar(sa.select(User.id).where(User.email == EMAIL)) is None


def test_the_command_line_makes_a_password_the_policy_accepts_when_none_is_given(app):
    made = app.test_cli_runner().invoke(args=["users", "create", EMAIL, "--role", "billing"])
    assert made.exit_code == 0
    generated = made.output.strip().splitlines()[-1].removeprefix("Password: ")
    passwords.check_policy(generated, EMAIL)


def test_an_admin_reset_follows_the_policy_too(users):
    with pytest.raises(ValidationError) as refused:
        reset_password(users["billing"], "billing@staff.example.org", users["admin"])
    assert "must not contain your email address" in refused.value.message
    old_hash = users["billing"].password_hash
    db.session.refresh(users["billing"])
    assert users["billing"].password_hash == old_hash
