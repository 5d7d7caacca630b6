"""The outbox pages: every area's queued mail, each team seeing and releasing its own kinds."""

from flask import Blueprint, flash, redirect, render_template, url_for

from agency.core.errors import DomainError
from agency.core.listing import paginate
from agency.core.outbox import outbox_query, release_unconfirmed, visible_kinds, visible_message
from agency.core.permissions import current_actor, requires

bp = Blueprint("outbox", __name__)


@bp.get("/outbox")
@requires("outbox.view")
def messages():
    actor = current_actor()
    pagination = paginate(outbox_query(actor), per_page=100)
    return render_template("outbox/messages.html", pagination=pagination, kinds=visible_kinds(actor))


@bp.post("/outbox/<int:message_id>/release")
@requires("outbox.view")
def release(message_id: int):
    message = visible_message(current_actor(), message_id)
    try:
        release_unconfirmed(message, current_actor())
    except DomainError as exc:
        flash(f"Not released. {exc.sentence}", "error")
    else:
        flash(f"The email to {message.to_addr} goes out with the next send.", "success")
    return redirect(url_for(".messages"))
