"""Wrong passwords are counted per account and per address, and past the limit sign-in waits."""

import re
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from redis import Redis

from tests import live
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("users")

ADMIN = "admin@staff.example.org"


def _fail(browser, email, times):
    for _ in range(times):
        response = browser.login(email, "not the password")
        assert response.status_code == 200
        assert b"do not match an active account" in response.data


@pytest.fixture
def guest(app):
    """A new visitor on the same address each time: no session, no cookie carried over."""
    from tests.conftest import Browser

    return lambda: Browser(app.test_client())


def test_the_sixth_wrong_password_for_an_account_waits_even_when_it_is_right(guest):
    _fail(guest(), ADMIN, 5)
    refused = guest().login(ADMIN.upper(), PASSWORD)  # the same account, however it is typed
    assert refused.status_code == 429
    assert "Too many failed sign-ins for this account" in refused.get_data(as_text=True)
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert guest().login("billing@staff.example.org").status_code == 302  # another account is not held up


def test_a_correct_password_forgets_the_accounts_failures(guest):
    _fail(guest(), ADMIN, 4)
    assert guest().login(ADMIN).status_code == 302
    _fail(guest(), ADMIN, 5)
    assert guest().login(ADMIN).status_code == 429


def test_one_address_failing_on_many_accounts_is_held_up_on_all_of_them(app, guest, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "3 per 15 minutes")
    for email in ("a@nowhere.example", "b@nowhere.example", ADMIN):
        _fail(guest(), email, 1)
    refused = guest().login("recruiter@staff.example.org")
    assert refused.status_code == 429
    assert "Too many failed sign-ins from your address" in refused.get_data(as_text=True)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_with_the_counts_unreachable_sign_in_answers_503_and_checks_nothing():
    with live.server(REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0") as site:
        answer = site.sign_in(requests.Session(), ADMIN, PASSWORD)
        assert answer.status_code == 503, site.log_text()
        assert "the server that counts failed sign-ins cannot be reached" in answer.text
        assert answer.headers["Retry-After"]
        assert requests.get(site.url + "/login", timeout=30).status_code == 200  # the form itself still shows


def test_a_wrong_password_whose_count_redis_refuses_answers_503_so_no_guess_goes_uncounted(redis_url):
    # Redis answers the check but refuses the count (it reads, it writes nothing), as one out of memory
    # or a read-only replica does.
    name = f"agency-test-{uuid.uuid4().hex[:12]}"
    redis = Redis.from_url(redis_url)
    redis.acl_setuser(name, enabled=True, passwords=["+counts"], keys=["*"], channels=["*"],
                      commands=["+@all", "-@write"])
    where = urlsplit(redis_url)
    try:
        with live.server(REDIS_URL=where._replace(netloc=f"{name}:counts@{where.netloc}").geturl()) as site:
            answer = site.sign_in(requests.Session(), ADMIN, "not the password")
            assert answer.status_code == 503, site.log_text()
            assert "the server that counts failed sign-ins cannot be reached" in answer.text
    finally:
        redis.acl_deluser(name)


def test_behind_a_trusted_proxy_each_client_address_is_counted_apart():
    with live.server(TRUSTED_PROXIES="1", LOGIN_LIMIT_PER_ADDRESS="2 per 15 minutes") as site:
        def attempt(address, email, password="not the password"):
            browser = requests.Session()
            browser.headers["X-Forwarded-For"] = address
            return site.sign_in(browser, email, password).status_code

        assert [attempt("203.0.113.7", f"{n}@nowhere.example") for n in range(3)] == [200, 200, 429]
        assert attempt("198.51.100.2", ADMIN, PASSWORD) == 302


def test_guesses_sent_all_at_once_get_no_more_tries_than_guesses_sent_one_by_one(users):
    # A check before the password and a count after it would let every guess of a burst pass the check.
    billing = users["billing"].email
    with live.server() as site:
        browsers = [requests.Session() for _ in range(20)]
        tokens = [re.search(r'name="csrf_token"[^>]*value="([^"]+)"', b.get(site.url + "/login", timeout=60).text)
                  .group(1) for b in browsers]
        together, answers = threading.Barrier(len(browsers)), [None] * len(browsers)

        def guess(n):
            together.wait()
            answers[n] = browsers[n].post(site.url + "/login", timeout=60, allow_redirects=False, data={
                "email": billing, "password": f"guess number {n}", "csrf_token": tokens[n]}).status_code

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(len(browsers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [200] * 5 + [429] * 15, site.log_text()
        assert site.sign_in(requests.Session(), billing, PASSWORD).status_code == 429


def test_a_password_change_refused_for_its_new_password_does_not_use_up_the_allowance(users):
    # Each attempt is counted as it comes in; one whose current password is right takes its count back.
    with live.server() as site:
        browser = requests.Session()
        assert site.sign_in(browser, users["billing"].email, PASSWORD).status_code == 302

        def change(new, confirm):
            page = browser.get(site.url + "/account/password", timeout=60).text
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            return browser.post(site.url + "/account/password", timeout=60, data={
                "current_password": PASSWORD, "new_password": new, "confirm": confirm, "csrf_token": token})

        for _ in range(6):
            refused = change("short", "short")
            assert refused.status_code == 200 and "at least 12 characters" in refused.text
        for _ in range(6):
            mistyped = change("a long new passphrase", "a long new passprase")
            assert mistyped.status_code == 200 and "Must match the new password" in mistyped.text
        assert site.sign_in(requests.Session(), users["billing"].email, PASSWORD).status_code == 302


def _admin_page(site, admin, path):
    page = admin.get(site.url + path, timeout=60)
    return page.text, re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)


def test_a_locked_account_stays_locked_for_the_right_password_until_an_admin_unlocks_it(users):
    billing = users["billing"].email
    with live.server() as site:
        answers = [site.sign_in(requests.Session(), billing, f"guess number {n}").status_code for n in range(5)]
        assert answers == [200] * 5
        for _ in range(2):
            refused = site.sign_in(requests.Session(), billing, PASSWORD)
            assert refused.status_code == 429 and "Wait a few minutes" in refused.text
            assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
        admin = requests.Session()
        assert site.sign_in(admin, ADMIN, PASSWORD).status_code == 302
        page, token = _admin_page(site, admin, "/admin/users")
        locked = page[page.index('id="locked"'):page.index('id="users"')]
        assert billing in locked and "<td>5</td>" in locked
        unlocked = admin.post(f"{site.url}/admin/users/{users['billing'].id}/unlock", data={"csrf_token": token},
                              allow_redirects=False, timeout=60)
        assert unlocked.status_code == 302, site.log_text()
        assert site.sign_in(requests.Session(), billing, PASSWORD).status_code == 302
        assert "No account is locked." in _admin_page(site, admin, "/admin/users")[0]


def test_a_locked_account_opens_again_by_itself_once_its_failures_leave_the_window(users):
    billing = users["billing"].email
    with live.server(LOGIN_LIMIT_PER_ACCOUNT="2 per 2 seconds") as site:
        assert [site.sign_in(requests.Session(), billing, "a wrong guess").status_code for _ in range(2)] == [200, 200]
        refused = site.sign_in(requests.Session(), billing, PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 2
        time.sleep(2.2)
        assert site.sign_in(requests.Session(), billing, PASSWORD).status_code == 302
