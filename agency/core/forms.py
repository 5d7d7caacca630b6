"""Glue between WTForms and the services: form values in, rule violations back beside fields."""

from agency.core.errors import DomainError


def form_values(form, names) -> dict:
    """The named fields' data, with blank text as None so services see one empty value."""
    values = {}
    for name in names:
        value = form[name].data
        if isinstance(value, str):
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
        form.form_errors.append(exc.message)
