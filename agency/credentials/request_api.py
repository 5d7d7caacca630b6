"""JSON API for document requests and the review queue; the same services as the pages."""

from agency.core.api import (
    Choice,
    Date,
    Int,
    ListOf,
    Nested,
    Schema,
    Str,
    Timestamp,
    api_blueprint,
    created,
    json_body,
    page,
    reply,
)
from agency.core.dates import today
from agency.core.openapi import documented
from agency.core.permissions import current_actor, requires
from agency.credentials import requests as doc_requests
from agency.credentials import services
from agency.credentials.models import (
    DOC_TYPES,
    REQUEST_ITEM_STATUSES,
    REQUEST_SOURCES,
    DocumentRequest,
    DocumentRequestItem,
    Therapist,
)
from agency.credentials.uploads import EXTENSIONS

bp = api_blueprint("document_requests_api", __name__)

REQUEST_STATES = ("open", "expired", "answered", "accepted", "rejected")

UPLOAD = Schema(
    "DocumentUpload",
    id=Int(read_only=True),
    request_id=Int(read_only=True),
    therapist_id=Int(read_only=True),
    doc_type=Choice(read_only=True, choices=DOC_TYPES),
    status=Choice(read_only=True, choices=REQUEST_ITEM_STATUSES, nullable=False),
    filename=Str(read_only=True),
    content_type=Str(read_only=True),
    size=Int(read_only=True),
    sha256=Str(read_only=True),
    issued_on=Date(read_only=True, source=lambda i: i.upload_issued_on, description="as the therapist gave it"),
    expires_on=Date(read_only=True, source=lambda i: i.upload_expires_on, description="as the therapist gave it"),
    uploaded_at=Timestamp(),
    reviewed_at=Timestamp(),
    review_note=Str(read_only=True, description="a rejection's message to the therapist"),
    document_id=Int(read_only=True, description="the document an accepted upload became"),
)
REQUEST = Schema(
    "DocumentRequest",
    id=Int(read_only=True),
    therapist_id=Int(read_only=True),
    doc_types=ListOf(required=True, item=Choice(choices=DOC_TYPES), min_items=1, max_items=len(DOC_TYPES),
                     description="exactly the documents asked for"),
    message=Str(max_length=doc_requests.MESSAGE_LIMIT, multiline=True, description="a note for the therapist"),
    source=Choice(choices=("staff", "worklist", "placement"), nullable=False,
                  description="where staff asked from; the scan and rejections make requests of their own"),
    status=Choice(read_only=True, choices=REQUEST_STATES, nullable=False,
                  source=lambda r: r.state_on(today())),
    sent_on=Date(read_only=True),
    expires_on=Date(read_only=True, description="the link works through this day"),
    previous_id=Int(read_only=True, description="the request whose rejected upload this one asks for again"),
    submitted_at=Timestamp(),
    items=ListOf(read_only=True, item=Nested(schema=UPLOAD)),
)
# What a request's source may be when read back (the scan's and a rejection's too).
REQUEST_OUT = Schema("DocumentRequestRead", **{**REQUEST.fields, "source": Choice(
    read_only=True, choices=REQUEST_SOURCES, nullable=False)})
ACCEPT = Schema("DocumentUploadAccept",
                issued_on=Date(description="confirmed or corrected; leave out to keep the therapist's"),
                expires_on=Date(description="confirmed or corrected; leave out to keep the therapist's"))
REJECT = Schema("DocumentUploadReject",
                message=Str(required=True, max_length=doc_requests.MESSAGE_LIMIT, multiline=True,
                            description="what is wrong: the therapist receives it with a fresh link"))


@bp.post("/therapists/<int:therapist_id>/document-requests")
@requires("document_requests.send")
@documented("Email the therapist a private, single-use upload link for exactly these documents",
            request=REQUEST, response=REQUEST_OUT, status=201, errors=(400, 404, 409))
def send_request(therapist_id: int):
    therapist = services.get_or_404(Therapist, therapist_id)
    values = REQUEST.load(json_body())
    sent = doc_requests.send_request(therapist, values["doc_types"], current_actor(),
                                     source=values.get("source") or "staff", message=values.get("message"))
    return created(sent, "document_requests_api.get_request", {"request_id": sent.id})


@bp.get("/therapists/<int:therapist_id>/document-requests")
@requires("document_requests.send")
@documented("A therapist's document requests, with each document's status", response=REQUEST_OUT, many=True,
            errors=(400, 404))
def list_requests(therapist_id: int):
    services.get_or_404(Therapist, therapist_id)
    return page(doc_requests.requests_of(therapist_id).order_by(None), DocumentRequest.id)


@bp.get("/document-requests/<int:request_id>")
@requires("document_requests.send")
@documented("A document request", response=REQUEST_OUT, errors=(404,))
def get_request(request_id: int):
    return reply(services.get_or_404(DocumentRequest, request_id))


@bp.get("/document-uploads")
@requires("document_requests.review")
@documented("The review queue: uploads waiting for a reviewer", response=UPLOAD, many=True)
def review_queue():
    return page(doc_requests.review_queue().order_by(None), DocumentRequestItem.id)


@bp.get("/document-uploads/<int:upload_id>")
@requires("document_requests.review")
@documented("One requested document and its upload", response=UPLOAD, errors=(404,))
def get_upload(upload_id: int):
    return reply(services.get_or_404(DocumentRequestItem, upload_id))


@bp.post("/document-uploads/<int:upload_id>/accept")
@requires("document_requests.review")
@documented("Accept an upload: it becomes the therapist's document with these dates (audited)",
            request=ACCEPT, response=UPLOAD, errors=(400, 404, 409))
def accept(upload_id: int):
    values = ACCEPT.load(json_body())
    services.get_or_404(DocumentRequestItem, upload_id)
    dates = {key: values[key] for key in ("issued_on", "expires_on") if key in values}
    return reply(doc_requests.accept(upload_id, current_actor(), **dates))


@bp.post("/document-uploads/<int:upload_id>/reject")
@requires("document_requests.review")
@documented("Reject an upload: the therapist receives the message with a fresh link (audited)",
            request=REJECT, response=UPLOAD, errors=(400, 404, 409))
def reject(upload_id: int):
    values = REJECT.load(json_body())
    services.get_or_404(DocumentRequestItem, upload_id)
    return reply(doc_requests.reject(upload_id, current_actor(), values["message"]))


@bp.get("/document-uploads/<int:upload_id>/file")
@requires("document_requests.review")
@documented("Download the uploaded file (audited)", content_type=tuple(EXTENSIONS), errors=(404,))
def upload_file(upload_id: int):
    return doc_requests.download_upload(services.get_or_404(DocumentRequestItem, upload_id), current_actor())
