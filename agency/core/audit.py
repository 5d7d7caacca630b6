"""The audit log: who created, changed, deleted or downloaded what, and when."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from agency.core.bounds import id_or_none
from agency.core.constraints import one_of
from agency.core.dates import start_of, utcnow
from agency.core.integrity import flush_or_conflict
from agency.core.listing import contains_text
from agency.extensions import db

ACTIONS = ("create", "update", "delete", "download", "login", "override", "revoke", "verify",
           "login_failed", "lockout", "unlock", "logout", "password_change", "export")


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_object", "object_type", "object_id"),
        # The log filtered by kind (every sign-in is an event) reads its newest page off this index.
        sa.Index("ix_audit_events_action", "action", "occurred_at"),
        one_of("action", ACTIONS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_label: Mapped[str] = mapped_column(sa.String(255))
    action: Mapped[str] = mapped_column(sa.String(20))
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int | None]
    summary: Mapped[str] = mapped_column(sa.String(500))
    changes: Mapped[dict | None] = mapped_column(sa.JSON)

    user = db.relationship("User", lazy="joined")


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def diff(obj, values: dict) -> dict:
    """The {field: [old, new]} of values that really change obj."""
    return {
        key: [_plain(getattr(obj, key)), _plain(new)]
        for key, new in values.items()
        if getattr(obj, key) != new
    }


def _actor(actor):
    """Who acts: the one given, else the signed-in user or API token's, else nobody (the system)."""
    if actor is not None:
        return actor
    from agency.core.permissions import current_actor

    try:
        return current_actor()
    except RuntimeError:
        return None


def record(action: str, obj, summary: str, *, actor=None, changes: dict | None = None,
           object_type: str | None = None, object_id: int | None = None) -> AuditEvent:
    """Add an audit event to the current transaction, so it commits with the change itself.

    A row written without an ORM object (in bulk) is named by object_type and object_id instead.
    """
    actor = _actor(actor)
    if obj is not None and getattr(obj, "id", None) is None:
        # The flush is where a duplicate first meets the database: it is refused as a field error.
        flush_or_conflict()
    event = AuditEvent(
        user_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "email", None) or "system",
        action=action,
        object_type=object_type or getattr(obj, "__audit_type__", type(obj).__name__.lower()),
        object_id=getattr(obj, "id", object_id),
        summary=summary[:500],
        changes={k: _plain(v) for k, v in (changes or {}).items()} or None,
    )
    db.session.add(event)
    return event


def record_all(action: str, events: list[tuple[object, str, dict | None]], *, actor=None) -> None:
    """Audit events of many saved objects ((obj, summary, changes) each) in one statement, in the
    current transaction: what a change of many rows at once (a reassessment) writes, however many."""
    if not events:
        return
    actor, now = _actor(actor), utcnow()
    db.session.execute(sa.insert(AuditEvent), [{
        "occurred_at": now, "user_id": getattr(actor, "id", None),
        "actor_label": getattr(actor, "email", None) or "system", "action": action,
        "object_type": getattr(obj, "__audit_type__", type(obj).__name__.lower()),
        "object_id": obj.id, "summary": summary[:500],
        "changes": {k: _plain(v) for k, v in (changes or {}).items()} or None,
    } for obj, summary, changes in events])


def search(*, action: str | None = None, user: str | None = None, object_type: str | None = None,
           object_id: int | None = None, date_from: date | None = None, date_to: date | None = None,
           text: str | None = None):
    """The events matching every filter given, newest first, as a select() to page or export.

    user is an actor's id, or part of the email they signed as (the label kept on each event, so a
    later change of address does not rewrite history); the days are the agency's, both included.
    """
    query = sa.select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    if user:
        user_id = id_or_none(user)
        query = query.where(AuditEvent.user_id == user_id if user_id else contains_text(user, AuditEvent.actor_label))
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if date_from:
        query = query.where(AuditEvent.occurred_at >= start_of(date_from))
    if date_to:
        query = query.where(AuditEvent.occurred_at < start_of(date_to + timedelta(days=1)))
    if text:
        query = query.where(contains_text(text, AuditEvent.summary))
    return query
