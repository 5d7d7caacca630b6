"""Glue between WTForms and the services: form values in, rule violations back beside fields."""

from decimal import Decimal

from flask import flash
from wtforms import DateField, DecimalField, EmailField, IntegerField, StringField, TextAreaField
from wtforms.validators import StopValidation, ValidationError

from agency.core.bounds import MAX_AMOUNT, MAX_ID, check_day
from agency.core.csvimport import decode
from agency.core.errors import DomainError
from agency.core.errors import ValidationError as DomainValidationError
from agency.core.text import check_line, email_address


class DayField(DateField):
    """A date the agency's records can hold: the year 0001 is a typo, not a license."""

    def pre_validate(self, form):
        if self.data is not None:
            try:
                check_day(self.data)
            except ValueError as exc:
                raise ValidationError(f"The date {exc}.") from None


class NumberField(DecimalField):
    """A decimal the database can hold: not infinite, not past a money column's size."""

    def pre_validate(self, form):
        # Only typed values are Decimals; a field left out keeps the form's own default. Stops the chain: a
        # range check would turn the number into a float, which a signalling NaN ("sNaN") cannot become.
        if isinstance(self.data, Decimal) and (not self.data.is_finite() or abs(self.data) >= MAX_AMOUNT):
            raise StopValidation(f"Enter a number below {MAX_AMOUNT:,}.")


class WholeNumberField(IntegerField):
    """A whole number a record can hold: a typo of 400 digits is refused beside the field."""

    def pre_validate(self, form):
        # Stops the chain: a range check would compare the number as a float, which it cannot be.
        if isinstance(self.data, int) and abs(self.data) > MAX_ID:
            raise StopValidation(f"Enter a whole number below {MAX_ID + 1:,}.")


class LineField(StringField):
    """One line of text (a name, a title, a reference): the rule of core.text, beside the field."""

    def pre_validate(self, form):
        try:
            check_line(self.data or "")
        except ValueError as exc:
            raise ValidationError(f"Must {str(exc).removeprefix('must ')}.") from None


class EmailAddressField(EmailField):
    """An email address, checked by the same function the services normalise it with."""

    def pre_validate(self, form):
        if self.data:
            try:
                email_address(self.data)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None


class _ListAsText:
    """A list the model keeps, edited as text: render turns the model's list into that text.

    The form shows the text, and a request that leaves the box out keeps the
    model's list as it was.
    """

    def __init__(self, *args, render, **kwargs):
        super().__init__(*args, **kwargs)
        self.render = render

    def process_data(self, value):
        super().process_data(self.render(value) if value is not None and not isinstance(value, str) else value)


class ListInput(_ListAsText, LineField):
    pass


class ListTextArea(_ListAsText, TextAreaField):
    pass


def form_values(form, names) -> dict:
    """The named fields' data, with blank text as None so services see one empty value.

    Text outside a text area is one line (a form that predates LineField still gets the rule).
    """
    values = {}
    for name in names:
        value = form[name].data
        if isinstance(value, str):
            try:
                check_line(value, multiline=isinstance(form[name], TextAreaField))
            except ValueError as exc:
                raise DomainValidationError.on(name, str(exc)) from None
            value = value.strip() or None
        values[name] = value
    return values


def show_errors(form, exc: DomainError) -> None:
    """Put a refused request's messages beside the fields they are about."""
    placed = False
    for name, messages in exc.fields.items():
        if name in form:
            form[name].errors = list(form[name].errors) + list(messages)
            placed = True
    if not placed:
        form.form_errors.append(exc.sentence)


def errors_sentence(form) -> str:
    """A form's field errors as one sentence, for a form posted from a panel of another page."""
    return "; ".join(f"{form[name].label.text}: {messages[0]}" for name, messages in form.errors.items())


def read_text_upload(field, limit_mb: int) -> str | None:
    """An uploaded CSV as text, or None with the reason beside the field.

    Reads one byte past the cap so an oversized file is refused without being
    held in memory whole; the import itself (core.csvimport) refuses what is not a CSV.
    """
    limit = limit_mb * 1024 * 1024
    raw = field.data.read(limit + 1)
    if len(raw) > limit:
        field.errors = [f"the file is larger than {limit_mb} MB; split it"]
        return None
    try:
        return decode(raw)
    except ValueError as exc:
        field.errors = [str(exc)]
        return None


def flash_import_report(report, dry_run: bool, imported: str) -> None:
    """The one message after a CSV import or its dry run."""
    if report.errors:
        flash(f"{len(report.errors)} problem(s) found; nothing was imported.", "error")
    elif dry_run:
        flash(f"All {report.rows} rows are good. Untick dry run to import them.", "success")
    else:
        flash(imported, "success")
