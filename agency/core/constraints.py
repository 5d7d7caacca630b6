"""Table constraints that every area declares the same way."""

import sqlalchemy as sa


def one_of(column: str, values) -> sa.CheckConstraint:
    """A column that holds only one of a fixed list of codes, the constraint named after it.

    The name matters: migrations and the naming convention in extensions.py
    turn it into ck_<table>_<column>, so the schema and the models compare equal.
    """
    return sa.CheckConstraint(sa.column(column).in_(values), name=column)
