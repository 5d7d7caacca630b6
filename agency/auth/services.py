"""Creating users, checking passwords, issuing and revoking API tokens."""

import secrets

import sqlalchemy as sa

from agency.auth.models import ApiToken, User, hash_token
from agency.core import audit
from agency.core.bounds import MAX_ID
from agency.core.dates import utcnow
from agency.core.errors import Conflict, NotFound, ValidationError
from agency.core.integrity import commit_or_conflict, duplicate
from agency.core.permissions import ROLES
from agency.core.text import check_text, email_address, normalise_email
from agency.extensions import db
from agency.facilities.models import Facility

MIN_PASSWORD = 10


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
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError.on("password", f"must be at least {MIN_PASSWORD} characters")
    if holder := db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise duplicate("uq_users_email", {"email": email}, holder)
    user = User(email=email, role=role, facility_id=facility_id, name=name)
    user.set_password(password)
    db.session.add(user)
    audit.record("create", user, f"user {email} ({role})", actor=actor)
    commit_or_conflict()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for any failure)."""
    user = _by_email(email)
    if user is None or not user.active or not user.check_password(password or ""):
        return None
    user.last_login_at = utcnow()
    audit.record("login", user, f"{user.email} logged in", actor=user)
    db.session.commit()
    return user


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
        db.session.commit()
    return user
