"""Document request pages: sending a request, the review queue, and the therapist's public upload page.

The upload page is the one page anyone may open: its key is the private token in its URL, it shows
only the therapist's first name and the documents asked for, and a used, expired or unknown link
shows the same kind of page as any other, naming nobody.
"""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm

from agency.core.dates import human_day, parse_iso_date, today
from agency.core.errors import DomainError, NotFound, ValidationError
from agency.core.listing import paginate
from agency.core.permissions import current_actor, public, requires
from agency.credentials import requests as doc_requests
from agency.credentials.models import DOC_TYPE_LABELS, DocumentRequestItem, Therapist
from agency.extensions import db, limiter

bp = Blueprint("document_requests", __name__)
upload_bp = Blueprint("document_upload", __name__)


def _back(default: str) -> str:
    """Where a request sent from a worklist row or a placement returns: that page of this site, or the default."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return default


@bp.post("/therapists/<int:therapist_id>/document-requests")
@requires("document_requests.send")
def send(therapist_id: int):
    person = db.get_or_404(Therapist, therapist_id)
    back = _back(url_for("credentials.therapist", therapist_id=person.id) + "#document-requests")
    try:
        sent = doc_requests.send_request(person, request.form.getlist("doc_types"), current_actor(),
                                         source=request.form.get("source") or "staff",
                                         message=request.form.get("message"))
    except DomainError as exc:
        flash(f"Not sent: {exc.sentence}", "error")
    else:
        flash(f"Upload link for {', '.join(DOC_TYPE_LABELS[t] for t in sent.doc_types)} emailed to "
              f"{person.full_name}; it works until {human_day(sent.expires_on)}.",
              "success")
    return redirect(back)


@bp.get("/documents/review")
@requires("document_requests.review")
def review_queue():
    pagination = paginate(doc_requests.review_queue())
    return render_template("credentials/review_queue.html", pagination=pagination, as_of=today())


def _date_field(name: str):
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return parse_iso_date(raw)
    except ValueError as exc:
        raise ValidationError.on(name, str(exc)) from None


@bp.post("/document-uploads/<int:upload_id>/accept")
@requires("document_requests.review")
def accept(upload_id: int):
    try:
        item = doc_requests.accept(upload_id, current_actor(), _date_field("issued_on"), _date_field("expires_on"))
    except DomainError as exc:
        flash(f"Not accepted: {exc.sentence}", "error")
    else:
        flash(f"{DOC_TYPE_LABELS[item.doc_type]} from {item.therapist.full_name} accepted and filed.", "success")
    return redirect(url_for(".review_queue"))


@bp.post("/document-uploads/<int:upload_id>/reject")
@requires("document_requests.review")
def reject(upload_id: int):
    try:
        item = doc_requests.reject(upload_id, current_actor(), request.form.get("message", ""))
    except DomainError as exc:
        flash(f"Not rejected: {exc.sentence}", "error")
    else:
        flash(f"{DOC_TYPE_LABELS[item.doc_type]} rejected; {item.therapist.full_name} was sent your message "
              "with a fresh link.", "success")
    return redirect(url_for(".review_queue"))


@bp.get("/document-uploads/<int:upload_id>/file")
@requires("document_requests.review")
def upload_file(upload_id: int):
    item = db.session.get(DocumentRequestItem, upload_id)
    if item is None:
        raise NotFound(f"no upload with id {upload_id}")
    return doc_requests.download_upload(item, current_actor())


# ----------------------------------------------------------------------------- the therapist's page


class UploadForm(FlaskForm):
    """Only the CSRF token (checked for every POST by CSRFProtect, before the view): the fields are one
    file and two dates per document asked, named by its type."""


def _link_limit():
    return current_app.config["UPLOAD_LINK_LIMIT_PER_ADDRESS"]


def _uploaded() -> tuple[dict, dict]:
    files, dates = {}, {}
    for key, upload in request.files.items():
        if upload and upload.filename:
            files[key.removesuffix(".file")] = (upload.stream, upload.filename)
    for doc_type in {k.split(".", 1)[0] for k in request.form if "." in k}:
        values = []
        for part in ("issued_on", "expires_on"):
            raw = (request.form.get(f"{doc_type}.{part}") or "").strip()
            try:
                values.append(parse_iso_date(raw) if raw else None)
            except ValueError as exc:
                raise ValidationError.on(f"{doc_type}.{part}", str(exc)) from None
        dates[doc_type] = tuple(values)
    return files, dates


@upload_bp.route("/upload/<upload_token>", methods=["GET", "POST"])
@public
@limiter.limit(_link_limit, key_func=get_remote_address)
def upload(upload_token: str):
    try:
        found = doc_requests.usable_request(upload_token)
    except doc_requests.LinkGone as exc:
        return render_template("credentials/upload_link.html", gone=exc.message, status=410), 410
    except NotFound as exc:
        return render_template("credentials/upload_link.html", gone=exc.message, status=404), 404
    form = UploadForm()
    errors: dict = {}
    if request.method == "POST":
        try:
            files, dates = _uploaded()
            doc_requests.submit(upload_token, files, dates)
        except doc_requests.LinkGone as exc:
            return render_template("credentials/upload_link.html", gone=exc.message, status=410), 410
        except DomainError as exc:
            errors = exc.fields or {"": [exc.sentence]}
            flash(exc.sentence, "error")
        else:
            return render_template("credentials/upload_link.html", done=True, first_name=found.therapist.first_name)
    return render_template("credentials/upload_link.html", request_=found, first_name=found.therapist.first_name,
                           form=form, errors=errors, labels=DOC_TYPE_LABELS,
                           max_mb=current_app.config["MAX_UPLOAD_BYTES"] // 1048576)
