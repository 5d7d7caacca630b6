"""Creating users, signing in and out, passwords and lockouts, issuing and revoking API tokens."""

import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from agency.auth.models import ApiToken, User, hash_token
from agency.auth.passwords import check_policy
from agency.core import audit
from agency.core.audit import AuditEvent
from agency.core.bounds import MAX_ID
from agency.core.dates import as_utc, utcnow
from agency.core.errors import Conflict, NotFound, ValidationError
from agency.core.integrity import commit_or_conflict, duplicate
from agency.core.permissions import ROLES
from agency.core.text import check_text, email_address, normalise_email
from agency.extensions import db
from agency.facilities.models import Facility


def create_user(email: str, role: str, password: str, *, facility_id: int | None = None,
                name: str = "", actor=None) -> User:
    """Create a user with a hashed password; a facility contact needs its facility."""
    email = normalise_email(email)
    check_text(User, {"name": name})
    if role not in ROLES:
        raise ValidationError.on("role", f"must be one of {', '.join(ROLES)}")
    if (role == "facility") != (facility_id is not None):
        raise ValidationError.on(
            "facility_id", "a facility contact needs its facility; other roles take none"
        )
    if facility_id is not None and (not 1 <= facility_id <= MAX_ID or db.session.get(Facility, facility_id) is None):
        raise ValidationError.on("facility_id", f"no facility with id {facility_id}")
    check_policy(password, email)
    if holder := db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise duplicate("uq_users_email", {"email": email}, holder)
    user = User(email=email, role=role, facility_id=facility_id, name=name)
    user.set_password(password)
    db.session.add(user)
    audit.record("create", user, f"user {email} ({role})", actor=actor)
    commit_or_conflict()
    return user


def authenticate(email: str, password: str, address: str | None = None) -> User | None:
    """The active user with these credentials, or None: the same answer, and the same work, for any failure.

    An unknown or inactive account checks the password against a stand-in hash, so that its answer
    takes as long as a wrong password's and timing tells nobody which addresses have accounts.
    A failure is audited (and committed, though the sign-in is refused).
    """
    user = _by_email(email)
    usable = user is not None and user.active
    matches = check_password_hash(user.password_hash if usable else _stand_in_hash(), password or "")
    if not (usable and matches):
        _audit_failure(user, email, address, "signing in")
        db.session.commit()
        return None
    user.last_login_at = utcnow()
    audit.record("login", user, f"{user.email} logged in" + (f" from {address}" if address else ""), actor=user)
    db.session.commit()
    return user


@cache
def _hash_of_nothing(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def _stand_in_hash() -> str:
    """A hash no password matches, made once per process with the configured method (so it costs the same)."""
    return _hash_of_nothing(current_app.config["PASSWORD_HASH_METHOD"])


def _as_typed(email: str) -> str:
    """The email field as typed, for the audit log; text that is no address stays out of it, since that
    is most often a password typed into the wrong field (ASVS 7.1.1: no credentials in logs)."""
    typed = (email or "")[:255]
    try:
        email_address(typed)
    except ValueError:
        return "(not an email address)"
    return typed


def _audit_failure(user: User | None, email: str, address: str | None, doing: str) -> None:
    typed = _as_typed(email)
    where = f" from {address}" if address else ""
    event = audit.record("login_failed", user, f"failed sign-in {doing} as {typed!r}{where}", actor=user,
                         changes={"email": typed, "address": address}, object_type="user")
    if user is None:
        event.actor_label = "anonymous"  # nobody is known: not "system", which would claim it was the app


def user_for_session(value: str) -> User | None:
    """The active user a session's "id:token" names while that token is still theirs, or None."""
    user_id, _, token = (value or "").partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() and int(user_id) <= MAX_ID else None
    if user is None or not user.active or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


def sign_out(user: User) -> None:
    """End every session of the user, on every device, and audit it."""
    user.end_sessions()
    audit.record("logout", user, f"{user.email} signed out", actor=user)
    db.session.commit()


def change_password(user: User, current: str, new: str, address: str | None = None) -> None:
    """The user's own change: their current password first (a wrong one is a failed sign-in), then the policy.

    Every other session of the user ends; the caller signs this one in again with the new token.
    """
    if not user.check_password(current or ""):
        _audit_failure(user, user.email, address, "changing the password")
        db.session.commit()
        raise ValidationError.on("current_password", "is not your current password")
    check_policy(new, user.email, field="new_password")
    if user.check_password(new):
        raise ValidationError.on("new_password", "must differ from your current password")
    _set_password(user, new, f"{user.email} changed their password", actor=user)


def reset_password(user: User, new: str, actor) -> None:
    """An administrator sets a new password (a user who forgot theirs); the user's sessions end."""
    if user.id == actor.id:
        raise Conflict("change your own password on your account page, with your current one")
    check_policy(new, user.email, field="new_password")
    _set_password(user, new, f"password of {user.email} reset by {actor.email}", actor=actor)


def _set_password(user: User, password: str, summary: str, actor) -> None:
    user.set_password(password)
    user.end_sessions()
    audit.record("password_change", user, summary, actor=actor)
    db.session.commit()


def record_lockout(email: str, until: datetime, failures: int) -> None:
    """Note on the account (when the address names one) and in the audit log that sign-in is locked until `until`."""
    user = _by_email(email)
    if user is not None:
        user.locked_at, user.locked_until = utcnow(), until
    typed = _as_typed(email)
    event = audit.record("lockout", user, f"sign-in as {typed!r} locked until {until:%Y-%m-%d %H:%M} UTC after "
                         f"{failures} failed attempts", actor=user, object_type="user",
                         changes={"email": typed, "locked_until": until, "failures": failures})
    if user is None:
        event.actor_label = "anonymous"
    db.session.commit()


def locked_users(window: timedelta) -> list[tuple[User, int, set[str]]]:
    """Accounts locked now, each with its failed sign-ins in the window before the lock and their addresses."""
    now = utcnow()
    users = db.session.scalars(sa.select(User).where(User.locked_until > now).order_by(User.locked_at)).all()
    if not users:
        return []
    since = min(as_utc(user.locked_at) for user in users) - window
    failures = db.session.execute(
        sa.select(AuditEvent.object_id, AuditEvent.occurred_at, AuditEvent.changes)
        .where(AuditEvent.action == "login_failed", AuditEvent.object_type == "user",
               AuditEvent.object_id.in_([user.id for user in users]), AuditEvent.occurred_at >= since)).all()
    rows = []
    for user in users:
        mine = [changes or {} for user_id, at, changes in failures
                if user_id == user.id and as_utc(at) >= as_utc(user.locked_at) - window]
        rows.append((user, len(mine), {c.get("address") or "unknown" for c in mine}))
    return rows


def unlock(user: User, actor=None) -> None:
    """Forget the recorded lock (the caller clears the failure counts) and audit who opened it (None: the
    command line)."""
    by = actor.email if actor is not None else "the command line"
    audit.record("unlock", user, f"sign-in for {user.email} unlocked by {by}", actor=actor,
                 changes={"locked_until": [user.locked_until, None]})
    user.locked_at = user.locked_until = None
    db.session.commit()


def _by_email(email: str) -> User | None:
    """The user an address names, compared in the form addresses are kept in."""
    try:
        email = email_address(email)
    except ValueError:
        return None  # no user has an address that is not one
    return db.session.scalar(sa.select(User).where(User.email == email))


def user_by_email(email: str) -> User:
    user = _by_email(email)
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def issue_token(user: User, actor=None) -> str:
    """A new API token for user; only its hash is stored, so it is shown once."""
    token = "agt_" + secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=hash_token(token), prefix=token[:12])
    db.session.add(row)
    audit.record("create", row, f"API token {row.prefix}… for {user.email}", actor=actor or user)
    db.session.commit()
    return token


def revoke_token(token_id: int, actor) -> ApiToken:
    row = db.session.get(ApiToken, token_id)
    if row is None or (actor.role != "admin" and row.user_id != actor.id):
        raise NotFound("no such token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record("revoke", row, f"API token {row.prefix}… revoked", actor=actor)
        db.session.commit()
    return row


def user_for_token(token: str) -> User | None:
    """The active owner of an unrevoked token, or None."""
    row = db.session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.active:
        return None
    return row.user


def set_active(user: User, active: bool, actor) -> User:
    """Switch a user's access on or off; nobody can lock themselves out."""
    if user.id == actor.id and not active:
        raise Conflict("you cannot deactivate your own account")
    if user.active != active:
        audit.record("update", user, f"user {user.email} {'reactivated' if active else 'deactivated'}",
                     actor=actor, changes={"active": [user.active, active]})
        user.active = active
        if not active:
            user.end_sessions()
        db.session.commit()
    return user
