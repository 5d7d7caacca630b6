"""Signing in and out, and each user's API tokens."""

import json
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from agency.auth import services, throttle
from agency.auth.forms import ActiveForm, AuditFilterForm, LoginForm, NewTokenForm, RevokeTokenForm, UserForm
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
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


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
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            throttle.sign_in_failed()
            flash("That email and password do not match an active account.", "error")
        else:
            throttle.sign_in_succeeded()
            login_user(user)
            flash(f"Welcome back, {user.display_name}.", "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.home"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
@public
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


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
    everyone = db.session.scalars(sa.select(User).order_by(User.role, User.email)).all()
    return render_template("auth/users.html", form=form, users=everyone, active_form=ActiveForm())


@bp.post("/admin/users/<int:user_id>/active")
@requires("users.manage")
def set_active(user_id: int):
    user = db.get_or_404(User, user_id)
    if ActiveForm().validate_on_submit():
        try:
            services.set_active(user, request.form.get("active") == "1", current_actor())
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(f"{user.email} is now {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("auth.users"))
