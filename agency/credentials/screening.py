"""Exclusion screening: therapists matched against the OIG LEIE and state Medicaid exclusion files.

A file is read once, row by row as it streams (the LEIE holds some 80,000 rows), and every row
is matched against keys of every therapist loaded up front: NPIs, and last name + first name +
state. Nothing is stored unless every line of the file is good; then the run (the dated evidence:
which file, its checksum, how many rows and therapists) and its hits commit together.
"""

import csv
import hashlib
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy.orm import joinedload

from agency.core import audit
from agency.core.dates import human_day, today, utcnow
from agency.core.errors import Conflict, ValidationError
from agency.core.jobs import job
from agency.core.outbox import queue_emails, send_outbox
from agency.core.persistence import write_transaction
from agency.core.states import is_state, npi_is_valid
from agency.core.text import check_line
from agency.credentials.models import SCREENING_SOURCES, ExclusionHit, ExclusionScreening, License, Therapist
from agency.extensions import db

# The LEIE's 18 documented columns (OIG, "LEIE Downloadable Databases"), in the file's order. A state
# Medicaid list is accepted in this same layout: the agency maps its state's list into these columns.
COLUMNS = ("LASTNAME", "FIRSTNAME", "MIDNAME", "BUSNAME", "GENERAL", "SPECIALTY", "UPIN", "NPI", "DOB",
           "ADDRESS", "CITY", "STATE", "ZIP", "EXCLTYPE", "EXCLDATE", "REINDATE", "WAIVERDATE", "WVRSTATE")
DATE_COLUMNS = ("DOB", "EXCLDATE", "REINDATE", "WAIVERDATE")
# The LEIE writes "no date" and "no NPI" as zeros; a blank cell is read the same way.
NO_DATE = "00000000"
NO_NPI = "0000000000"
SOURCE_LABELS = {"oig_leie": "OIG LEIE", "state_medicaid": "state Medicaid exclusion list"}
# A file with this many bad lines is refused without reading on: the list is what needs fixing.
MAX_ERRORS = 20


def source_label(source: str, list_state: str | None = None) -> str:
    """How a page names the list: "OIG LEIE", "NY Medicaid exclusion list"."""
    if source == "state_medicaid":
        return f"{list_state} Medicaid exclusion list"
    return SOURCE_LABELS[source]


def name_key(text: str | None) -> str:
    """A name as it is compared: accents, case, spaces and punctuation dropped ("O'Brien-Smith" = "OBRIENSMITH")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return re.sub(r"[^A-Z]", "", "".join(c for c in decomposed if not unicodedata.combining(c)).upper())


# ----------------------------------------------------------------------------- reading the file


@dataclass(frozen=True)
class ExclusionRow:
    """One excluded person or business as the file lists it."""

    line: int
    record: dict  # every column, as written (the evidence kept with a hit)
    npi: str | None
    state: str | None
    excluded_on: date
    reinstated_on: date | None

    @property
    def is_person(self) -> bool:
        # A business row (an entity excluded) names no person: BUSNAME and no last name.
        return bool(self.record["LASTNAME"])

    @property
    def key(self) -> tuple[str, str]:
        return name_key(self.record["LASTNAME"]), name_key(self.record["FIRSTNAME"])


class _Hashing(io.RawIOBase):
    """The bytes of an upload as they stream past: their SHA-256 and size, refused past a cap."""

    def __init__(self, stream, limit: int | None):
        self.stream, self.limit = stream, limit
        self.digest, self.size = hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise ValidationError.on("file", f"is larger than {self.limit // (1024 * 1024)} MB")
        self.digest.update(data)
        buffer[:len(data)] = data
        return len(data)


def _day(value: str, column: str) -> date | None:
    if value in ("", NO_DATE):
        return None
    if not re.fullmatch(r"[0-9]{8}", value):
        raise ValueError(f"{column} {value!r} is not a date as YYYYMMDD (or {NO_DATE} for none)")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a real date") from None


def _one_line(value: str) -> bool:
    try:
        check_line(value)
    except ValueError:
        return False
    return True


def _row(line: int, cells: list[str]) -> ExclusionRow:
    """One line of the file, checked: its cells, dates, NPI and state; ValueError says what is wrong."""
    if len(cells) != len(COLUMNS):
        raise ValueError(f"has {len(cells)} cells; the layout has {len(COLUMNS)}")
    record = dict(zip(COLUMNS, (cell.strip() for cell in cells), strict=True))
    try:
        check_line("".join(record.values()))  # once per line; the column is looked for only when it fails
    except ValueError:
        column = next(c for c, value in record.items() if not _one_line(value))
        raise ValueError(f"{column} must be one line, without control characters") from None
    dates = {column: _day(record[column], column) for column in DATE_COLUMNS}
    if dates["EXCLDATE"] is None:
        raise ValueError("EXCLDATE is required: the day the exclusion took effect")
    if dates["REINDATE"] is not None and dates["REINDATE"] <= dates["EXCLDATE"]:
        raise ValueError("REINDATE must be after EXCLDATE")
    npi = None if record["NPI"] in ("", NO_NPI) else record["NPI"]
    if npi is not None and not npi_is_valid(npi):
        raise ValueError(f"NPI {npi!r} is not a valid NPI (10 digits with its check digit, or {NO_NPI} for none)")
    state = record["STATE"].upper() or None
    if state is not None and not is_state(state):
        raise ValueError(f"STATE {record['STATE']!r} is not a USPS state code")
    if not record["BUSNAME"] and not (record["LASTNAME"] and record["FIRSTNAME"]):
        raise ValueError("names nobody: a person needs LASTNAME and FIRSTNAME, a business BUSNAME")
    return ExclusionRow(line, record, npi, state, dates["EXCLDATE"], dates["REINDATE"])


class _NotText(Exception):
    def __init__(self, line: int):
        self.line = line


def _text_lines(binary) -> Iterator[str]:
    """The file's lines as text, decoded one by one so that bytes that are not UTF-8 are named by their line."""
    for number, raw in enumerate(binary, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotText(number) from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def read_rows(binary, errors: list[tuple[int, str]]) -> Iterator[ExclusionRow]:
    """The good rows of an exclusion file (a binary stream), one at a time; each bad line goes into errors as
    (line, problem). A header without the 18 columns, or a file that is not UTF-8 CSV, stops there."""
    reader = csv.reader(_text_lines(binary))
    line = 1
    try:
        header = [name.strip().upper() for name in next(reader, [])]
        if header != list(COLUMNS):
            missing = [c for c in COLUMNS if c not in header]
            extra = [c for c in header if c not in COLUMNS]
            problem = (f"missing column(s) {', '.join(missing)}" if missing else
                       f"unknown column(s) {', '.join(extra)}" if extra else "the columns are out of order")
            errors.append((1, f"{problem}; the header must be {','.join(COLUMNS)}"))
            return
        line = reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            try:
                yield _row(start, cells)
            except ValueError as exc:
                errors.append((start, str(exc)))
                if len(errors) >= MAX_ERRORS:
                    errors.append((start, f"{MAX_ERRORS} bad lines: checking stopped here"))
                    return
    except _NotText as exc:
        errors.append((exc.line, "is not UTF-8 text: the file must be the list's CSV as published"))
    except csv.Error as exc:
        errors.append((line, f"is not readable as CSV ({exc})"))


# ----------------------------------------------------------------------------- matching


class Roster:
    """Every therapist's keys, loaded once (two queries) for a whole file: NPI, and last + first name
    with each state the therapist could be listed in (home state, and every state of a license held)."""

    def __init__(self):
        self.by_npi: dict[str, int] = {}
        self.by_name: dict[tuple[str, str], dict[int, set[str]]] = defaultdict(dict)
        rows = db.session.execute(sa.select(Therapist.id, Therapist.npi, Therapist.last_name,
                                            Therapist.first_name, Therapist.home_state)).all()
        states: dict[int, set[str]] = defaultdict(set)
        for therapist_id, state in db.session.execute(sa.select(License.therapist_id, License.state).distinct()):
            states[therapist_id].add(state)
        for therapist_id, npi, last, first, home in rows:
            if npi:
                self.by_npi[npi] = therapist_id
            self.by_name[(name_key(last), name_key(first))][therapist_id] = states[therapist_id] | {home}
        self.count = len(rows)

    def matches(self, row: ExclusionRow) -> list[tuple[int, str]]:
        """(therapist id, "npi" or "name") for each therapist this row may be. A business row is nobody."""
        if not row.is_person:
            return []
        if row.npi and row.npi in self.by_npi:
            return [(self.by_npi[row.npi], "npi")]
        # A row with no state cannot be placed by state, and a name alone is too common to ask about.
        if row.state is None:
            return []
        return [(therapist_id, "name") for therapist_id, states in self.by_name.get(row.key, {}).items()
                if row.state in states]


def _better(new: tuple[str, ExclusionRow], old: tuple[str, ExclusionRow] | None) -> bool:
    """Of two rows found for one therapist, the one a hit keeps: an NPI match before a name match,
    an exclusion still in force before one reinstated, then the earlier exclusion."""
    if old is None:
        return True

    def rank(found):
        match, row = found
        return (match != "npi", row.reinstated_on is not None, row.excluded_on, row.line)

    return rank(new) < rank(old)


def _row_identity(therapist_id: int, record: dict) -> tuple:
    """What makes two runs' rows the same listing of the same person: a decision on one holds for the other."""
    return (therapist_id, name_key(record.get("LASTNAME")), name_key(record.get("FIRSTNAME")),
            name_key(record.get("MIDNAME")), record.get("DOB"), record.get("STATE"), record.get("EXCLTYPE"),
            record.get("EXCLDATE"))


def _earlier_decisions(therapist_ids) -> dict[tuple, ExclusionHit]:
    """People's decisions on name matches of these therapists in earlier runs, by row identity (latest wins)."""
    decided = db.session.scalars(sa.select(ExclusionHit).where(
        ExclusionHit.therapist_id.in_(therapist_ids), ExclusionHit.match == "name",
        ExclusionHit.status.in_(("confirmed", "dismissed")), ExclusionHit.decided_at.is_not(None))
        .order_by(ExclusionHit.decided_at, ExclusionHit.id))
    return {_row_identity(hit.therapist_id, hit.record): hit for hit in decided}


def _hit(therapist_id: int, match: str, row: ExclusionRow, earlier: dict[tuple, ExclusionHit]) -> ExclusionHit:
    hit = ExclusionHit(therapist_id=therapist_id, match=match, status="confirmed" if match == "npi" else "pending",
                       excluded_on=row.excluded_on, reinstated_on=row.reinstated_on,
                       exclusion_type=row.record["EXCLTYPE"][:20] or None, record=row.record)
    before = earlier.get(_row_identity(therapist_id, row.record)) if match == "name" else None
    if before is not None:
        # The same listing was decided on already: that decision stands, and nobody is asked again.
        hit.status, hit.decided_by_id, hit.decided_at = before.status, before.decided_by_id, before.decided_at
        hit.decision_note = (f"As decided on {human_day(before.decided_at)} for screening {before.screening_id}: "
                             f"{before.decision_note or 'no note'}")[:500]
    return hit


# ----------------------------------------------------------------------------- a run


def _check_source(source: str, list_state: str | None) -> str | None:
    if source not in SCREENING_SOURCES:
        raise ValidationError.on("source", f"must be one of {', '.join(SCREENING_SOURCES)}")
    if source == "state_medicaid":
        if not list_state:
            raise ValidationError.on("state", "is required for a state Medicaid list: the state it comes from")
        if not is_state(list_state.upper()):
            raise ValidationError.on("state", f"{list_state!r} is not a USPS state code")
        return list_state.upper()
    if list_state:
        raise ValidationError.on("state", "is only for a state Medicaid list; the OIG LEIE is federal")
    return None


def screen_file(stream, filename: str, source: str = "oig_leie", list_state: str | None = None, actor=None, *,
                screened_on: date | None = None, limit: int | None = None,
                progress: Callable[[int], None] | None = None) -> ExclusionScreening:
    """Screen every therapist against an exclusion file (a binary stream) and store the run with its hits.

    All or nothing: any bad line refuses the file (ValidationError naming each line, under "file") and
    nothing is stored. The same file screened again is a new dated run: a decision people made on a
    name match of the same listing carries over, so they are not asked again.
    """
    list_state = _check_source(source, list_state)
    if screened_on is not None and screened_on > today():
        raise ValidationError.on("screened_on", "cannot be in the future: a screening is evidence of a day gone by")
    filename = (filename or "").strip()[:255] or "exclusions.csv"
    if not filename.lower().endswith(".csv"):
        raise ValidationError.on("file", "must be a CSV file (.csv), as the list is published")
    raw = _Hashing(stream, limit)
    binary = io.BufferedReader(raw)
    roster = Roster()
    errors: list[tuple[int, str]] = []
    found: dict[int, tuple[str, ExclusionRow]] = {}
    rows = 0
    for row in read_rows(binary, errors):
        rows += 1
        for therapist_id, match in roster.matches(row):
            if _better((match, row), found.get(therapist_id)):
                found[therapist_id] = (match, row)
        if progress:
            progress(1)
    if not errors and rows == 0:
        errors.append((2, "the file has no rows"))
    if errors:
        db.session.rollback()
        raise ValidationError("the file was refused; nothing was stored: " + "; ".join(
            f"line {line}: {problem}" for line, problem in errors[:3]) + ("; …" if len(errors) > 3 else ""),
            {"file": [f"line {line}: {problem}" for line, problem in errors]})
    binary.read()  # to the end, so the checksum is of every byte
    write_transaction()
    earlier = _earlier_decisions(list(found)) if found else {}
    screening = ExclusionScreening(
        source=source, list_state=list_state, filename=filename, sha256=raw.digest.hexdigest(), rows=rows,
        therapists_screened=roster.count, screened_on=screened_on or today(), screened_by_id=getattr(actor, "id", None),
        hits=[_hit(therapist_id, match, row, earlier) for therapist_id, (match, row) in sorted(found.items())])
    db.session.add(screening)
    audit.record("create", screening, f"screened {roster.count} therapists against {source_label(source, list_state)} "
                 f"{filename} ({rows} rows): {len(screening.hits)} hit(s)", actor=actor,
                 changes={"sha256": screening.sha256, "rows": rows, "hits": len(screening.hits)})
    db.session.commit()
    _hold_hours_of([hit.therapist_id for hit in screening.hits if hit.status == "confirmed"], actor)
    return screening


def _hold_hours_of(therapist_ids, actor) -> None:
    """Hours not yet invoiced of therapists whose exclusions changed are judged again (held from the date)."""
    # Imported here: holds reads the exclusions through this module.
    from agency.billing import holds

    holds.reassess(therapist_ids, actor)


# ----------------------------------------------------------------------------- a person's decision


def _decide(hit: ExclusionHit, status: str, note: str | None, actor) -> ExclusionHit:
    """Record a person's decision on a pending name match, once: of two at the same moment, one decides
    and the other is told it was decided (a conditional UPDATE, not a read then a write)."""
    note = (note or "").strip() or None
    if note is not None:
        try:
            check_line(note, multiline=True)
        except ValueError as exc:
            raise ValidationError.on("note", str(exc)) from None
        if len(note) > 500:
            raise ValidationError.on("note", "must be at most 500 characters")
    if status == "dismissed" and note is None:
        raise ValidationError.on("note", "say why this is not the therapist (a different birth date, middle name…)")
    write_transaction()
    decided = db.session.execute(
        sa.update(ExclusionHit).where(ExclusionHit.id == hit.id, ExclusionHit.status == "pending")
        .values(status=status, decided_by_id=getattr(actor, "id", None), decided_at=utcnow(), decision_note=note)
        .execution_options(synchronize_session=False)).rowcount
    if not decided:
        db.session.rollback()
        db.session.refresh(hit)
        raise Conflict(f"this hit is already {hit.status}: only a pending name match is confirmed or dismissed")
    db.session.refresh(hit)
    verb = "confirmed" if status == "confirmed" else "dismissed"
    audit.record("update", hit, f"{verb} the exclusion match of {hit.therapist.full_name} "
                 f"(screening {hit.screening_id})", actor=actor, changes={"status": status, "note": note})
    db.session.commit()
    _hold_hours_of([hit.therapist_id], actor)
    return hit


def confirm_hit(hit: ExclusionHit, note: str | None, actor) -> ExclusionHit:
    """A person confirms a name match is the therapist: the exclusion blocks readiness from its date."""
    return _decide(hit, "confirmed", note, actor)


def dismiss_hit(hit: ExclusionHit, note: str | None, actor) -> ExclusionHit:
    """A person dismisses a name match as someone else, saying why; the same listing is not asked again."""
    return _decide(hit, "dismissed", note, actor)


# ----------------------------------------------------------------------------- what others read


def confirmed_exclusions(therapist_ids) -> dict[int, list[ExclusionHit]]:
    """Confirmed exclusion hits of these therapists (ids or a subquery), by therapist, earliest first.

    Readiness blocks on them and timesheets hold the hours worked while one is in force
    (ExclusionHit.excludes_on). One query, each hit with its run.
    """
    hits: dict[int, list[ExclusionHit]] = defaultdict(list)
    for hit in db.session.scalars(sa.select(ExclusionHit).where(
            ExclusionHit.therapist_id.in_(therapist_ids), ExclusionHit.status == "confirmed")
            .options(joinedload(ExclusionHit.screening))
            .order_by(ExclusionHit.excluded_on, ExclusionHit.id)):
        hits[hit.therapist_id].append(hit)
    return hits


def hits_of(therapist_id: int) -> list[ExclusionHit]:
    """A therapist's hits in every run, newest run first, with their runs (one query)."""
    return list(db.session.scalars(sa.select(ExclusionHit).where(ExclusionHit.therapist_id == therapist_id)
                                   .options(joinedload(ExclusionHit.screening))
                                   .order_by(ExclusionHit.screening_id.desc())))


def pending_counts(screening_ids) -> dict[int, dict[str, int]]:
    """How many hits of each status every run found, by run (one aggregate query)."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"confirmed": 0, "pending": 0, "dismissed": 0})
    for screening_id, status, n in db.session.execute(
            sa.select(ExclusionHit.screening_id, ExclusionHit.status, sa.func.count())
            .where(ExclusionHit.screening_id.in_(screening_ids))
            .group_by(ExclusionHit.screening_id, ExclusionHit.status)):
        counts[screening_id][status] = n
    return counts


# ----------------------------------------------------------------------------- the monthly reminder


def _lists_screened() -> list[ExclusionScreening]:
    """The latest run of each list ever screened (the OIG LEIE, each state's Medicaid list)."""
    latest = (sa.select(sa.func.max(ExclusionScreening.id))
              .group_by(ExclusionScreening.source, ExclusionScreening.list_state))
    return list(db.session.scalars(sa.select(ExclusionScreening).where(ExclusionScreening.id.in_(latest))
                                   .order_by(ExclusionScreening.source, ExclusionScreening.list_state)))


@job
def screening_reminder(as_of: str | None = None) -> dict:
    """Email credentialing staff when the last screening of a list is older than a calendar month.

    Facilities expect every placed clinician screened monthly, and the OIG refreshes the LEIE monthly.
    Once per lapse: the dedupe key names the run that lapsed (or "never" for an LEIE never screened),
    so rerunning sends nothing twice, and the next lapse, after a new run, sends again.
    """
    day = date.fromisoformat(as_of) if as_of else today()
    latest = {(run.source, run.list_state): run for run in _lists_screened()}
    lapses = []
    if ("oig_leie", None) not in latest:
        lapses.append(("oig_leie", None, None))
    lapses += [(run.source, run.list_state, run) for run in latest.values()
               if day > run.screened_on + relativedelta(months=1)]
    staff = current_app.config["CREDENTIALING_EMAIL"]
    messages = []
    for source, list_state, run in lapses:
        name = source_label(source, list_state)
        last = f"last screened on {human_day(run.screened_on)}" if run else "never screened"
        key = ":".join(["screening-due", source] + ([list_state] if list_state else [])
                       + [str(run.id) if run else "never"])
        messages.append({"to_addr": staff, "dedupe_key": key,
                         "subject": f"Exclusion screening due: {name}, {last}",
                         "body": (f"The therapists were {last} against the {name}. Facilities expect every "
                                  "placed clinician screened every month, with dated evidence.\n\n"
                                  f"Download the current list and screen it: Exclusion screenings, Screen a file "
                                  f"(or `flask credentials screen FILE --source {source}"
                                  f"{' --state ' + list_state if list_state else ''}`).")})
    queued = queue_emails(messages)
    db.session.commit()
    send_outbox()
    return {"as_of": day.isoformat(), "lapsed": len(lapses), "reminders": queued}
