"""JSON API for therapists and their credentials: licenses, CE records, panels, documents."""

from decimal import Decimal

import sqlalchemy as sa
from flask import request

from agency.core.api import (
    Choice,
    Date,
    Dec,
    Email,
    Id,
    Int,
    ListOf,
    MapOf,
    Nested,
    Schema,
    State,
    Str,
    Timestamp,
    api_blueprint,
    created,
    json_body,
    next_position,
    offset_window,
    page,
    parse_args,
    reply,
)
from agency.core.dates import parse_iso_date, today
from agency.core.errors import ValidationError
from agency.core.openapi import documented
from agency.core.permissions import current_actor, requires
from agency.credentials import documents, matrix, queries, rules, services, uploads
from agency.credentials.ce import ce_progress_for
from agency.credentials.models import (
    AVAILABILITY,
    CE_TOPICS,
    DISCIPLINES,
    DOC_TYPES,
    LICENSE_KINDS,
    LICENSE_STATUSES,
    LICENSE_TYPES,
    PANEL_STATUSES,
    THERAPIST_STATUSES,
    CAQHRule,
    CERecord,
    CERule,
    Document,
    License,
    PanelEnrollment,
    PayerRule,
    Therapist,
)
from agency.extensions import db

bp = api_blueprint("credentials_api", __name__)

ID = Int(read_only=True)

THERAPIST = Schema(
    "Therapist",
    id=ID,
    first_name=Str(required=True, max_length=80),
    last_name=Str(required=True, max_length=80),
    email=Email(required=True),
    phone=Str(max_length=30),
    discipline=Choice(required=True, choices=DISCIPLINES),
    npi=Str(max_length=10, pattern=r"[0-9]{10}", pattern_message="must be 10 digits"),
    home_state=State(required=True),
    caqh_id=Str(max_length=20),
    caqh_attested_on=Date(),
    caqh_attestation_due_on=Date(read_only=True, description="the last attestation plus the interval of the "
                                 "CAQH rule of the therapist's home state (120 days by default, 180 in Illinois)"),
    caqh_attestation_days=Int(read_only=True, nullable=False, description="that interval, in days"),
    status=Choice(choices=THERAPIST_STATUSES, nullable=False),
    specialties=ListOf(item=Str(max_length=60), nullable=False),
    availability=Choice(choices=AVAILABILITY, nullable=False),
    available_from=Date(),
    hours_per_week=Int(minimum=1, maximum=80),
    notes=Str(max_length=5000, multiline=True),
)
THERAPIST_FILTERS = Schema("TherapistFilters", q=Str(max_length=100), discipline=Choice(choices=DISCIPLINES),
                           state=State(), status=Choice(choices=THERAPIST_STATUSES))

TOPIC_SHORTFALL = Schema("TopicShortfall", topic=Str(read_only=True), required=Dec(read_only=True, nullable=False),
                         done=Dec(read_only=True, nullable=False), shortfall=Dec(read_only=True, nullable=False))
CE_PROGRESS_SCHEMA = Schema(
    "CEProgress",
    hours_required=Dec(read_only=True, nullable=False), hours_done=Dec(read_only=True, nullable=False),
    cycle_start=Date(read_only=True), topic_shortfalls=ListOf(read_only=True, item=Nested(schema=TOPIC_SHORTFALL)),
)
CE_PROGRESS = Nested(read_only=True, schema=CE_PROGRESS_SCHEMA,
                     description="CE in the current renewal cycle; null without a CE rule")
LICENSE = Schema(
    "License",
    id=ID,
    therapist_id=Int(read_only=True),
    state=State(required=True),
    license_type=Choice(required=True, choices=LICENSE_TYPES),
    number=Str(required=True, max_length=40),
    kind=Choice(choices=LICENSE_KINDS, nullable=False),
    issued_on=Date(required=True),
    expires_on=Date(required=True),
    effective_expires_on=Date(read_only=True, description="never later than the home license's"),
    home_license_id=Id(description="required for a compact privilege"),
    verified_on=Date(read_only=True),
    verified_by=Str(read_only=True, source=lambda lic: lic.verified_by.email if lic.verified_by else None),
    verification_source=Str(read_only=True),
    status=Choice(read_only=True, nullable=False, choices=LICENSE_STATUSES, source=lambda lic: lic.status_on(today())),
    ce_progress=CE_PROGRESS,
)
LICENSE_FILTERS = Schema("LicenseFilters", state=State(), kind=Choice(choices=LICENSE_KINDS),
                         status=Choice(choices=LICENSE_STATUSES))
VERIFICATION = Schema("LicenseVerification", verified_on=Date(required=True),
                      verification_source=Str(required=True, max_length=255))
CE_RECORD = Schema(
    "CERecord",
    id=ID,
    therapist_id=Int(read_only=True),
    title=Str(required=True, max_length=200),
    provider=Str(required=True, max_length=200),
    hours=Dec(required=True, minimum=None),
    topic=Choice(choices=CE_TOPICS, nullable=False),
    completed_on=Date(required=True),
    certificate_document_id=Id(),
)
PANEL = Schema(
    "PanelEnrollment",
    id=ID,
    therapist_id=Int(read_only=True),
    payer=Str(required=True, max_length=120),
    status=Choice(choices=PANEL_STATUSES, nullable=False),
    submitted_on=Date(),
    effective_on=Date(),
    recredential_due_on=Date(read_only=True, description="recredential_due_override when given; otherwise, once "
                             "approved, effective_on plus the payer rule's months (36 by default, NCQA)"),
    recredential_due_override=Date(description="a re-credentialing date the payer gave; null follows the payer rule"),
    next_follow_up_on=Date(),
    notes=Str(max_length=5000, multiline=True),
)
DOCUMENT = Schema(
    "Document",
    id=ID,
    owner_type=Str(read_only=True),
    owner_id=Int(read_only=True),
    doc_type=Choice(read_only=True, choices=DOC_TYPES),
    filename=Str(read_only=True),
    content_type=Str(read_only=True),
    size=Int(read_only=True),
    sha256=Str(read_only=True),
    issued_on=Date(read_only=True),
    expires_on=Date(read_only=True),
    uploaded_at=Timestamp(),
)
STORED_TYPES = tuple(uploads.EXTENSIONS)  # a download is what was stored
UPLOAD = {
    "type": "object",
    "required": ["file", "doc_type"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": (
            "PDF, PNG or JPEG. A PDF that does not parse, is encrypted, or carries JavaScript, launch "
            "actions, embedded files, rich media, XFA or submit actions is refused, as is any file that also "
            "reads as HTML or ZIP; an image is re-encoded (no metadata) within a pixel cap.")},
        "doc_type": {"type": "string", "enum": list(DOC_TYPES)},
        "issued_on": {"type": "string", "format": "date"},
        "expires_on": {"type": "string", "format": "date"},
    },
}


# ----------------------------------------------------------------------------- therapists


@bp.get("/therapists")
@requires("therapists.view")
@documented("List therapists", response=THERAPIST, many=True, query=THERAPIST_FILTERS)
def list_therapists():
    return page(queries.therapists_query(**parse_args()), Therapist.id)


@bp.post("/therapists")
@requires("therapists.edit")
@documented("Add a therapist", request=THERAPIST, response=THERAPIST, status=201, errors=(400, 409))
def create_therapist():
    values = THERAPIST.load(json_body())
    therapist = services.create_therapist(values, current_actor())
    return created(therapist, "credentials_api.get_therapist", {"therapist_id": therapist.id})


@bp.get("/therapists/<int:therapist_id>")
@requires("therapists.view")
@documented("A therapist", response=THERAPIST, errors=(404,))
def get_therapist(therapist_id: int):
    return reply(services.get_or_404(Therapist, therapist_id))


@bp.patch("/therapists/<int:therapist_id>")
@requires("therapists.edit")
@documented("Change a therapist's profile", request=THERAPIST, response=THERAPIST, errors=(400, 404, 409))
def update_therapist(therapist_id: int):
    therapist = services.get_or_404(Therapist, therapist_id)
    values = THERAPIST.load(json_body(), partial=True)
    return reply(services.update_therapist(therapist, values, current_actor()))


# ----------------------------------------------------------------------------- licenses


def _ce_progress(licenses: list[License]) -> list[dict]:
    """CE progress of each license, worked out once for them all, not per license."""
    progress = ce_progress_for(licenses)
    return [{"ce_progress": p if (p := progress.get(lic.id)) is not None and p.rule is not None else None}
            for lic in licenses]


def _license_reply(lic: License):
    return reply(lic, 200, **_ce_progress([lic])[0])


@bp.get("/therapists/<int:therapist_id>/licenses")
@requires("credentials.view")
@documented("A therapist's licenses and compact privileges", response=LICENSE, many=True, errors=(400, 404),
            query=LICENSE_FILTERS)
def list_licenses(therapist_id: int):
    services.get_or_404(Therapist, therapist_id)
    return page(queries.licenses_query(therapist_id=therapist_id, **parse_args()), License.id,
                _ce_progress)


@bp.post("/therapists/<int:therapist_id>/licenses")
@requires("credentials.edit")
@documented("Record a license, compact privilege or temporary license", request=LICENSE, response=LICENSE,
            status=201, errors=(400, 404, 409))
def create_license(therapist_id: int):
    therapist = services.get_or_404(Therapist, therapist_id)
    lic = services.add_license(therapist, LICENSE.load(json_body()), current_actor())
    return created(lic, "credentials_api.get_license", {"license_id": lic.id}, **_ce_progress([lic])[0])


@bp.get("/licenses/<int:license_id>")
@requires("credentials.view")
@documented("A license with its derived status and CE progress", response=LICENSE, errors=(404,))
def get_license(license_id: int):
    return _license_reply(services.get_or_404(License, license_id))


@bp.patch("/licenses/<int:license_id>")
@requires("credentials.edit")
@documented("Change a license (e.g. a renewal's new expiry)", request=LICENSE, response=LICENSE,
            errors=(400, 404, 409))
def update_license(license_id: int):
    lic = services.get_or_404(License, license_id)
    services.update_license(lic, LICENSE.load(json_body(), partial=True), current_actor())
    return _license_reply(lic)


@bp.delete("/licenses/<int:license_id>")
@requires("credentials.edit")
@documented("Remove a license entered in error", status=204, errors=(404, 409))
def delete_license(license_id: int):
    services.delete_license(services.get_or_404(License, license_id), current_actor())
    return "", 204


@bp.post("/licenses/<int:license_id>/verification")
@requires("credentials.edit")
@documented("Record a primary-source verification", request=VERIFICATION, response=LICENSE,
            errors=(400, 404))
def verify_license(license_id: int):
    lic = services.get_or_404(License, license_id)
    values = VERIFICATION.load(json_body())
    services.verify_license(lic, values["verified_on"], values["verification_source"], current_actor())
    return _license_reply(lic)


# ----------------------------------------------------------------------------- CE records


@bp.get("/therapists/<int:therapist_id>/ceus")
@requires("credentials.view")
@documented("A therapist's CE records", response=CE_RECORD, many=True, errors=(400, 404))
def list_ceus(therapist_id: int):
    services.get_or_404(Therapist, therapist_id)
    return page(sa.select(CERecord).where(CERecord.therapist_id == therapist_id), CERecord.id)


@bp.post("/therapists/<int:therapist_id>/ceus")
@requires("credentials.edit")
@documented("Record a completed CE course", request=CE_RECORD, response=CE_RECORD, status=201, errors=(400, 404))
def create_ceu(therapist_id: int):
    therapist = services.get_or_404(Therapist, therapist_id)
    record = services.add_ce_record(therapist, CE_RECORD.load(json_body()), current_actor())
    return created(record, "credentials_api.list_ceus", {"therapist_id": therapist.id})


@bp.delete("/ceus/<int:record_id>")
@requires("credentials.edit")
@documented("Remove a CE record", status=204, errors=(404,))
def delete_ceu(record_id: int):
    services.delete_ce_record(services.get_or_404(CERecord, record_id), current_actor())
    return "", 204


# ----------------------------------------------------------------------------- panels


@bp.get("/therapists/<int:therapist_id>/panels")
@requires("credentials.view")
@documented("A therapist's payer panel enrollments", response=PANEL, many=True, errors=(400, 404))
def list_panels(therapist_id: int):
    services.get_or_404(Therapist, therapist_id)
    return page(queries.panels_query(therapist_id=therapist_id), PanelEnrollment.id)


@bp.post("/therapists/<int:therapist_id>/panels")
@requires("credentials.edit")
@documented("Start tracking a payer enrollment", request=PANEL, response=PANEL, status=201,
            errors=(400, 404, 409))
def create_panel(therapist_id: int):
    therapist = services.get_or_404(Therapist, therapist_id)
    panel = services.add_panel(therapist, _panel_body(), current_actor())
    return created(panel, "credentials_api.get_panel", {"panel_id": panel.id})


MATRIX_CELL = Schema(
    "PanelMatrixCell",
    status=Choice(read_only=True, nullable=False, choices=PANEL_STATUSES),
    effective_on=Date(read_only=True),
    recredential_due_on=Date(read_only=True),
    cycle_days=Int(read_only=True, description="days from submission to the effective date; approved only"),
    id=Int(read_only=True, nullable=False, description="the enrollment (GET /panels/{id})"),
    submitted_on=Date(read_only=True),
    next_follow_up_on=Date(read_only=True),
    follow_up=Choice(read_only=True, choices=("overdue", "due"),
                     description="a pending enrollment's follow-up: past (overdue), or today to a week ahead (due)"),
    recredential=Choice(read_only=True, choices=("overdue", "due_soon"),
                        description="an approved enrollment's re-credentialing date: past, or within the "
                                    "worklist's horizon"),
)
MATRIX_ROW = Schema(
    "PanelMatrixRow",
    therapist_id=Int(read_only=True, nullable=False),
    cells=MapOf(item=Nested(schema=MATRIX_CELL, nullable=False),
                description="by payer, as named in payers; a payer the therapist is not enrolled with is absent"),
    therapist_name=Str(read_only=True, nullable=False),
    discipline=Choice(read_only=True, nullable=False, choices=DISCIPLINES),
)
MATRIX = Schema(
    "PanelMatrix",
    payers=ListOf(item=Str(), read_only=True, description="every payer of the filtered matrix, every page"),
    rows=ListOf(item=Nested(schema=MATRIX_ROW, nullable=False), read_only=True,
                description="this page's therapists, by last and first name"),
    payer_cycle_days=MapOf(item=Dec(nullable=True, places=1),
                           description="by payer: mean days from submission to approval over all approved "
                                       "enrollments of the filtered matrix (every page); null when none"),
    as_of=Date(read_only=True, nullable=False, description="the day follow-ups and re-credentialing are judged by"),
    next_cursor=Str(read_only=True, nullable=True, description="pass as ?cursor= for the next page of rows"),
)


@bp.get("/panels/matrix")
@requires("credentials.view")
@documented("The panel matrix: therapists by payer, each enrollment's status, dates and cycle time",
            response=MATRIX, query=matrix.FILTERS, paged=True, errors=(400,))
def panel_matrix():
    rows = matrix.therapists(**matrix.parse_filters(parse_args()))
    start, limit = offset_window()
    found = db.session.scalars(rows.offset(start).limit(limit + 1)).all()
    grid = matrix.build(found[:limit], matrix.payers(rows))
    return reply(grid, payers=grid.payer_names, payer_cycle_days=grid.payer_cycle_days,
                 next_cursor=next_position(start, limit, len(found) > limit))


@bp.get("/panels/<int:panel_id>")
@requires("credentials.view")
@documented("A payer enrollment", response=PANEL, errors=(404,))
def get_panel(panel_id: int):
    return reply(services.get_or_404(PanelEnrollment, panel_id))


@bp.patch("/panels/<int:panel_id>")
@requires("credentials.edit")
@documented("Move an enrollment along its pipeline", request=PANEL, response=PANEL, errors=(400, 404, 409))
def update_panel(panel_id: int):
    panel = services.get_or_404(PanelEnrollment, panel_id)
    return reply(services.update_panel(panel, _panel_body(partial=True), current_actor()))


def _panel_body(*, partial: bool = False) -> dict:
    body = json_body()
    # The due date is derived; a client that still sends it is told where an explicit date goes.
    if "recredential_due_on" in body:
        raise ValidationError.on("recredential_due_on", "is derived from the payer rule; send the payer's own "
                                 "date as recredential_due_override")
    return PANEL.load(body, partial=partial)


# ----------------------------------------------------------------------------- documents


def _document(document_id: int) -> Document:
    return services.get_or_404(Document, document_id)


@bp.get("/therapists/<int:therapist_id>/documents")
@requires("credentials.view")
@documented("A therapist's credential documents", response=DOCUMENT, many=True, errors=(400, 404))
def list_documents(therapist_id: int):
    services.get_or_404(Therapist, therapist_id)
    return page(queries.documents_query(therapist_id=therapist_id), Document.id)


@bp.post("/therapists/<int:therapist_id>/documents")
@requires("documents.upload")
@documented("Upload a credential document (multipart)", multipart=UPLOAD, response=DOCUMENT, status=201,
            errors=(400, 404, 413))
def upload_document(therapist_id: int):
    therapist = services.get_or_404(Therapist, therapist_id)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError.on("file", "is required (multipart/form-data field 'file')")
    dates = {}
    for key in ("issued_on", "expires_on"):
        raw = request.form.get(key)
        if raw is not None:
            try:
                dates[key] = parse_iso_date(raw)
            except ValueError as exc:
                raise ValidationError.on(key, str(exc)) from None
    document = documents.store_document(therapist, upload.stream, upload.filename or "document",
                                        request.form.get("doc_type", ""), dates.get("issued_on"),
                                        dates.get("expires_on"), current_actor())
    return created(document, "credentials_api.get_document", {"document_id": document.id})


@bp.get("/documents/<int:document_id>")
@requires("credentials.view")
@documented("A document's details", response=DOCUMENT, errors=(404,))
def get_document(document_id: int):
    return reply(_document(document_id))


@bp.get("/documents/<int:document_id>/file")
@requires("documents.download")
@documented("Download the stored file (audited)", content_type=STORED_TYPES, errors=(404,))
def download_document(document_id: int):
    return documents.download(_document(document_id), current_actor())


@bp.delete("/documents/<int:document_id>")
@requires("documents.delete")
@documented("Remove a document and its file", status=204, errors=(404,))
def delete_document(document_id: int):
    documents.delete_document(_document(document_id), current_actor())
    return "", 204


# ----------------------------------------------------------------------------- reference rules

def _source(kept_without: bool = False) -> dict:
    """Where a rule comes from and when it was checked: required on every write; a CE rule kept from before
    sources were recorded may still return none."""
    nullable = True if kept_without else None
    return {"source": Str(required=True, nullable=nullable, max_length=255, description="where the rule comes from"),
            "checked_on": Date(required=True, nullable=nullable,
                               description="the day it was last checked at its source; not in the future"),
            "notes": Str(max_length=5000, multiline=True)}
CAQH_RULE = Schema(
    "CAQHRule",
    id=ID,
    state=State(description="null: the default, for every state without a rule of its own; a therapist "
                "follows the rule of their home state"),
    interval_days=Int(required=True, minimum=1, maximum=3650, description="days between attestations"),
    reminder_days=ListOf(required=True, item=Int(minimum=1, maximum=3649), min_items=1, max_items=rules.MAX_REMINDERS,
                         description="days before the due date a reminder goes out: distinct, each fewer than "
                         "interval_days; kept largest first"),
    **_source(),
)
PAYER_RULE = Schema(
    "PayerRule",
    id=ID,
    payer=Str(max_length=120, description="matched to enrollments whatever the letter case; null: the default, "
              "for every other payer"),
    months=Int(required=True, minimum=1, maximum=120, description="months after the effective date"),
    **_source(),
)
CE_TOPIC = Schema("CETopicHours", topic=Choice(required=True, choices=CE_TOPICS),
                  hours=Dec(required=True, minimum=Decimal("0.01"), maximum=Decimal("500")))
CE_RULE = Schema(
    "CERule",
    id=ID,
    state=State(required=True),
    license_type=Choice(required=True, choices=LICENSE_TYPES),
    hours_required=Dec(required=True, minimum=Decimal("0.5"), maximum=Decimal("500")),
    cycle_months=Int(required=True, minimum=1, maximum=60),
    topics=ListOf(item=Nested(schema=CE_TOPIC), max_items=len(CE_TOPICS), nullable=False,
                  source=lambda rule: [{"topic": t.topic, "hours": t.hours} for t in rule.topics],
                  description="mandatory topic hours within the total, every cycle; each topic once"),
    **_source(kept_without=True),
)


@bp.get("/reference/caqh-rules")
@requires("credentials.view")
@documented("CAQH re-attestation rules per state, the default first", response=CAQH_RULE, many=True)
def list_caqh_rules():
    return page(sa.select(CAQHRule), CAQHRule.id)


@bp.post("/reference/caqh-rules")
@requires("reference_rules.edit")
@documented("Add a state's CAQH rule (or the default); every due date of the state follows it",
            request=CAQH_RULE, response=CAQH_RULE, status=201, errors=(400, 409))
def create_caqh_rule():
    rule = rules.save_caqh_rule(None, CAQH_RULE.load(json_body()), current_actor())
    return created(rule, "credentials_api.get_caqh_rule", {"caqh_rule_id": rule.id})


@bp.get("/reference/caqh-rules/<int:caqh_rule_id>")
@requires("credentials.view")
@documented("A CAQH rule", response=CAQH_RULE, errors=(404,))
def get_caqh_rule(caqh_rule_id: int):
    return reply(services.get_or_404(CAQHRule, caqh_rule_id))


@bp.patch("/reference/caqh-rules/<int:caqh_rule_id>")
@requires("reference_rules.edit")
@documented("Change a CAQH rule (audited); due dates, worklist and watch move at once", request=CAQH_RULE,
            response=CAQH_RULE, errors=(400, 404, 409))
def update_caqh_rule(caqh_rule_id: int):
    rule = services.get_or_404(CAQHRule, caqh_rule_id)
    return reply(rules.save_caqh_rule(rule, CAQH_RULE.load(json_body(), partial=True), current_actor()))


@bp.delete("/reference/caqh-rules/<int:caqh_rule_id>")
@requires("reference_rules.edit")
@documented("Remove a CAQH rule; its therapists follow the default", status=204, errors=(404,))
def delete_caqh_rule(caqh_rule_id: int):
    rules.delete_caqh_rule(services.get_or_404(CAQHRule, caqh_rule_id), current_actor())
    return "", 204


@bp.get("/reference/payer-rules")
@requires("credentials.view")
@documented("Re-credentialing rules per payer", response=PAYER_RULE, many=True)
def list_payer_rules():
    return page(sa.select(PayerRule), PayerRule.id)


@bp.post("/reference/payer-rules")
@requires("reference_rules.edit")
@documented("Add a payer's re-credentialing rule (or the default)", request=PAYER_RULE, response=PAYER_RULE,
            status=201, errors=(400, 409))
def create_payer_rule():
    rule = rules.save_payer_rule(None, PAYER_RULE.load(json_body()), current_actor())
    return created(rule, "credentials_api.get_payer_rule", {"payer_rule_id": rule.id})


@bp.get("/reference/payer-rules/<int:payer_rule_id>")
@requires("credentials.view")
@documented("A payer rule", response=PAYER_RULE, errors=(404,))
def get_payer_rule(payer_rule_id: int):
    return reply(services.get_or_404(PayerRule, payer_rule_id))


@bp.patch("/reference/payer-rules/<int:payer_rule_id>")
@requires("reference_rules.edit")
@documented("Change a payer rule (audited); re-credentialing dates and the worklist move at once",
            request=PAYER_RULE, response=PAYER_RULE, errors=(400, 404, 409))
def update_payer_rule(payer_rule_id: int):
    rule = services.get_or_404(PayerRule, payer_rule_id)
    return reply(rules.save_payer_rule(rule, PAYER_RULE.load(json_body(), partial=True), current_actor()))


@bp.delete("/reference/payer-rules/<int:payer_rule_id>")
@requires("reference_rules.edit")
@documented("Remove a payer rule; its enrollments follow the default", status=204, errors=(404,))
def delete_payer_rule(payer_rule_id: int):
    rules.delete_payer_rule(services.get_or_404(PayerRule, payer_rule_id), current_actor())
    return "", 204


def _ce_topics(values: dict, rule: CERule | None) -> dict:
    """The topic rows as {topic: hours}; a topic listed twice is refused, and leaving them out keeps them."""
    rows = values.pop("topics", None)
    if rows is None:
        return {t.topic: t.hours for t in rule.topics} if rule is not None else {}
    topics = {}
    for row in rows:
        if row["topic"] in topics:
            raise ValidationError.on("topics", f"lists {row['topic']} twice; keep it once")
        topics[row["topic"]] = row["hours"]
    return topics


@bp.get("/reference/ce-rules")
@requires("credentials.view")
@documented("CE rules per state and license type", response=CE_RULE, many=True)
def list_ce_rules():
    return page(sa.select(CERule), CERule.id)


@bp.post("/reference/ce-rules")
@requires("reference_rules.edit")
@documented("Add a CE rule for a state and license type", request=CE_RULE, response=CE_RULE, status=201,
            errors=(400, 409))
def create_ce_rule():
    values = CE_RULE.load(json_body())
    rule = services.save_ce_rule(None, values, _ce_topics(values, None), current_actor())
    return created(rule, "credentials_api.get_ce_rule", {"rule_id": rule.id})


@bp.get("/reference/ce-rules/<int:rule_id>")
@requires("credentials.view")
@documented("A CE rule", response=CE_RULE, errors=(404,))
def get_ce_rule(rule_id: int):
    return reply(services.get_or_404(CERule, rule_id))


@bp.patch("/reference/ce-rules/<int:rule_id>")
@requires("reference_rules.edit")
@documented("Change a CE rule (audited); CE progress and shortfalls follow it at once", request=CE_RULE,
            response=CE_RULE, errors=(400, 404, 409))
def update_ce_rule(rule_id: int):
    rule = services.get_or_404(CERule, rule_id)
    values = CE_RULE.load(json_body(), partial=True)
    return reply(services.save_ce_rule(rule, values, _ce_topics(values, rule), current_actor()))


@bp.delete("/reference/ce-rules/<int:rule_id>")
@requires("reference_rules.edit")
@documented("Remove a CE rule", status=204, errors=(404,))
def delete_ce_rule(rule_id: int):
    rules.delete_ce_rule(services.get_or_404(CERule, rule_id), current_actor())
    return "", 204
