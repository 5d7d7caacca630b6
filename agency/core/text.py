"""What user text may hold: one-line fields without control characters, and email addresses.

Each rule is one function here; the API fields, the page forms and the
services (for CSV imports and the command line) all call it.
"""

import re

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from agency.core.constraints import check_lengths
from agency.core.errors import ValidationError

# C0 controls and DEL. A carriage return or line feed in a name ends up in a mail header, where it
# starts a header of its own; nothing a person types on one line needs any of them.
# C1 controls (NEL among them) and the Unicode line and paragraph separators break a line too.
SINGLE_LINE_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
# Notes and other free text keep their tabs and line breaks (browsers send a textarea's as CR LF).
MULTILINE_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL = re.compile(f"[{SINGLE_LINE_CONTROLS}]")
_CONTROL_IN_TEXT = re.compile(f"[{MULTILINE_CONTROLS}]")


def check_line(value: str, *, multiline: bool = False) -> str:
    """value when it holds no control characters (free text may hold line breaks and tabs)."""
    if (_CONTROL_IN_TEXT if multiline else _CONTROL).search(value):
        raise ValueError("must not contain control characters" if multiline
                         else "must be one line, without line breaks, tabs or other control characters")
    return value


def email_address(value: str) -> str:
    """The one form an address is kept and compared in: email-validator's, all lower-case.

    Mailboxes are case-insensitive in practice, so Dana.Rivera@ and dana.rivera@ are one person.
    """
    try:
        return validate_email(check_line(value or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def normalise_email(value: str, field: str = "email") -> str:
    """email_address() for a service, refusing with the field named."""
    try:
        return email_address(value)
    except ValueError as exc:
        raise ValidationError.on(field, str(exc)) from None


def check_text(model, values: dict, label=lambda key: key) -> None:
    """Refuse text its column cannot hold: too long, or control characters in a one-line column.

    A Text column holds free text (notes) and keeps its line breaks; a String column, or a list
    of names (payers, specialties), is one line each.
    """
    for key, value in values.items():
        column = model.__table__.c.get(key)
        if column is None:
            continue
        multiline = isinstance(column.type, sa.Text)
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    check_line(text, multiline=multiline)
                except ValueError as exc:
                    raise ValidationError.on(label(key), str(exc)) from None
    check_lengths(model, values, label)
