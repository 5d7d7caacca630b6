"""Roles, what each may do, and the one decorator every route uses."""

from functools import wraps

from flask import abort, g, request
from flask_login import current_user

ROLES = ("admin", "recruiter", "credentialing", "billing", "facility")
STAFF = ("admin", "recruiter", "credentialing", "billing")

# Permission -> roles that hold it. Admin holds every permission.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "therapists.view": STAFF,
    "therapists.edit": ("recruiter", "credentialing"),
    "credentials.view": STAFF,
    "credentials.edit": ("credentialing",),
    "documents.upload": ("credentialing", "recruiter"),
    "documents.download": ("credentialing", "recruiter"),
    "documents.delete": ("credentialing",),
    "worklist.view": ("credentialing", "recruiter"),
    "ce_rules.edit": (),
    "users.manage": (),
    "audit.view": (),
    "outbox.view": ("credentialing",),
    # Facility contacts see their own facility and its placements (scoped by the queries).
    "facilities.view": STAFF + ("facility",),
    "facilities.edit": ("recruiter", "billing"),
    "rate_cards.edit": ("recruiter", "billing"),
    "assignments.view": ("recruiter", "credentialing", "billing"),
    "assignments.edit": ("recruiter",),
    "placements.view": STAFF + ("facility",),
    "placements.edit": ("recruiter",),
    "checklist.edit": ("recruiter", "credentialing"),
    "checkins.edit": ("recruiter",),
    "timesheets.view": STAFF + ("facility",),
    "timesheets.edit": ("recruiter", "billing"),
    # Facility contacts approve or reject their own facility's hours (scoped by the queries).
    "timesheets.decide": ("billing", "facility"),
    "invoices.view": ("billing", "facility"),
    "invoices.edit": ("billing",),
    "payments.record": ("billing",),
    "receivables.view": ("billing",),
    "jobs.view": STAFF,
}


def facility_scope(actor) -> int | None:
    """The one facility a facility contact may see; None for agency staff, who see all."""
    return actor.facility_id if actor is not None and actor.role == "facility" else None


def can(user, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.role == "admin" or user.role in PERMISSIONS[permission]


def current_actor():
    """The user behind this request: the API token's owner, or the logged-in user."""
    if request.path.startswith("/api/"):
        return g.get("api_user")
    return current_user if current_user.is_authenticated else None


def requires(*permissions: str):
    """Allow the route only to users holding every listed permission.

    Pages send anonymous users to the login page; the API answers 401 (no or
    bad token, handled before this) and 403 for a role that may not.
    """
    for permission in permissions:
        if permission not in PERMISSIONS:
            raise KeyError(f"unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = current_actor()
            if actor is None:
                if request.path.startswith("/api/"):
                    abort(401)
                from agency.extensions import login_manager

                return login_manager.unauthorized()
            if not all(can(actor, p) for p in permissions):
                abort(403, "Your role may not do this.")
            return view(*args, **kwargs)

        wrapper.required_permissions = permissions
        return wrapper

    return decorator


def public(view):
    """Mark a route that anyone may reach (login page, OpenAPI document)."""
    view.is_public = True
    return view
