"""The audit log: who created, changed, deleted or downloaded what, and when."""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from agency.core.constraints import one_of
from agency.core.dates import utcnow
from agency.core.integrity import flush_or_conflict
from agency.extensions import db

ACTIONS = ("create", "update", "delete", "download", "login", "override", "revoke", "verify",
           "login_failed", "lockout", "unlock", "logout", "password_change", "export")


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_object", "object_type", "object_id"),
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


def record(action: str, obj, summary: str, *, actor=None, changes: dict | None = None,
           object_type: str | None = None, object_id: int | None = None) -> AuditEvent:
    """Add an audit event to the current transaction, so it commits with the change itself.

    A row written without an ORM object (in bulk) is named by object_type and object_id instead.
    """
    if actor is None:
        from agency.core.permissions import current_actor

        try:
            actor = current_actor()
        except RuntimeError:
            actor = None
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
