"""A session ends when its user signs out, changes password or is deactivated, and after idling or too long.

Against a real server: a browser's saved cookie replayed afterwards must open nothing.
"""

import re
import time

import pytest
import requests

from tests import live
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("users")

BILLING = "billing@staff.example.org"
ADMIN = "admin@staff.example.org"


def signed_in(site, email=BILLING, password=PASSWORD) -> requests.Session:
    browser = requests.Session()
    assert site.sign_in(browser, email, password).status_code == 302, site.log_text()
    return browser


def opens_invoices(site, browser) -> bool:
    """Whether the browser's session still opens the invoices list (else it is sent to sign in)."""
    answer = browser.get(site.url + "/invoices", allow_redirects=False, timeout=60)
    assert answer.status_code in (200, 302), site.log_text()
    return answer.status_code == 200


def submit(site, browser, page: str, data: dict, action: str | None = None) -> requests.Response:
    """Fill in a form as a browser does: its CSRF token from the page, then the post (not followed)."""
    text = browser.get(site.url + page, timeout=60).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text).group(1)
    return browser.post(site.url + (action or page), data={**data, "csrf_token": token}, allow_redirects=False,
                        timeout=60)


def copy_of(browser: requests.Session) -> requests.Session:
    """Another browser holding the same saved cookie."""
    replay = requests.Session()
    replay.cookies.update(browser.cookies)
    return replay


def test_a_cookie_saved_before_signing_out_opens_nothing_afterwards():
    with live.server() as site:
        browser = signed_in(site)
        saved = copy_of(browser)
        assert opens_invoices(site, saved)
        out = submit(site, browser, "/invoices", {}, action="/logout")
        assert out.status_code == 302 and out.headers["Location"].endswith("/login")
        replayed = saved.get(site.url + "/invoices", allow_redirects=False, timeout=60)
        assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]


def test_a_form_token_from_before_signing_in_is_refused_once_signed_in():
    # Whoever planted the cookie the victim signs in with (ASVS 3.2.1) read this token off the sign-in page.
    with live.server() as site:
        planted = requests.Session()
        known = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', planted.get(site.url + "/login").text).group(1)
        victim = copy_of(planted)
        assert site.sign_in(victim, BILLING, PASSWORD).status_code == 302
        forged = victim.post(site.url + "/account/calendar", data={"csrf_token": known}, allow_redirects=False,
                             timeout=60)
        assert forged.status_code == 400
        assert submit(site, victim, "/account", {}, action="/account/calendar").status_code == 302


def test_signing_out_ends_the_users_sessions_on_every_device():
    with live.server() as site:
        laptop, phone = signed_in(site), signed_in(site)
        submit(site, laptop, "/invoices", {}, action="/logout")
        assert not opens_invoices(site, phone)


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one():
    with live.server() as site:
        laptop, phone = signed_in(site), signed_in(site)
        new = "a brand new passphrase"
        changed = submit(site, laptop, "/account/password",
                         {"current_password": PASSWORD, "new_password": new, "confirm": new})
        assert changed.status_code == 302, changed.text
        assert opens_invoices(site, laptop)
        assert not opens_invoices(site, phone)
        assert site.sign_in(requests.Session(), BILLING, PASSWORD).status_code == 200  # the old one is gone
        assert site.sign_in(requests.Session(), BILLING, new).status_code == 302


def test_deactivating_a_user_ends_their_session_and_reactivating_does_not_revive_it(users):
    with live.server() as site:
        billing, admin = signed_in(site), signed_in(site, ADMIN)
        saved = copy_of(billing)
        access = f"/admin/users/{users['billing'].id}/active"
        assert submit(site, admin, "/admin/users", {"active": "0"}, access).status_code == 302
        assert not opens_invoices(site, billing)
        assert submit(site, admin, "/admin/users", {"active": "1"}, access).status_code == 302
        assert not opens_invoices(site, saved)


def test_an_admin_reset_ends_the_users_sessions_and_sets_the_new_password(users):
    with live.server() as site:
        billing, admin = signed_in(site), signed_in(site, ADMIN)
        page = f"/admin/users/{users['billing'].id}/password"
        assert submit(site, admin, page, {"new_password": "reset by the admin desk"}).status_code == 302
        assert not opens_invoices(site, billing)
        assert site.sign_in(requests.Session(), BILLING, "reset by the admin desk").status_code == 302


def test_a_session_idle_longer_than_allowed_ends_and_says_why():
    with live.server(SESSION_IDLE_MINUTES=str(2 / 60)) as site:  # two seconds
        browser = signed_in(site)
        for _ in range(3):  # in use, it lasts past the idle time
            time.sleep(1)
            assert opens_invoices(site, browser)
        time.sleep(2.5)
        ended = browser.get(site.url + "/invoices", timeout=60)
        assert ended.url.startswith(site.url + "/login")
        assert "signed out after a while without activity" in ended.text
        assert "/invoices" in ended.url  # back to where they were after signing in again


def test_a_page_opened_soon_after_another_leaves_the_session_cookie_as_it_was():
    """A cookie rewritten by every request lets a background fetch write back a session without the flash
    message a form's redirect put in it; the activity stamp is renewed at most once a minute."""
    with live.server() as site:
        browser = signed_in(site)
        assert opens_invoices(site, browser)
        again = browser.get(site.url + "/facilities/options?q=", allow_redirects=False, timeout=60)
        assert again.status_code == 200 and "session" not in again.headers.get("Set-Cookie", "")


def test_a_session_in_use_still_ends_at_its_time_limit():
    with live.server(SESSION_MAX_HOURS=str(3 / 3600)) as site:  # three seconds
        browser = signed_in(site)
        started = time.monotonic()
        while time.monotonic() - started < 2.5:
            assert opens_invoices(site, browser)
            time.sleep(0.5)
        time.sleep(1)
        ended = browser.get(site.url + "/invoices", timeout=60)
        assert ended.url.startswith(site.url + "/login") and "reached its time limit" in ended.text


def test_the_api_answers_a_token_even_from_a_browser_whose_session_has_timed_out(users):
    from agency.auth.services import issue_token

    token = {"Authorization": f"Bearer {issue_token(users['billing'])}"}
    with live.server(SESSION_IDLE_MINUTES=str(1 / 60)) as site:
        browser = signed_in(site)
        time.sleep(1.5)
        answer = browser.get(site.url + "/api/v1/invoices", headers=token, allow_redirects=False, timeout=60)
        assert answer.status_code == 200
        assert not opens_invoices(site, browser)  # the session itself did end


def _session_cookie(answer: requests.Response, name: str = "session") -> str:
    cookie = next(c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith(name + "="))
    return cookie.lower()


def test_over_plain_http_in_development_the_cookie_is_httponly_and_samesite_lax_not_secure():
    with live.server() as site:
        cookie = _session_cookie(requests.get(site.url + "/login", timeout=60))
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert "secure" not in cookie.replace("samesite", "")


def test_behind_a_trusted_tls_proxy_the_cookie_is_secure():
    with live.server(TRUSTED_PROXIES="1") as site:
        over_tls = requests.get(site.url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=60)
        cookie = _session_cookie(over_tls)
        assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        plain = _session_cookie(requests.get(site.url + "/login", timeout=60))
        assert "; secure" not in plain


def test_an_untrusted_forwarded_proto_does_not_make_the_cookie_secure():
    # Without a proxy configured, the header is anyone's to send and means nothing.
    with live.server() as site:
        cookie = _session_cookie(requests.get(site.url + "/login", headers={"X-Forwarded-Proto": "https"},
                                              timeout=60))
        assert "; secure" not in cookie


def test_in_production_the_cookie_is_secure_even_over_plain_http():
    with live.server(ENV="production", SECRET_KEY="a-production-secret-for-this-test-only-0123456789") as site:
        cookie = _session_cookie(requests.get(site.url + "/login", timeout=60), "__Host-session")
        assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        # The __Host- prefix: only this host sets it, for the whole site and no other domain.
        assert "; path=/" in cookie and "domain=" not in cookie
