"""Every unique constraint in the schema, tripped, is a 409 that names the field and the record holding it."""

import string

import pytest
import sqlalchemy as sa

from agency.core.errors import Conflict
from agency.core.integrity import UNIQUE, flush_or_conflict
from agency.extensions import db


def unique_constraints():
    for table in db.metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                yield table, constraint.name, [c.name for c in constraint.columns]
        for index in table.indexes:
            if index.unique:
                yield table, index.name, [c.name for c in index.columns]


def test_every_unique_constraint_in_the_schema_says_what_it_means(app):
    names = {name for _, name, _ in unique_constraints()}
    assert names and names == set(UNIQUE), names ^ set(UNIQUE)
    for _, name, columns in unique_constraints():
        named = {field for _, field, _, _ in string.Formatter().parse(UNIQUE[name].says) if field}
        assert UNIQUE[name].field and named <= set(columns), (name, named - set(columns))


def _model(table):
    return next(m.class_ for m in db.Model.registry.mappers if m.local_table is table)


def _copy_holding(table, name, columns):
    """A new row with the same values as a saved one under this constraint, and fresh ones under the others."""
    model = _model(table)
    mapper = sa.inspect(model)
    held = [table.c[c].is_not(None) for c in columns]
    # A partial unique index holds only the rows its condition picks: the row copied must be one of them.
    index = next((i for i in table.indexes if i.name == name), None)
    if index is not None and index.dialect_options["sqlite"]["where"] is not None:
        held.append(index.dialect_options["sqlite"]["where"])
    saved = db.session.scalar(sa.select(model).where(*held).limit(1))
    assert saved is not None, f"the demo agency has no {table.name} row to copy for {name}"
    copy = model()
    for column in table.columns:
        if not column.primary_key:
            setattr(copy, mapper.get_property_by_column(column).key,
                    getattr(saved, mapper.get_property_by_column(column).key))
    for other_table, other, other_columns in unique_constraints():
        if other_table is not table or other == name or not set(other_columns) - set(columns):
            continue
        # A column of codes (a check names it) takes no fresh text: another column of the constraint does.
        coded = {c.name.removeprefix(f"ck_{table.name}_") for c in table.constraints
                 if isinstance(c, sa.CheckConstraint) and isinstance(c.name, str)}
        left = [c for c in other_columns if c not in columns]
        free = table.c[next((c for c in left if c not in coded), left[0])]
        setattr(copy, mapper.get_property_by_column(free).key, _fresh(free, getattr(saved, free.key), name))
    return saved, copy


def _fresh(column, held, name):
    """A value of the column no saved row holds with the copy's others: none, a new text, or another parent."""
    if column.nullable:
        return None
    if column.foreign_keys:
        (key,) = column.foreign_keys
        return db.session.scalar(sa.select(sa.func.min(key.column)).where(key.column != held))
    return f"fresh-{name}"[: column.type.length]


def test_each_unique_constraint_tripped_is_a_conflict_naming_the_field_and_the_holder(app):
    from agency.demo import seed

    seed(log=lambda *a, **k: None)
    db.session.commit()
    _make_the_rows_the_demo_leaves_out()
    for table, name, columns in unique_constraints():
        saved, copy = _copy_holding(table, name, columns)
        holder = saved.id
        db.session.add(copy)
        with pytest.raises(Conflict) as refused:
            flush_or_conflict()
        field = UNIQUE[name].field
        assert list(refused.value.fields) == [field], (name, refused.value.fields)
        assert refused.value.message.startswith(f"{field}: "), name
        assert f"(id {holder})" in refused.value.message, (name, refused.value.message)
        assert refused.value.status == 409


def _make_the_rows_the_demo_leaves_out():
    from datetime import date

    from agency.auth.models import User
    from agency.auth.services import issue_token
    from agency.billing.runs import create_invoice_run
    from agency.credentials.models import CredentialReminder, License
    from agency.placements.models import Assignment, AssignmentAlert

    user = db.session.scalar(sa.select(User).limit(1))
    user.calendar_token = "a-calendar-link"
    issue_token(user)
    license = db.session.scalar(sa.select(License).limit(1))
    db.session.add(CredentialReminder(item_kind="license", item_id=license.id, due_on=license.expires_on,
                                      threshold=30, sent_on=date(2026, 11, 1), therapist_id=license.therapist_id))
    assignment = db.session.scalar(sa.select(Assignment).limit(1))
    db.session.add(AssignmentAlert(assignment_id=assignment.id, therapist_id=license.therapist_id))
    db.session.commit()
    create_invoice_run(date(2026, 11, 1), date(2026, 11, 30), facility_ids=[assignment.facility_id])
