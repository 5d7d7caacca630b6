"""Credentialing pages."""

from flask import Blueprint

from agency.core.permissions import requires

bp = Blueprint("credentials", __name__)


@bp.get("/worklist")
@requires("worklist.view")
def worklist():
    return "worklist"


@bp.get("/therapists")
@requires("therapists.view")
def therapists():
    return "therapists"


@bp.get("/ce-rules")
@requires("credentials.view")
def ce_rules():
    return "ce rules"


@bp.get("/outbox")
@requires("outbox.view")
def outbox():
    return "outbox"
