"""A user's email is kept in one form, so signing in and the command line find them however it is typed."""

from agency.auth.services import authenticate, user_by_email
from tests.conftest import PASSWORD


def test_a_user_signs_in_and_gets_a_token_with_their_email_in_any_case(app, users):
    assert authenticate("Admin@STAFF.example.org", PASSWORD) == users["admin"]
    assert user_by_email(" ADMIN@staff.example.org ") == users["admin"]
    result = app.test_cli_runner().invoke(args=["users", "token", "Billing@Staff.Example.org"])
    assert result.exit_code == 0 and result.output.strip().splitlines()[-1].startswith("agt_")


def test_an_address_that_is_not_one_finds_nobody_and_the_command_says_so(app, users):
    assert authenticate("a b@@c", PASSWORD) is None
    result = app.test_cli_runner().invoke(args=["users", "token", "a b@@c"])
    assert result.exit_code == 1 and "Error: no user with email a b@@c" in result.output
