"""Signed-in sessions that end: after a while idle, after a fixed time in all, and in cookies kept from scripts.

The session cookie holds when the session began and when it was last used; a
request past SESSION_IDLE_MINUTES of quiet or SESSION_MAX_HOURS since sign-in
ends it (ASVS 3.3). Ending every session of a user at once (sign-out, a password
change, deactivation) is the user's session token's work (User.end_sessions).
API calls carry a bearer token, not this cookie, and are not touched.
"""

import time

from flask import current_app, flash, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import logout_user

BEGAN, SEEN = "began", "seen"


class _SecureWhenServedSecurely(SecureCookieSessionInterface):
    """The cookie is Secure in production always, and elsewhere whenever the request came over HTTPS.

    Flask's SESSION_COOKIE_SECURE is one value for every request; behind a TLS proxy (TRUSTED_PROXIES,
    which believes its X-Forwarded-Proto) the request itself says whether the browser used HTTPS.
    """

    def get_cookie_secure(self, app) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def begin() -> None:
    """Stamp a session that has just signed in."""
    session[BEGAN] = session[SEEN] = time.time()


def _ended() -> str | None:
    """Why the signed-in session of this request is over, or None while it lasts."""
    now = time.time()
    began, seen = session.get(BEGAN), session.get(SEEN)
    if began is None or seen is None:
        return "Please sign in again."  # a session from before these stamps existed
    if now - began > float(current_app.config["SESSION_MAX_HOURS"]) * 3600:
        return "Your session reached its time limit; please sign in again."
    if now - seen > float(current_app.config["SESSION_IDLE_MINUTES"]) * 60:
        return "You were signed out after a while without activity; please sign in again."
    return None


def _check_session():
    if "_user_id" not in session or request.path.startswith("/api/") or request.endpoint == "static":
        return None
    if (why := _ended()) is None:
        # Stamped again only once a tenth of the idle limit (at most a minute) has passed: a cookie rewritten
        # by every request lets a page's background fetch, answered while a form posts, write back the
        # session without that form's flash message.
        every = min(60.0, float(current_app.config["SESSION_IDLE_MINUTES"]) * 6)
        if time.time() - session[SEEN] >= every:
            session[SEEN] = time.time()
        return None
    logout_user()
    session.clear()
    flash(why, "info")
    if request.endpoint == "auth.login":
        return None
    back = (request.full_path if request.query_string else request.path) if request.method == "GET" else None
    return redirect(url_for("auth.login", next=back))


def init_app(app) -> None:
    """Cookies HttpOnly and SameSite=Lax always, Secure in production or over HTTPS; sessions that time out."""
    app.session_interface = _SecureWhenServedSecurely()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config["ENV"] == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
        # Browsers keep a __Host- cookie only when Secure, for Path=/ and without a Domain, and never let
        # a sibling subdomain (or plain HTTP) set or overwrite it (ASVS 3.4.4). Outside production the
        # cookie is Secure only over HTTPS, which the prefix cannot wait for.
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
    app.before_request(_check_session)
