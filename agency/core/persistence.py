"""A service's transaction: its write lock taken before it reads what it checks, and its commit.

Two requests that read, check and write the same thing (an invoice's balance,
a therapist's hours on a day) must not both pass the check on what they read
before the other wrote. Each such service calls lock() on the row that stands
for the thing, first, and the rest follows from it:

- PostgreSQL: SELECT ... FOR NO KEY UPDATE waits for the other writer of the
  row to commit and then reads its result into the session (populate_existing),
  so the check runs on current values.
- SQLite: locks are per database, not per row, so the first lock() of a
  transaction begins it with BEGIN IMMEDIATE, which takes the one write lock up
  front; a second writer waits for it (up to DATABASE_BUSY_TIMEOUT), then reads
  what the first committed. Plain reads hold no lock beyond their own statement.

Services lock in one order, so that no two wait on each other in a circle:
facility, then invoice or timesheet entry, then placement, then therapist, then
checklist item, check-in or invoice counter. Should two writers deadlock all the
same (two CSV imports listing the same placements in opposite orders), or
SQLite stay busy past the timeout, the loser is refused cleanly (contention()).
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from agency.core.errors import Conflict, DomainError, ServiceUnavailable
from agency.extensions import db

# PostgreSQL SQLSTATEs of two transactions that could not both go on: serialization failure, deadlock.
PG_CONFLICTS = ("40001", "40P01")


def write_transaction() -> None:
    """Make the session's transaction a write transaction before it reads; on SQLite, BEGIN IMMEDIATE."""
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return  # row locks do the work; see lock()
    # pysqlite begins a transaction of its own only before an INSERT, UPDATE or DELETE, and one that
    # has written already holds the write lock; otherwise begin ours, taking the lock now.
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock(model, ident):
    """The row of model with this primary key, locked until commit and read afresh; None if it is gone."""
    return next(iter(lock_all(model, [ident])), None)


def lock_value(kind: str, value: str) -> None:
    """Hold, until commit, the right to write one value no other record may hold in any letter case.

    A unique constraint compares values as typed, so "Riverside" and "riverside" would both pass
    it and a case-blind check before it; two writers of the same value wait here for each other
    instead, and the second then finds the first's record. On SQLite the write lock does it.
    """
    write_transaction()
    if db.session.connection().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(
            f"{kind}:{value.casefold()}", 0))))


def lock_all(model, idents) -> list:
    """Rows of model by primary key, locked in key order (so two callers never deadlock) and read afresh.

    FOR NO KEY UPDATE is the lock an UPDATE takes: it leaves alone the inserts of
    rows that merely refer to the locked one (an entry of a locked placement).
    """
    write_transaction()
    key = sa.inspect(model).primary_key[0]
    return list(db.session.scalars(
        sa.select(model).where(key.in_(sorted(set(idents)))).order_by(key)
        .with_for_update(key_share=True).execution_options(populate_existing=True)
    ))


def contention(exc: DBAPIError) -> DomainError | None:
    """The clean refusal for a write that lost to another at the same moment, or None for other failures."""
    if getattr(exc.orig, "sqlstate", None) in PG_CONFLICTS:
        return Conflict("Another change to the same records was saved at the same moment; "
                        "nothing was changed; please try again.")
    if "database is locked" in str(exc.orig):
        return ServiceUnavailable("The database is busy with another change; nothing was changed; "
                                  "please try again in a moment.")
    return None


def insert_new(model, rows: list[dict], returning=()) -> list:
    """Insert the rows whose unique keys are free, leaving the others alone: INSERT ... ON CONFLICT DO NOTHING.

    With returning columns, gives those of the rows really inserted, so a caller racing
    another writer acts only on what it wrote itself (a second writer of a key waits
    for the first to commit, then skips it). SQLite has both since 3.35.
    """
    if not rows:
        return []
    dialect = db.session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # On the table, not the ORM class, and with the rows as parameters: one cached statement that
    # SQLAlchemy sends as multi-row VALUES pages ("insertmanyvalues"), instead of compiling a new one per batch.
    statement = insert(model.__table__).on_conflict_do_nothing()
    if not returning:
        db.session.execute(statement, rows)
        return []
    return db.session.execute(statement.returning(*returning), rows).all()


def remove_sqlite_file(path: Path) -> None:
    """Delete a scratch SQLite database with its write-ahead log and journal: a log left behind would be
    read into the next database made at that path."""
    for leftover in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)


def empty_every_table() -> None:
    """Delete every row of every table and restart identities; the schema and its migration version stay."""
    db.session.remove()
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        # Only the tables holding rows are truncated (truncating all of them costs a fresh file each), and
        # only the sequences used are restarted. A truncated table is a fresh file, so its rows come back in
        # the order they went in, as from a new database; deleted rows would leave gaps new ones fill.
        with db.engine.begin() as conn:
            held = conn.scalars(sa.text(" UNION ALL ".join(
                f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {t.name})" for t in tables))).all()
            if held:
                conn.execute(sa.text(f"TRUNCATE {', '.join(held)} CASCADE"))
            used = conn.scalars(sa.text("SELECT quote_ident(sequencename) FROM pg_sequences "
                                        "WHERE schemaname = current_schema() AND last_value IS NOT NULL")).all()
            if used:
                conn.execute(sa.text("; ".join(f"ALTER SEQUENCE {name} RESTART" for name in used)))
        return
    with db.engine.connect() as conn:
        # A privilege points at its home license in the same table: rows go in any order only with
        # foreign keys off, which SQLite switches only outside a transaction.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        for table in tables:
            conn.execute(table.delete())
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
