"""The one place a constraint the database refused becomes a field error a person can act on.

Services check their rules first, but two requests can still race past a
check, and some facts only the database knows. Whatever trips a constraint
(at a flush in audit.record, at a service's commit, or anywhere else, through
the app's last-resort error handler) becomes the same refusal: the field, and
the record that already holds the value. Constraint names are stable because
of the naming convention in agency/extensions.py.
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agency.core.errors import Conflict, DomainError, ValidationError
from agency.extensions import db


@dataclass(frozen=True)
class Unique:
    """What a unique constraint means: the field to blame and a sentence over the taken values."""

    field: str
    says: str  # str.format() over the constraint's column values


UNIQUE = {
    "uq_facilities_name": Unique("name", "a facility named {name!r} exists"),
    "uq_facility_contacts_facility_id_role_email": Unique(
        "email", "{email} is already this facility's {role} contact"),
    "uq_therapists_email": Unique("email", "a therapist with email {email} exists"),
    "uq_therapists_npi": Unique("npi", "a therapist with NPI {npi} exists"),
    "uq_licenses_state_license_type_number": Unique(
        "number", "a {state} {license_type} license number {number} is already on file"),
    "uq_panel_enrollments_therapist_id_payer": Unique(
        "payer", "the therapist already has an enrollment with {payer}"),
    "uq_ce_rules_state_license_type": Unique(
        "license_type", "a CE rule for {state} {license_type} exists"),
    "uq_ce_topic_requirements_rule_id_topic": Unique("topics", "the rule already lists {topic}"),
    "uq_document_requests_token_hash": Unique("token", "this upload link is already given out"),
    "uq_document_request_items_request_id_doc_type": Unique("doc_types", "the request already asks for {doc_type}"),
    "uq_document_request_items_storage_name": Unique("file", "a stored file of this name exists"),
    "uq_document_request_items_open": Unique(
        "doc_types", "{doc_type} is already asked of this therapist by a request still in play"),
    "uq_exclusion_hits_screening_id_therapist_id": Unique(
        "therapist_id", "the screening already lists therapist {therapist_id}"),
    "uq_caqh_rules_state": Unique("state", "a CAQH rule for {state} exists"),
    "uq_payer_rules_payer": Unique("payer", "a re-credentialing rule for {payer} exists"),
    "uq_users_email": Unique("email", "a user with email {email} exists"),
    "uq_users_calendar_token": Unique("calendar_token", "this calendar link is already given out"),
    "uq_api_tokens_token_hash": Unique("token", "this API token is already issued"),
    "uq_documents_storage_name": Unique("file", "a stored file of this name exists"),
    "uq_outbox_messages_dedupe_key": Unique("dedupe_key", "the message {dedupe_key} is already queued"),
    "uq_credential_reminders_item_kind_item_id_due_on_threshold": Unique(
        "threshold", "the {threshold}-day reminder for this {item_kind} due {due_on} is already queued"),
    "uq_rates_rate_card_id_item_discipline": Unique(
        "rates", "the rate card already has a {item} rate for {discipline}"),
    "uq_assignment_alerts_assignment_id_therapist_id": Unique(
        "therapist_id", "the assignment was already sent to therapist {therapist_id}"),
    "uq_checklist_items_placement_id_key": Unique("key", "the placement's checklist already has {key}"),
    "uq_checkins_placement_id_day": Unique("day", "the placement already has its {day}-day check-in"),
    "uq_timesheet_entries_placement_id_work_date": Unique(
        "work_date", "placement {placement_id} already has an entry on {work_date}"),
    "uq_invoices_number": Unique("number", "invoice number {number} is taken; try again"),
    "uq_facility_contacts_approver": Unique(
        "approver", "the facility already has a {approver} approver; unmark them first"),
    "uq_approval_chases_entry_id_step": Unique(
        "step", "the {step} reminder of this entry is already sent"),
    "uq_statements_facility_id_as_of_kind": Unique(
        "as_of", "the {kind} statement of this facility on {as_of} is already sent"),
    "uq_dunning_notices_invoice_id_level": Unique(
        "level", "reminder level {level} of this invoice is already sent"),
    "uq_billed_entries_live_entry": Unique(
        "entry_id", "timesheet entry {entry_id} is already on a live invoice"),
    "uq_line_sources_line_id_entry_id": Unique(
        "entry_id", "timesheet entry {entry_id} is already a source of this line"),
    "uq_disputes_open_invoice": Unique("invoice_id", "the invoice already has an open dispute; add to it"),
    "uq_payment_promises_open_invoice": Unique(
        "invoice_id", "the invoice already has an open promise to pay; wait for its day or record a payment"),
    "uq_collection_tasks_key": Unique("key", "this collections task exists already"),
    "uq_invoice_run_facilities_run_id_facility_id": Unique(
        "facility_id", "facility {facility_id} is already in this invoice run"),
}


def duplicate(constraint: str, values: dict, holder_id: int | None = None) -> Conflict:
    """The refusal of values another record holds under a unique constraint: the field and that record."""
    meaning = UNIQUE[constraint]
    message = meaning.says.format_map(_Blank(values))
    if holder_id is not None:
        message += f" (id {holder_id})"
    return Conflict(f"{meaning.field}: {message}", {meaning.field: [message]})


class _Blank(dict):
    # A value the failed statement did not show still leaves a readable sentence.
    def __missing__(self, key):
        return "this"


# --------------------------------------------------------------------------- reading the error

_SQLITE = {
    "unique": re.compile(r"UNIQUE constraint failed: (?P<columns>.+)$"),
    "not_null": re.compile(r"NOT NULL constraint failed: (?P<columns>.+)$"),
    "check": re.compile(r"CHECK constraint failed: (?P<name>\w+)"),
    "foreign_key": re.compile(r"FOREIGN KEY constraint failed"),
}
_POSTGRES = {"23505": "unique", "23502": "not_null", "23514": "check", "23503": "foreign_key"}


@dataclass
class Violation:
    kind: str  # unique, not_null, check, foreign_key or unknown
    table: sa.Table | None = None
    name: str | None = None
    columns: tuple[str, ...] = ()


def violation(exc: IntegrityError) -> Violation:
    """Which constraint an IntegrityError broke, from PostgreSQL's diagnostics or SQLite's message."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None:
        kind = _POSTGRES.get(getattr(orig, "sqlstate", None), "unknown")
        table = db.metadata.tables.get(diag.table_name or "")
        columns = (diag.column_name,) if diag.column_name else ()
        found = Violation(kind, table, diag.constraint_name, columns)
        return _with_columns(found)
    text = str(orig)
    for kind, pattern in _SQLITE.items():
        match = pattern.search(text)
        if match is None:
            continue
        found = Violation(kind, name=match.groupdict().get("name"))
        if match.groupdict().get("columns"):
            pairs = [part.strip().split(".", 1) for part in match["columns"].split(",")]
            found.table = db.metadata.tables.get(pairs[0][0])
            found.columns = tuple(pair[-1] for pair in pairs)
        return _with_columns(found)
    return Violation("unknown")


def _unique_constraints(table: sa.Table):
    yield from ((c.name, tuple(col.name for col in c.columns))
                for c in table.constraints if isinstance(c, sa.UniqueConstraint))
    yield from ((i.name, tuple(col.name for col in i.columns)) for i in table.indexes if i.unique)


def _with_columns(found: Violation) -> Violation:
    """Fill in the constraint's name from its columns (SQLite) or its columns from its name (PostgreSQL)."""
    tables = [found.table] if found.table is not None else db.metadata.tables.values()
    for table in tables:
        if found.kind == "unique":
            for name, columns in _unique_constraints(table):
                if name == found.name or (found.name is None and set(columns) == set(found.columns)):
                    return Violation("unique", table, name, columns)
        if found.kind == "check" and found.name:
            for constraint in table.constraints:
                if isinstance(constraint, sa.CheckConstraint) and constraint.name == found.name:
                    column = found.name.removeprefix(f"ck_{table.name}_")
                    return Violation("check", table, found.name, (column,))
    return found


# --------------------------------------------------------------------------- turning it into a refusal


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _remember_writes(session, flush_context, instances):
    # A failed flush leaves session.new empty, and the rollback expires what was dirty: keep hold
    # of what this flush writes so a refusal can say which values were taken.
    session.info["integrity.writes"] = list(session.new) + list(session.dirty)


def _attempted(table: sa.Table, columns: tuple[str, ...]) -> list[dict]:
    """The values the failed flush tried to write into table's columns, read before the rollback."""
    attempts = []
    for obj in db.session.info.get("integrity.writes", ()):
        state = sa.inspect(obj)
        if table not in state.mapper.tables:
            continue
        values = {}
        for name in columns:
            prop = state.mapper.get_property_by_column(table.c[name])
            values[name] = state.dict.get(prop.key)
        if all(v is not None for v in values.values()):
            attempts.append(values)
    return attempts


def _partial(table: sa.Table, name: str):
    """The condition of a partial unique index (the rows it holds), or None for a whole-table constraint."""
    index = next((i for i in table.indexes if i.name == name), None)
    return None if index is None else index.dialect_options["sqlite"]["where"]


def _holder(table: sa.Table, name: str, values: dict) -> int | None:
    key = next(iter(table.primary_key.columns))
    query = sa.select(key).where(*(table.c[column] == value for column, value in values.items()))
    if (condition := _partial(table, name)) is not None:
        query = query.where(condition)
    return db.session.scalar(query.limit(1))


def refuse_taken(obj) -> None:
    """Refuse a new record, before it is written, whose values another record holds under a unique constraint."""
    state = sa.inspect(obj)
    table = state.mapper.local_table
    for name, columns in _unique_constraints(table):
        values = {c: state.dict.get(state.mapper.get_property_by_column(table.c[c]).key) for c in columns}
        # A partial index holds only some rows, which the new one may not be: the database decides those.
        if name in UNIQUE and _partial(table, name) is None and all(v is not None for v in values.values()):
            if (holder := _holder(table, name, values)) is not None:
                raise duplicate(name, values, holder)


def refusal(exc: IntegrityError) -> DomainError:
    """The field error that a refused write means; the session is rolled back, so nothing changed."""
    found = violation(exc)
    attempts = _attempted(found.table, found.columns) if found.kind == "unique" and found.table is not None else []
    db.session.info.pop("integrity.writes", None)
    db.session.rollback()
    if found.kind == "unique" and found.name in UNIQUE:
        for values in attempts:
            if (holder := _holder(found.table, found.name, values)) is not None:
                return duplicate(found.name, values, holder)
        return duplicate(found.name, attempts[0] if attempts else {})
    field = found.columns[0] if found.columns else None
    if found.kind == "not_null" and field:
        return ValidationError.on(field, "is required")
    if found.kind == "check" and field:
        return ValidationError.on(field, "is not one of the values this field takes")
    if found.kind == "foreign_key":
        return Conflict("the record refers to one that no longer exists, or others still refer to it")
    return Conflict("the change conflicts with a record saved at the same time; reload and try again")


def flush_or_conflict() -> None:
    """Flush; a constraint the write trips is a field error that changed nothing."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise refusal(exc) from None


def commit_or_conflict(message: str | None = None) -> None:
    """Commit; a constraint the write trips (a concurrent writer got there first) is a field error.

    A service that knows what the clash means for its user says so in message.
    """
    try:
        db.session.commit()
    except IntegrityError as exc:
        refused = refusal(exc)
        raise (Conflict(message, refused.fields) if message else refused) from None
