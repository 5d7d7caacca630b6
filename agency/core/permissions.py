"""Roles, what each may do, and the one decorator every route uses."""

from functools import wraps

from flask import abort, g, request
from flask_login import current_user

ROLES = ("admin", "recruiter", "credentialing", "billing", "facility")
STAFF = ("admin", "recruiter", "credentialing", "billing")

# Permission -> roles that hold it. Admin holds every permission. Every visibility decision is a
# line here, and pages, API, CSV and search ask can() of it rather than compare roles themselves.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "therapists.view": STAFF,
    "therapists.edit": ("recruiter", "credentialing"),
    "credentials.view": STAFF,
    "credentials.edit": ("credentialing",),
    "documents.upload": ("credentialing", "recruiter"),
    "documents.download": ("credentialing", "recruiter"),
    "documents.delete": ("credentialing",),
    "worklist.view": ("credentialing", "recruiter"),
    # The rules every derived date follows (CAQH per state, re-credentialing per payer, CE): staff see them,
    # an admin changes them, and every change moves dates across the agency.
    "reference_rules.edit": (),
    # Asking a therapist for documents by private upload link: whoever may upload documents for them.
    "document_requests.send": ("credentialing", "recruiter"),
    # Accepting an upload makes it a credential document: the credentialing team's judgement.
    "document_requests.review": ("credentialing",),
    # Exclusion screening is credentialing work: the runs and their hits, screening a file, and deciding
    # whether a name match is the therapist. A facility never sees a hit (readiness says only "in progress").
    "screenings.view": ("credentialing",),
    "screenings.run": ("credentialing",),
    "screenings.decide": ("credentialing",),
    "users.manage": (),
    "audit.view": (),
    # The outbox by kind of message: each team sees and releases its own mail (core/outbox.py MAIL_KINDS).
    "outbox.credential_mail": ("credentialing",),
    "outbox.billing_mail": ("billing",),
    "outbox.placement_mail": ("recruiter",),
    "outbox.account_mail": (),
    # Facility contacts see their own facility and its placements (scoped by the queries).
    "facilities.view": STAFF + ("facility",),
    "facilities.edit": ("recruiter", "billing"),
    # Where invoices and dunning go: changing it redirects the agency's money mail, so billing decides.
    "facilities.billing_email.edit": ("billing",),
    "facilities.invoicing.edit": ("billing",),
    # How the agency invoices and chases a facility (its invoicing mode, safety stop, why reminders are paused):
    # the agency's own business, never shown to the facility's contact.
    "facilities.internal": STAFF,
    # A facility sees its own contract rates; credentialing staff have no need of prices.
    "rate_cards.view": ("recruiter", "billing", "facility"),
    "rate_cards.notes": ("recruiter", "billing"),
    "rate_cards.edit": ("recruiter", "billing"),
    "assignments.view": ("recruiter", "credentialing", "billing"),
    "assignments.edit": ("recruiter",),
    "placements.view": STAFF + ("facility",),
    "placements.edit": ("recruiter",),
    # What the agency keeps to itself about a placement; a facility contact sees none of it.
    "placements.notes": STAFF,
    "placements.status_reasons": STAFF,
    "readiness.details": STAFF,
    "checkins.details": STAFF,
    # An admin's second look: starting a placement that is not ready.
    "placements.override": (),
    # The compliance watch: placements that are or will become not ready, and the forms that fix them.
    "placements.watch": ("recruiter", "credentialing"),
    # Revenue at risk: what placements that stop being ready would earn. The dollars are a total per
    # placement, not the contract's rates, so credentialing (who clear the causes) see them; facilities never.
    "revenue_at_risk.view": ("recruiter", "credentialing", "billing"),
    "checklist.edit": ("recruiter", "credentialing"),
    # Which of the agency's staff ticked an onboarding item, by email: the facility's pages name nobody's address.
    "checklist.done_by": STAFF,
    "checkins.edit": ("recruiter",),
    "timesheets.view": STAFF + ("facility",),
    "timesheets.edit": ("recruiter", "billing"),
    # The agency's notes on a day of work; the facility approves the hours, not the notes.
    "timesheets.notes": STAFF,
    # Facility contacts approve or reject their own facility's hours (scoped by the queries).
    "timesheets.decide": ("billing", "facility"),
    # Releasing held hours (billed despite a compliance gap) is an admin's call, with a reason.
    "timesheets.release": (),
    "invoices.view": ("billing", "facility"),
    "invoices.edit": ("billing",),
    "payments.record": ("billing",),
    # A facility's contact disputes its own invoices from the portal; billing resolves them, and records the
    # promises to pay it hears by phone or email.
    "disputes.open": ("billing", "facility"),
    "disputes.resolve": ("billing",),
    "promises.record": ("billing",),
    # Collections measured (DSO, promises kept, disputes, collected): the agency's own judgement of its chasing;
    # a facility contact's portal shows what it owes, not how the agency rates it.
    "collections.view": ("billing",),
    "receivables.view": ("billing",),
    # Pausing a facility's payment reminders or sending one now: the dunning screen's changes.
    "dunning.manage": ("billing",),
    # Sending a facility its statement of account now (the schedule sends the others).
    "statements.send": ("billing",),
    # The collection tasks on one's dashboard (a recruiter's accounts, billing's, leadership's = admins').
    "collection_tasks.view": ("recruiter", "billing"),
    "jobs.view": STAFF,
}
# The outbox page is open to whoever may see some kind of message in it.
PERMISSIONS["outbox.view"] = tuple(sorted({role for name, roles in PERMISSIONS.items()
                                           if name.startswith("outbox.") for role in roles}))


def facility_scope(actor) -> int | None:
    """The one facility a facility contact may see; None for agency staff, who see all."""
    return actor.facility_id if actor is not None and actor.role == "facility" else None


def can(user, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.role == "admin" or user.role in PERMISSIONS[permission]


def withheld(model, actor) -> dict[str, None]:
    """The fields of a model this viewer may not see, each as None, for a schema's dump.

    A model names them in __restricted__ = {field: permission}; the pages ask the same
    permissions of can() in their templates.
    """
    return {name: None for name, permission in getattr(model, "__restricted__", {}).items()
            if not can(actor, permission)}


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
