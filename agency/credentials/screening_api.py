"""JSON API for exclusion screening: screen a file, the runs and their hits, and people's decisions."""

import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.orm import selectinload

from agency.core.api import (
    Choice,
    Date,
    Int,
    ListOf,
    Nested,
    Schema,
    State,
    Str,
    Timestamp,
    api_blueprint,
    created,
    json_body,
    page,
    parse_args,
    reply,
)
from agency.core.errors import NotFound, ValidationError
from agency.core.openapi import documented
from agency.core.permissions import current_actor, requires
from agency.credentials import screening
from agency.credentials.models import HIT_MATCHES, HIT_STATUSES, SCREENING_SOURCES, ExclusionHit, ExclusionScreening
from agency.extensions import db

bp = api_blueprint("screenings_api", __name__)

HIT = Schema(
    "ExclusionHit",
    id=Int(read_only=True),
    screening_id=Int(read_only=True),
    therapist_id=Int(read_only=True),
    match=Choice(read_only=True, nullable=False, choices=HIT_MATCHES,
                 description="npi: the file lists the therapist's NPI; "
                             "name: their last and first name, in one of their states"),
    status=Choice(read_only=True, nullable=False, choices=HIT_STATUSES,
                  description="confirmed (NPI, or a person confirmed the name), pending (a person must decide), "
                              "dismissed (a person found it is someone else)"),
    excluded_on=Date(read_only=True, nullable=False),
    reinstated_on=Date(read_only=True),
    exclusion_type=Str(read_only=True),
    listed_name=Str(read_only=True, nullable=False, source=lambda hit: " ".join(
        part for part in (hit.record.get("FIRSTNAME"), hit.record.get("MIDNAME"), hit.record.get("LASTNAME")) if part)),
    listed_npi=Str(read_only=True, source=lambda hit: hit.record.get("NPI") or None),
    listed_state=Str(read_only=True, source=lambda hit: hit.record.get("STATE") or None),
    listed_dob=Str(read_only=True, source=lambda hit: hit.record.get("DOB") or None,
                   description="as the file writes it, YYYYMMDD"),
    decided_by=Str(read_only=True, source=lambda hit: hit.decided_by.email if hit.decided_by else None),
    decided_at=Timestamp(),
    decision_note=Str(read_only=True),
)
SCREENING = Schema(
    "ExclusionScreening",
    id=Int(read_only=True),
    source=Choice(read_only=True, nullable=False, choices=SCREENING_SOURCES),
    list_state=Str(read_only=True, description="the state of a state Medicaid list"),
    filename=Str(read_only=True, nullable=False),
    sha256=Str(read_only=True, nullable=False, description="SHA-256 of the file's bytes: which file was screened"),
    rows=Int(read_only=True, nullable=False),
    therapists_screened=Int(read_only=True, nullable=False),
    screened_on=Date(read_only=True, nullable=False),
    screened_by=Str(read_only=True, source=lambda run: run.screened_by.email if run.screened_by else None),
    created_at=Timestamp(),
    hits=ListOf(read_only=True, item=Nested(schema=HIT)),
)
SCREENING_FILTERS = Schema("ScreeningFilters", source=Choice(choices=SCREENING_SOURCES), state=State())
DECISION = Schema("ExclusionDecision", note=Str(max_length=500, multiline=True,
                                                 description="why; required to dismiss"))
UPLOAD = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": (
            "The list as a UTF-8 CSV in the LEIE layout: a header of its 18 columns (LASTNAME, FIRSTNAME, MIDNAME, "
            "BUSNAME, GENERAL, SPECIALTY, UPIN, NPI, DOB, ADDRESS, CITY, STATE, ZIP, EXCLTYPE, EXCLDATE, REINDATE, "
            "WAIVERDATE, WVRSTATE), dates as YYYYMMDD (00000000 for none), NPI 0000000000 for none. Any bad line "
            "refuses the file; the error names each line.")},
        "source": {"type": "string", "enum": list(SCREENING_SOURCES), "default": "oig_leie"},
        "state": {"type": "string", "pattern": "^[A-Z]{2}$",
                  "description": "required for state_medicaid: the state whose list this is"},
    },
}


def _runs():
    return (sa.select(ExclusionScreening)
            .options(selectinload(ExclusionScreening.hits).joinedload(ExclusionHit.decided_by),
                     selectinload(ExclusionScreening.screened_by)))


def _run(screening_id: int) -> ExclusionScreening:
    run = db.session.scalar(_runs().where(ExclusionScreening.id == screening_id))
    if run is None:
        raise NotFound(f"no screening with id {screening_id}")
    return run


def _hit(screening_id: int, hit_id: int) -> ExclusionHit:
    hit = db.session.get(ExclusionHit, hit_id)
    if hit is None or hit.screening_id != screening_id:
        raise NotFound(f"no hit {hit_id} in screening {screening_id}")
    return hit


@bp.post("/screenings")
@requires("screenings.run")
@documented("Screen every therapist against an exclusion file (multipart)", multipart=UPLOAD, response=SCREENING,
            status=201, errors=(400, 413))
def create_screening():
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError.on("file", "is required (multipart/form-data field 'file')")
    run = screening.screen_file(upload.stream, upload.filename or "", request.form.get("source") or "oig_leie",
                                request.form.get("state") or None, current_actor(),
                                limit=int(current_app.config["SCREENING_MAX_BYTES"]))
    return created(_run(run.id), "screenings_api.get_screening", {"screening_id": run.id})


@bp.get("/screenings")
@requires("screenings.view")
@documented("Screening runs, oldest first: the dated evidence of each", response=SCREENING, many=True,
            query=SCREENING_FILTERS)
def list_screenings():
    filters = parse_args()
    query = _runs()
    if filters.get("source"):
        query = query.where(ExclusionScreening.source == filters["source"])
    if filters.get("state"):
        query = query.where(ExclusionScreening.list_state == filters["state"])
    return page(query, ExclusionScreening.id)


@bp.get("/screenings/<int:screening_id>")
@requires("screenings.view")
@documented("A screening run with its hits", response=SCREENING, errors=(404,))
def get_screening(screening_id: int):
    return reply(_run(screening_id))


@bp.post("/screenings/<int:screening_id>/hits/<int:hit_id>/confirm")
@requires("screenings.decide")
@documented("Confirm a pending name match: the exclusion blocks readiness from its date", request=DECISION,
            response=HIT, errors=(400, 404, 409))
def confirm_hit(screening_id: int, hit_id: int):
    hit = _hit(screening_id, hit_id)
    values = DECISION.load(json_body())
    return reply(screening.confirm_hit(hit, values.get("note"), current_actor()))


@bp.post("/screenings/<int:screening_id>/hits/<int:hit_id>/dismiss")
@requires("screenings.decide")
@documented("Dismiss a pending name match as someone else, with a note saying why", request=DECISION,
            response=HIT, errors=(400, 404, 409))
def dismiss_hit(screening_id: int, hit_id: int):
    hit = _hit(screening_id, hit_id)
    values = DECISION.load(json_body())
    return reply(screening.dismiss_hit(hit, values.get("note"), current_actor()))
