"""Credential documents: checked by content, stored outside static/ under random names."""

import hashlib
import os
import secrets
from pathlib import Path

from flask import current_app

from agency.core import audit
from agency.core.dates import today
from agency.core.errors import NotFound, ValidationError
from agency.credentials.models import DOC_TYPES, Document, Therapist
from agency.extensions import db

# What the file really is, read from its first bytes; the name and the browser's
# claimed type are not trusted.
SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)


def sniff(head: bytes, tail: bytes) -> tuple[str, str] | None:
    """(content type, extension) when the bytes are a PDF, PNG or JPEG; else None."""
    for magic, content_type, ext in SIGNATURES:
        if head.startswith(magic):
            # A truncated or disguised file lacks the format's end marker.
            if content_type == "application/pdf" and b"%%EOF" not in tail:
                return None
            if content_type == "image/png" and b"IEND" not in tail:
                return None
            if content_type == "image/jpeg" and b"\xff\xd9" not in tail:
                return None
            return content_type, ext
    return None


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_PATH"])


def path_of(document: Document) -> Path:
    return upload_root() / document.storage_name[:2] / document.storage_name


def _safe_filename(name: str) -> str:
    name = os.path.basename((name or "").replace("\\", "/")).strip()
    cleaned = "".join(c for c in name if c.isprintable() and c not in '<>:"/\\|?*')
    return cleaned[:200] or "document"


def store_document(therapist: Therapist, stream, filename: str, doc_type: str,
                   issued_on=None, expires_on=None, actor=None) -> Document:
    """Check and store an uploaded file for a therapist; nothing is kept if any check fails."""
    if doc_type not in DOC_TYPES:
        raise ValidationError.on("doc_type", f"must be one of {', '.join(DOC_TYPES)}")
    if issued_on and expires_on and expires_on <= issued_on:
        raise ValidationError.on("expires_on", "must be after issued_on")
    if issued_on and issued_on > today():
        raise ValidationError.on("issued_on", "cannot be in the future")
    limit = int(current_app.config["MAX_UPLOAD_BYTES"])
    data = stream.read(limit + 1)
    if not data:
        raise ValidationError.on("file", "the file is empty")
    if len(data) > limit:
        raise ValidationError.on("file", f"is larger than the {limit // (1024 * 1024)} MB limit")
    kind = sniff(data[:16], data[-1024:])
    if kind is None:
        raise ValidationError.on("file", "must be a PDF, PNG or JPEG file")
    content_type, ext = kind

    storage_name = secrets.token_hex(16) + ext
    target = upload_root() / storage_name[:2] / storage_name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)

    document = Document(
        owner_type="therapist", owner_id=therapist.id, doc_type=doc_type,
        filename=_safe_filename(filename), content_type=content_type, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), storage_name=storage_name,
        issued_on=issued_on, expires_on=expires_on, uploaded_by_id=getattr(actor, "id", None),
    )
    db.session.add(document)
    try:
        audit.record("create", document,
                     f"{doc_type} '{document.filename}' for {therapist.full_name}", actor=actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        target.unlink(missing_ok=True)
        raise
    return document


def record_download(document: Document, actor) -> Path:
    """The stored file's path, after auditing who downloaded it; NotFound when the file is gone."""
    path = path_of(document)
    if not path.is_file():
        raise NotFound("the stored file is missing; upload it again")
    audit.record("download", document, f"downloaded {document.doc_type} '{document.filename}'",
                 actor=actor)
    db.session.commit()
    return path


def delete_document(document: Document, actor=None) -> None:
    """Remove a document and its file."""
    path = path_of(document)
    audit.record("delete", document, f"{document.doc_type} '{document.filename}'", actor=actor)
    db.session.delete(document)
    db.session.commit()
    path.unlink(missing_ok=True)

