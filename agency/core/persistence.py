"""Committing a service's transaction."""

from sqlalchemy.exc import IntegrityError

from agency.core.errors import Conflict
from agency.extensions import db


def commit_or_conflict(message: str, fields: dict | None = None) -> None:
    """Commit; a unique constraint tripped by a concurrent writer becomes a 409 that changed nothing."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(message, fields) from None
