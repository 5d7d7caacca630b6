"""Sign-in throttling: failed sign-ins counted per account and per client address, across every host.

The counts live in Redis (REDIS_URL), which every web process on every machine
shares, so wrong passwords sent to different servers add up; with no Redis
configured (one machine) they live in the process's memory. Only failures
count: a person who signs in correctly is never slowed, and doing so forgets
their account's failures (not their address's, or one good account would let
an address guess at the others). A wrong current password on the password-change
page counts as a failed sign-in of the signed-in account.

An account's attempt is counted before its password is checked, in one atomic step
that refuses it when the allowance is used up: a check made first and a count made
after would let a burst of guesses sent at once all through the check before any
was counted. A correct password takes the count back with the account's failures.

An account whose allowance is used up is locked: the failure that does it is
reported once (sign_in_failed), the lock is noted on the user and in the audit
log, and it lasts until its oldest failure leaves the window, or until an
administrator unlocks it (forget_account_failures).
"""

import math
import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from flask import current_app, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse
from limits.errors import StorageError

from agency.core.text import email_address
from agency.extensions import limiter

ACCOUNT_SCOPE = "sign-in-account"
ADDRESS_SCOPE = "sign-in-address"


def account_key(email: str) -> str:
    """The account an address names, in the form the user lookup reads it, so no spelling of it
    (case, quoting) counts apart; an address that is not one is still one key."""
    try:
        return email_address(email)
    except ValueError:
        return (email or "").strip().casefold() or "(none)"


def _account() -> str:
    # Signing in: the address typed. Changing a password: the signed-in user's own account.
    return account_key(current_user.email if current_user.is_authenticated else request.form.get("email", ""))


def _counted_by_the_view(_response) -> bool:
    # A limit with deduct_when is only tested before the view, never counted as the response leaves:
    # sign_in_failed counts while the view runs, where a count Redis refuses still answers 503
    # (counts_unreachable), not a 500 from an after_request hook, and no guess goes uncounted.
    return False


def _wait_message(who: str) -> str:
    return (f"Too many failed sign-ins {who}. Wait a few minutes and try again; "
            "if you have forgotten your password, ask an administrator to reset it.")


def limit_sign_ins(view):
    """Refuse (429) a sign-in once its account or its address has failed too often of late."""
    # Counted as the request comes in (atomically, see above); sign_in_succeeded takes it back.
    view = limiter.shared_limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], ACCOUNT_SCOPE,
                                key_func=_account, methods=["POST"],
                                error_message=_wait_message("for this account"))(view)
    return limiter.shared_limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], ADDRESS_SCOPE,
                                key_func=get_remote_address, methods=["POST"], deduct_when=_counted_by_the_view,
                                error_message=_wait_message("from your address"))(view)


class Lockout(NamedTuple):
    until: datetime
    failures: int


def sign_in_failed() -> Lockout | None:
    """Count this request's sign-in as failed against its address (its account counted it on the way in).

    When this failure is the one that uses up its account's allowance, the account is locked from
    now: the answer says until when (its oldest failure leaves the window) and after how many.
    Later attempts are refused before they get here, so a lockout is reported once.
    """
    lockout = None
    for limit in limiter.current_limits:
        if ADDRESS_SCOPE in limit.request_args:
            limiter.limiter.hit(limit.limit, *limit.request_args)
        if ACCOUNT_SCOPE in limit.request_args and not limiter.limiter.test(limit.limit, *limit.request_args):
            reset = limiter.limiter.get_window_stats(limit.limit, *limit.request_args).reset_time
            lockout = Lockout(datetime.fromtimestamp(math.ceil(reset), UTC), limit.limit.amount)
    return lockout


def sign_in_succeeded() -> None:
    """A correct password forgets the failures of its account, and the count of this attempt."""
    forget_account_failures(_account())


def forget_account_failures(email: str) -> None:
    """Clear an account's failed sign-ins (a correct password, or an administrator unlocking it)."""
    prefix = current_app.config["RATE_LIMIT_KEY_PREFIX"]
    # The counter's key as Flask-Limiter builds it for a shared limit: prefix, key, scope.
    limiter.limiter.clear(_account_limit(), *(part for part in (prefix, account_key(email), ACCOUNT_SCOPE) if part))


def _account_limit():
    return parse(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])


def account_window() -> timedelta:
    """How far back the account's failures count."""
    return timedelta(seconds=_account_limit().get_expiry())


def init_app(app) -> None:
    """Counts in Redis when there is one, else in memory; a Redis that cannot be reached answers 503."""
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    app.config["RATELIMIT_KEY_PREFIX"] = app.config["RATE_LIMIT_KEY_PREFIX"]
    # Fail fast and as one error type: a sign-in must not hang on a Redis that is down.
    options = {"wrap_exceptions": True}
    if app.config["REDIS_URL"]:
        options.update(socket_connect_timeout=2, socket_timeout=2)
    app.config["RATELIMIT_STORAGE_OPTIONS"] = options
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded):
        breached = limiter.current_limit
        wait = max(1, math.ceil(breached.window.reset_time - time.time())) if breached else 60
        page = render_template("errors/error.html", status=429,
                               message=f"{exc.description} (about {math.ceil(wait / 60)} min)")
        return page, 429, {"Retry-After": str(wait)}

    @app.errorhandler(StorageError)
    def counts_unreachable(exc: StorageError):
        # Without the shared counts the limit cannot be known: refuse rather than let guesses through.
        app.logger.warning("sign-in throttle storage unreachable: %s", exc)
        message = ("Sign-in is unavailable for a moment: the server that counts failed sign-ins cannot be "
                   "reached. Nothing was checked; try again shortly.")
        return render_template("errors/error.html", status=503, message=message), 503, {"Retry-After": "30"}
