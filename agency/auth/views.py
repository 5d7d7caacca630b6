"""Signing in and out, and each user's API tokens."""

import json
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from limits.errors import StorageError
from sqlalchemy.orm import joinedload

from agency.auth import services, sessions, throttle
from agency.auth.forms import (
    ActiveForm,
    AuditFilterForm,
    ChangePasswordForm,
    LoginForm,
    NewTokenForm,
    ResetPasswordForm,
    RevokeTokenForm,
    UnlockForm,
    UserForm,
)
from agency.auth.models import ApiToken, User
from agency.core import audit
from agency.core.dates import iso
from agency.core.errors import DomainError
from agency.core.exports import csv_response, wants_csv
from agency.core.forms import show_errors
from agency.core.listing import paginate
from agency.core.permissions import current_actor, public, requires
from agency.extensions import db, login_manager

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str):
    return services.user_for_session(user_id)


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect would let a phishing link bounce off our login.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
@throttle.limit_sign_ins
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data, get_remote_address())
        if user is None:
            _count_failure(form.email.data)
            flash("That email and password do not match an active account.", "error")
        else:
            throttle.sign_in_succeeded()
            # A fresh session, not the one the sign-in page was served in: a cookie planted before sign-in
            # (a sibling subdomain, plain HTTP on a first visit) must not carry its CSRF secret into it.
            session.clear()
            login_user(user)
            sessions.begin()
            flash(f"Welcome back, {user.display_name}.", "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.home"))
    return render_template("auth/login.html", form=form)


def _count_failure(email: str) -> None:
    """Count a wrong password against the account and the address; note the lockout it may cause."""
    if (lockout := throttle.sign_in_failed()) is not None:
        services.record_lockout(email, *lockout)


@bp.post("/logout")
@login_required
@public
def logout():
    services.sign_out(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@public
@throttle.limit_sign_ins
def change_password():
    """A signed-in user changes their own password; their other sessions end, this one goes on."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(user, form.current_password.data, form.new_password.data,
                                     get_remote_address())
        except DomainError as exc:
            if "current_password" in exc.fields:
                _count_failure(user.email)
            else:  # the current password was right; only the new one was refused
                throttle.sign_in_succeeded()
            show_errors(form, exc)
        else:
            throttle.sign_in_succeeded()
            login_user(user)  # this session, with the new token
            flash("Your password is changed. You stay signed in here; your other sessions have ended.", "success")
            return redirect(url_for("auth.account"))
    elif form.is_submitted() and form.current_password.data and current_user.check_password(
            form.current_password.data):
        # Counted as it came in, like every attempt; a right current password with the new one mistyped
        # twice differently is no guess, and takes its count back.
        throttle.sign_in_succeeded()
    return render_template("auth/password.html", form=form)


@bp.route("/account", methods=["GET", "POST"])
@login_required
@public
def account():
    """Every signed-in user manages their own API tokens here."""
    new_form = NewTokenForm(prefix="new")
    new_token = None
    if new_form.validate_on_submit():
        new_token = services.issue_token(current_user)
        flash("Token created. Copy it now: it is shown only once.", "success")
    tokens = db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id.desc())
    ).all()
    return render_template("auth/account.html", new_form=new_form, new_token=new_token,
                           tokens=tokens, revoke_form=RevokeTokenForm(prefix="revoke"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
@public
def revoke_token(token_id: int):
    form = RevokeTokenForm(prefix="revoke")
    if form.validate_on_submit():
        row = services.revoke_token(token_id, current_user)
        flash(f"Token {row.prefix}… revoked.", "success")
    else:
        flash("The form expired; please try again.", "error")
    return redirect(url_for("auth.account"))


@bp.get("/admin/audit")
@requires("audit.view")
def audit_log():
    """The audit trail, newest first, filtered by kind, actor, object, days and words; as CSV too."""
    form = AuditFilterForm(request.args)
    if not form.validate():
        # Nothing rather than everything: a reviewer must never take the whole log for the rows asked for.
        return render_template("auth/audit.html", form=form, pagination=None), 400
    query = audit.search(action=form.action.data or None, user=form.user.data, object_type=form.object_type.data,
                         object_id=form.object_id.data, date_from=form.date_from.data,
                         date_to=form.date_to.data, text=form.q.data)
    if wants_csv():
        return csv_response("audit-log.csv", [
            "occurred_at", "actor", "action", "object_type", "object_id", "summary", "changes"], query, lambda e: [
            iso(e.occurred_at), e.actor_label, e.action, e.object_type, e.object_id, e.summary,
            json.dumps(e.changes, sort_keys=True) if e.changes else None])
    return render_template("auth/audit.html", form=form, pagination=paginate(query, per_page=100))


@bp.route("/admin/users", methods=["GET", "POST"])
@requires("users.manage")
def users():
    """Every user with their role, and a form to add one."""
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                form.email.data, form.role.data, form.password.data,
                facility_id=form.facility_id.data, name=form.name.data or "",
                actor=current_actor(),
            )
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{user.email} can now sign in as {user.role}.", "success")
            return redirect(url_for("auth.users"))
    everyone = db.session.scalars(
        sa.select(User).options(joinedload(User.facility)).order_by(User.role, User.email)).all()
    return render_template("auth/users.html", form=form, users=everyone, active_form=ActiveForm(),
                           locked=services.locked_users(throttle.account_window()), unlock_form=UnlockForm())


@bp.post("/admin/users/<int:user_id>/unlock")
@requires("users.manage")
def unlock(user_id: int):
    """Let a locked-out user try again now rather than wait out the window."""
    user = db.get_or_404(User, user_id)
    if not UnlockForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("auth.users"))
    try:
        throttle.forget_account_failures(user.email)
    except StorageError:
        flash("The server that counts failed sign-ins cannot be reached; nothing was unlocked. Try again shortly.",
              "error")
    else:
        services.unlock(user, current_actor())
        flash(f"{user.email} may sign in again.", "success")
    return redirect(url_for("auth.users"))


@bp.route("/admin/users/<int:user_id>/password", methods=["GET", "POST"])
@requires("users.manage")
def reset_password(user_id: int):
    """An administrator sets a new password for a user who forgot theirs; the user's sessions end."""
    user = db.get_or_404(User, user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(user, form.new_password.data, current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{user.email} has a new password; tell them through a channel you trust.", "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/reset_password.html", form=form, user=user)


@bp.post("/admin/users/<int:user_id>/active")
@requires("users.manage")
def set_active(user_id: int):
    user = db.get_or_404(User, user_id)
    if ActiveForm().validate_on_submit():
        try:
            services.set_active(user, request.form.get("active") == "1", current_actor())
        except DomainError as exc:
            flash(exc.sentence, "error")
        else:
            flash(f"{user.email} is now {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("auth.users"))
