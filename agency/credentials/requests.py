"""Document requests: a private, expiring, single-use upload link for exactly the documents asked for.

Staff send one from the therapist's page, a worklist row or a placement's missing documents; the
daily scan opens one when a document's expiry reaches a reminder threshold (its reminder to the
therapist carries the link). The link's token is random (secrets.token_urlsafe, 32 bytes) and only
its SHA-256 is stored, so the database cannot mail it again: a reminder sends a fresh token, and the
one before it stops working. Never two requests are in play for one therapist and document type: the
therapist's row is locked before the check, and a partial unique index backs it.

The therapist submits every document asked for at once; the link is dead from then on (one
conditional UPDATE, so two submits at the same moment make one submission). Each upload waits in the
review queue, where a reviewer accepts it (it becomes the therapist's Document of that type; the one
it renews stays on file as history, superseded, so the worklist item goes) or rejects it with a
message, which the therapist receives with a fresh link for that document.
"""

import hashlib
import secrets
from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app

from agency.core import audit
from agency.core.dates import human_day, today, utcnow
from agency.core.errors import Conflict, DomainError, NotFound, ValidationError
from agency.core.outbox import queue_email, queue_emails
from agency.core.persistence import insert_new, lock, lock_all, write_transaction
from agency.credentials import documents
from agency.credentials.models import (
    DOC_TYPES,
    OPEN_ITEM_STATUSES,
    CredentialReminder,
    Document,
    DocumentRequest,
    DocumentRequestItem,
    Therapist,
    doc_type_label,
)
from agency.credentials.worklist import SIDE_BY_SIDE_DOCUMENTS
from agency.extensions import db

MESSAGE_LIMIT = 1000


class LinkGone(DomainError):
    """A link that was real but is used or expired: 410, and nothing about whose it was."""

    status = 410
    code = "gone"


# ----------------------------------------------------------------------------- links


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def upload_link(token: str) -> str:
    """The link the therapist opens: PUBLIC_URL, never the Host of whatever request sent it (it could be forged)."""
    path = current_app.url_map.bind("localhost").build("document_upload.upload", {"upload_token": token})
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def request_by_token(token: str) -> DocumentRequest | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(sa.select(DocumentRequest).where(DocumentRequest.token_hash == hash_token(token)))


def usable_request(token: str, day: date | None = None) -> DocumentRequest:
    """The request behind a live link; NotFound for a link never made, LinkGone for a used or expired one."""
    found = request_by_token(token)
    if found is None:
        raise NotFound("This upload link is not valid. Check that you opened the whole link from the email.")
    if not found.link_works_on(day or today()):
        raise LinkGone("This upload link has already been used or has expired. If you still need to send "
                       "documents, ask the credentialing team for a new link.")
    return found


# ----------------------------------------------------------------------------- sending


def parse_doc_types(raw) -> list[str]:
    """The document types asked for, in order and once each; ValidationError for an empty list or an unknown type."""
    if not isinstance(raw, list) or not raw:
        raise ValidationError.on("doc_types", "choose at least one document to request")
    unknown = [str(t) for t in raw if t not in DOC_TYPES]
    if unknown:
        raise ValidationError.on("doc_types", f"unknown document type {', '.join(unknown)}; "
                                              f"use {', '.join(DOC_TYPES)}")
    return list(dict.fromkeys(raw))


def lapse_expired(day: date) -> int:
    """Mark the documents of links that expired unanswered as expired, so they can be asked for again."""
    lapsed = sa.select(DocumentRequest.id).where(DocumentRequest.status == "open", DocumentRequest.expires_on < day)
    return db.session.execute(
        sa.update(DocumentRequestItem)
        .where(DocumentRequestItem.status == "requested", DocumentRequestItem.request_id.in_(lapsed))
        .values(status="expired"), execution_options={"synchronize_session": False},
    ).rowcount


def open_items(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], DocumentRequestItem]:
    """The items in play for these (therapist id, document type) pairs, one query."""
    if not pairs:
        return {}
    therapist_ids = {t for t, _ in pairs}
    rows = db.session.scalars(
        sa.select(DocumentRequestItem).where(DocumentRequestItem.therapist_id.in_(therapist_ids),
                                             DocumentRequestItem.status.in_(OPEN_ITEM_STATUSES))
    ).all()
    return {(i.therapist_id, i.doc_type): i for i in rows if (i.therapist_id, i.doc_type) in pairs}


def _open_request(therapist: Therapist, doc_types: list[str], actor, source: str, day: date,
                  message: str | None = None, previous: DocumentRequest | None = None) -> tuple[DocumentRequest, str]:
    """Add a request and its items to the session (the caller locked the therapist and commits); its token."""
    token, token_hash = _new_token()
    request = DocumentRequest(
        therapist_id=therapist.id, token_hash=token_hash, source=source, sent_on=day,
        expires_on=day + timedelta(days=int(current_app.config["DOCUMENT_REQUEST_DAYS"])),
        message=message, previous_id=previous.id if previous else None, requested_by_id=getattr(actor, "id", None),
        items=[DocumentRequestItem(therapist_id=therapist.id, doc_type=t) for t in doc_types],
    )
    # Known only to whoever just made the request, never stored: the caller mails it (or the demo uses it).
    request.fresh_token = token
    db.session.add(request)
    audit.record("create", request, f"requested {_listed(doc_types)} from {therapist.full_name} "
                                    f"(link valid until {human_day(request.expires_on)}, {source})", actor=actor)
    return request, token


def _listed(doc_types) -> str:
    return ", ".join(doc_type_label(t) for t in doc_types)


def _request_email(request: DocumentRequest, token: str, *, reason: str | None = None) -> tuple[str, str]:
    therapist = request.therapist
    agency = current_app.config["AGENCY_NAME"]
    wanted = "\n".join(f"  - {doc_type_label(t)}" for t in request.doc_types)
    subject = f"{agency}: please upload {_listed(request.doc_types)}"
    lines = [f"Hello {therapist.first_name},", "",
             f"The credentialing team at {agency} asks you to upload:", wanted, ""]
    if reason:
        lines += ["About the document you sent before:", reason, ""]
    elif request.message:
        lines += [request.message, ""]
    lines += ["Upload them here (no account needed; the link is yours alone and works once):",
              upload_link(token), "",
              f"The link works until {human_day(request.expires_on)}. For each document, give the date it was "
              "issued and the date it expires, if it does."]
    return subject, "\n".join(lines)


def send_request(therapist: Therapist, raw_doc_types, actor, *, source: str = "staff",
                 message: str | None = None) -> DocumentRequest:
    """Email the therapist a private upload link for exactly these documents; Conflict when one is already asked."""
    doc_types = parse_doc_types(raw_doc_types)
    if source not in ("staff", "worklist", "placement"):
        raise ValidationError.on("source", "must be staff, worklist or placement")
    message = (message or "").strip() or None
    if message and len(message) > MESSAGE_LIMIT:
        raise ValidationError.on("message", f"must be at most {MESSAGE_LIMIT} characters")
    day = today()
    therapist = lock(Therapist, therapist.id) or _gone_therapist()
    if therapist.status == "inactive":
        raise Conflict(f"{therapist.full_name} is inactive; reactivate the profile before requesting documents")
    lapse_expired(day)
    already = open_items({(therapist.id, t) for t in doc_types})
    if already:
        described = "; ".join(
            f"{doc_type_label(i.doc_type)} ({'in the review queue' if i.status == 'uploaded' else 'link sent '}"
            f"{'' if i.status == 'uploaded' else human_day(i.request.sent_on)})" for i in already.values())
        raise Conflict(f"{therapist.full_name} already has an open request for {described}",
                       {"doc_types": [f"already requested: {_listed(i.doc_type for i in already.values())}"]})
    request, token = _open_request(therapist, doc_types, actor, source, day, message)
    db.session.flush()
    subject, body = _request_email(request, token)
    queue_email(therapist.email, subject, body, dedupe_key=f"document-request:{request.id}:sent")
    db.session.commit()
    return request


def _gone_therapist():
    raise NotFound("no such therapist")


def links_for_reminders(pairs: list[tuple[Therapist, str]], day: date) -> dict[tuple[int, str], str]:
    """The scan's rule: a document reaching a reminder threshold is requested from the therapist, unless it
    already is. Gives, per (therapist id, type), the sentence for the therapist's reminder; in the caller's
    transaction (which commits), with the therapists locked first."""
    if not pairs:
        return {}
    lock_all(Therapist, {t.id for t, _ in pairs})
    lapse_expired(day)
    already = open_items({(t.id, doc_type) for t, doc_type in pairs})
    sentences = {}
    for therapist, doc_type in pairs:
        key = (therapist.id, doc_type)
        if key in sentences:
            continue
        item = already.get(key)
        if item is not None and item.status == "uploaded":
            sentences[key] = "We have your upload of it and are reviewing it."
        elif item is not None:
            sentences[key] = (f"We emailed you a private upload link for it on {human_day(item.request.sent_on)}; "
                              f"it works until {human_day(item.request.expires_on)}.")
        else:
            request, token = _open_request(therapist, [doc_type], None, "scan", day)
            sentences[key] = (f"Upload the renewal here (no account needed; the link works once, until "
                              f"{human_day(request.expires_on)}):\n{upload_link(token)}")
    return sentences


# ----------------------------------------------------------------------------- the therapist's upload


def submit(token: str, files: dict, dates: dict) -> DocumentRequest:
    """Store the therapist's upload of every document asked for, checked as staff uploads are, and kill the link.

    files: {doc_type: (stream, filename)}; dates: {doc_type: (issued_on, expires_on)}. Each file is checked
    and written before the link is taken, in one conditional UPDATE: of two submits at once, one wins and
    the other's files are removed.
    """
    day = today()
    request = usable_request(token, day)
    request_id, wanted = request.id, request.doc_types
    missing = [t for t in wanted if t not in files]
    if missing:
        raise ValidationError(f"Upload {_listed(missing)} as well: every document asked for is sent together.",
                              {t: ["choose the file to upload"] for t in missing})
    extra = [t for t in files if t not in wanted]
    if extra:
        raise ValidationError.on("doc_type", f"{_listed(extra)} was not asked for")
    for doc_type in wanted:
        issued, expires = dates.get(doc_type, (None, None))
        documents.check_dates(issued, expires, prefix=f"{doc_type}.")
    stored = {}
    try:
        for doc_type in wanted:
            stream, filename = files[doc_type]
            stored[doc_type] = documents.store_file(stream, filename, field=doc_type)
        db.session.rollback()  # end the reads; the write transaction begins with the claim below
        write_transaction()
        claimed = db.session.execute(
            sa.update(DocumentRequest)
            .where(DocumentRequest.id == request_id, DocumentRequest.status == "open",
                   DocumentRequest.expires_on >= day)
            .values(status="submitted", submitted_at=utcnow()), execution_options={"synchronize_session": False},
        ).rowcount == 1
        if not claimed:
            raise LinkGone("This upload link has already been used or has expired; your files were not kept.")
        request = db.session.get(DocumentRequest, request_id, populate_existing=True)
        now = utcnow()
        for item in request.items:
            file = stored[item.doc_type]
            item.status, item.uploaded_at = "uploaded", now
            item.filename, item.content_type, item.size = file.filename, file.content_type, file.size
            item.sha256, item.storage_name = file.sha256, file.storage_name
            item.upload_issued_on, item.upload_expires_on = dates.get(item.doc_type, (None, None))
        audit.record("update", request, f"{request.therapist.full_name} uploaded {_listed(wanted)} through their "
                                        "link; waiting for review", actor=None)
        desk = current_app.config["CREDENTIALING_EMAIL"]
        queue_email(desk, f"Documents to review: {request.therapist.full_name}",
                    f"{request.therapist.full_name} uploaded {_listed(wanted)} through their private link.\n"
                    "They wait in the review queue (Documents to review).",
                    dedupe_key=f"document-request:{request.id}:submitted")
        db.session.commit()
    except Exception:
        db.session.rollback()
        for file in stored.values():
            file.path.unlink(missing_ok=True)
        raise
    return request


# ----------------------------------------------------------------------------- review


def review_queue():
    """The uploads waiting for a reviewer, oldest first: a select() to page."""
    return (sa.select(DocumentRequestItem).where(DocumentRequestItem.status == "uploaded")
            .options(sa.orm.joinedload(DocumentRequestItem.therapist), sa.orm.joinedload(DocumentRequestItem.request))
            .order_by(DocumentRequestItem.uploaded_at, DocumentRequestItem.id))


def _claim_review(item_id: int, decision: str, actor, note: str | None = None) -> DocumentRequestItem:
    """Take the upload for this decision, its request locked first so the last decision closes it; Conflict
    when another reviewer decided it first (one conditional UPDATE)."""
    item = db.session.get(DocumentRequestItem, item_id) or _no_upload(item_id)
    lock(DocumentRequest, item.request_id)
    decided = db.session.execute(
        sa.update(DocumentRequestItem)
        .where(DocumentRequestItem.id == item_id, DocumentRequestItem.status == "uploaded")
        .values(status=decision, reviewed_by_id=getattr(actor, "id", None), reviewed_at=utcnow(), review_note=note),
        execution_options={"synchronize_session": False},
    ).rowcount == 1
    if not decided:
        if db.session.get(DocumentRequestItem, item_id, populate_existing=True).status == "requested":
            raise Conflict("Nothing was uploaded for this document yet; there is nothing to review.")
        raise Conflict("This upload was already reviewed; nothing was changed.")
    item = db.session.get(DocumentRequestItem, item_id, populate_existing=True)
    request = item.request
    db.session.refresh(request)
    if all(i.status != "uploaded" for i in request.items):
        request.status = "reviewed"
    return item


def _no_upload(item_id: int):
    raise NotFound(f"no upload with id {item_id}")


def _renewed(item: DocumentRequestItem) -> Document | None:
    """The therapist's latest document of the type, which an accepted upload renews (none for side-by-side types)."""
    if item.doc_type in SIDE_BY_SIDE_DOCUMENTS:
        return None
    return db.session.scalars(
        sa.select(Document).where(Document.owner_type == "therapist", Document.owner_id == item.therapist_id,
                                  Document.doc_type == item.doc_type).order_by(Document.id.desc()).limit(1)
    ).first()


# An accepted upload's date left as the therapist gave it.
KEEP = object()


def accept(item_id: int, actor, issued_on=KEEP, expires_on=KEEP) -> DocumentRequestItem:
    """The upload becomes the therapist's document, with the dates the reviewer confirmed or corrected.

    It must be current today and outlast the document it renews, which stays on file as history and
    drops off the worklist (the worklist counts a later, longer-lasting document of the type as its renewal).
    """
    item = _claim_review(item_id, "accepted", actor)
    issued_on = item.upload_issued_on if issued_on is KEEP else issued_on
    expires_on = item.upload_expires_on if expires_on is KEEP else expires_on
    documents.check_dates(issued_on, expires_on)
    day = today()
    if expires_on is not None and expires_on < day:
        raise ValidationError.on("expires_on", f"is before today: an expired {doc_type_label(item.doc_type)} "
                                               "cannot be accepted; correct the date or reject the upload")
    old = _renewed(item)
    # A document that expires is renewed by one that expires too: a yearly TB test with no date would
    # otherwise count as current for ever.
    if old is not None and old.expires_on is not None and expires_on is None:
        raise ValidationError.on("expires_on", f"is required: the {doc_type_label(item.doc_type)} on file expires "
                                               f"({human_day(old.expires_on)}), so its renewal has a date too")
    if old is not None and old.expires_on is not None and expires_on is not None and expires_on <= old.expires_on:
        raise ValidationError.on("expires_on", f"must be after the expiry of the {doc_type_label(item.doc_type)} "
                                               f"on file ({human_day(old.expires_on)}); correct it or reject")
    document = Document(
        owner_type="therapist", owner_id=item.therapist_id, doc_type=item.doc_type, filename=item.filename,
        content_type=item.content_type, size=item.size, sha256=item.sha256, storage_name=item.storage_name,
        issued_on=issued_on, expires_on=expires_on, uploaded_by_id=getattr(actor, "id", None),
    )
    db.session.add(document)
    renews = f"; renews document {old.id}, kept as history" if old is not None else ""
    audit.record("create", document, f"{doc_type_label(item.doc_type)} '{item.filename}' for "
                                     f"{item.therapist.full_name}, uploaded by the therapist and accepted{renews}",
                 actor=actor)
    item.document_id = document.id
    audit.record("update", item, f"accepted {doc_type_label(item.doc_type)} from {item.therapist.full_name}",
                 actor=actor, changes={"issued_on": [item.upload_issued_on, issued_on],
                                       "expires_on": [item.upload_expires_on, expires_on]})
    db.session.commit()
    return item


def reject(item_id: int, actor, message: str) -> DocumentRequestItem:
    """Refuse the upload with a message the therapist receives, with a fresh link for that document."""
    message = (message or "").strip()
    if not message:
        raise ValidationError.on("message", "say what is wrong, for the therapist to read")
    if len(message) > MESSAGE_LIMIT:
        raise ValidationError.on("message", f"must be at most {MESSAGE_LIMIT} characters")
    item = _claim_review(item_id, "rejected", actor, message)
    therapist = lock(Therapist, item.therapist_id)
    request, token = _open_request(therapist, [item.doc_type], actor, "rejection", today(), message, item.request)
    audit.record("update", item, f"rejected {doc_type_label(item.doc_type)} from {therapist.full_name}: {message}",
                 actor=actor)
    db.session.flush()
    subject, body = _request_email(request, token, reason=message)
    queue_email(therapist.email, subject, body, dedupe_key=f"document-request:{request.id}:sent")
    db.session.commit()
    return item


def download_upload(item: DocumentRequestItem, actor):
    """The uploaded file for a reviewer, after auditing who looked at it."""
    if item.storage_name is None:
        raise NotFound("nothing was uploaded for this document yet")
    path = documents.path_of(item)
    if not path.is_file():
        raise NotFound("the uploaded file is missing")
    audit.record("download", item, f"viewed the uploaded {doc_type_label(item.doc_type)} '{item.filename}'",
                 actor=actor)
    db.session.commit()
    return documents.send_stored(path, item.content_type, item.filename)


def requests_of(therapist_id: int):
    """A therapist's requests, newest first, with their items (one more query)."""
    return (sa.select(DocumentRequest).where(DocumentRequest.therapist_id == therapist_id)
            .options(sa.orm.joinedload(DocumentRequest.requested_by)).order_by(DocumentRequest.id.desc()))


# ----------------------------------------------------------------------------- chasing


def _unanswered(day: date) -> list[DocumentRequest]:
    return list(db.session.scalars(
        sa.select(DocumentRequest).where(DocumentRequest.status == "open", DocumentRequest.expires_on >= day)
        .options(sa.orm.joinedload(DocumentRequest.therapist)).order_by(DocumentRequest.id)))


def _recruiters(therapist_ids: set[int]) -> dict[int, set[str]]:
    """The recruiters of each therapist's live placements, by email: one query."""
    from agency.auth.models import User
    from agency.placements.models import Placement

    rows = db.session.execute(
        sa.select(Placement.therapist_id, User.email).join(User, User.id == Placement.recruiter_id)
        .where(Placement.therapist_id.in_(therapist_ids), Placement.status.in_(Placement.LIVE))
    ).all()
    found = defaultdict(set)
    for therapist_id, email in rows:
        found[therapist_id].add(email)
    return found


def chase(day: date) -> dict:
    """Remind therapists of unanswered requests at each of DOCUMENT_REQUEST_REMINDER_DAYS before the link
    expires (a fresh link each time), and escalate to the recruiters of their live placements once, at
    DOCUMENT_REQUEST_ESCALATE_DAYS; once each, like credential reminders, whatever runs twice."""
    from agency.credentials.scan import threshold_for

    config = current_app.config
    thresholds = sorted(int(t) for t in config["DOCUMENT_REQUEST_REMINDER_DAYS"])
    escalate_at = int(config["DOCUMENT_REQUEST_ESCALATE_DAYS"])
    write_transaction()
    lapse_expired(day)
    pending = _unanswered(day)
    rows = []
    for request in pending:
        days_left = (request.expires_on - day).days
        threshold = threshold_for(days_left, thresholds)
        if threshold is not None and request.sent_on < day:
            rows.append({"item_kind": "document_request", "item_id": request.id, "due_on": request.expires_on,
                         "threshold": threshold, "sent_on": day, "therapist_id": request.therapist_id})
        if days_left <= escalate_at and request.sent_on < day:
            rows.append({"item_kind": "document_request_escalation", "item_id": request.id,
                         "due_on": request.expires_on, "threshold": 0, "sent_on": day,
                         "therapist_id": request.therapist_id})
    inserted = insert_new(CredentialReminder, rows, returning=(CredentialReminder.item_kind, CredentialReminder.item_id,
                                                               CredentialReminder.threshold))
    by_id = {r.id: r for r in pending}
    recruiters = _recruiters({by_id[i].therapist_id for kind, i, _ in inserted if kind != "document_request"})
    messages = []
    reminded = escalated = 0
    for kind, request_id, threshold in inserted:
        request = by_id[request_id]
        if kind == "document_request":
            token, request.token_hash = _new_token()
            subject, body = _request_email(request, token)
            body = (f"A reminder: we have not yet received what we asked for on {human_day(request.sent_on)}. "
                    "This email has a new link; the one before it no longer works.\n\n" + body)
            messages.append({"to_addr": request.therapist.email, "subject": f"Reminder: {subject}", "body": body,
                             "dedupe_key": f"document-request:{request.id}:reminder:{threshold}"})
            reminded += 1
        else:
            therapist = request.therapist
            to = sorted(recruiters.get(therapist.id) or {config["CREDENTIALING_EMAIL"]})
            body = (f"{therapist.full_name} has not answered the request for {_listed(request.doc_types)} sent "
                    f"on {human_day(request.sent_on)}; the upload link expires on {human_day(request.expires_on)}.\n"
                    "You are the recruiter of their placement: please call them. Without these documents the "
                    "placement may not start or continue.")
            messages += [{"to_addr": addr, "subject": f"Documents missing: {therapist.full_name}", "body": body,
                          "dedupe_key": f"document-request:{request.id}:escalation:{addr}"} for addr in to]
            audit.record("update", request, f"request unanswered, escalated to {', '.join(to)}", actor=None)
            escalated += 1
    queue_emails(messages)
    db.session.commit()
    return {"request_reminders": reminded, "request_escalations": escalated}
