"""Table constraints that every area declares the same way, and checks against them."""

import sqlalchemy as sa

from agency.core.errors import ValidationError


def one_of(column: str, values) -> sa.CheckConstraint:
    """A column that holds only one of a fixed list of codes, the constraint named after it.

    The name matters: migrations and the naming convention in extensions.py
    turn it into ck_<table>_<column>, so the schema and the models compare equal.
    """
    return sa.CheckConstraint(sa.column(column).in_(values), name=column)


def check_lengths(model, values: dict, label=lambda key: key) -> None:
    """Refuse text longer than its column holds, which PostgreSQL would refuse halfway through a write."""
    for key, value in values.items():
        length = getattr(getattr(model.__table__.c.get(key), "type", None), "length", None)
        if isinstance(value, str) and length and len(value) > length:
            raise ValidationError.on(label(key), f"must be at most {length} characters")
