"""Credential documents: checked by content, stored outside static/ under random names."""

import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, send_file

from agency.core import audit
from agency.core.dates import today
from agency.core.errors import NotFound, ValidationError
from agency.credentials import uploads
from agency.credentials.models import DOC_TYPES, Document, Therapist, doc_type_label
from agency.extensions import db

KNOWN_EXTENSIONS = {".pdf", ".png", ".jpg", ".jpeg"}


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_PATH"])


def path_of(document: Document) -> Path:
    return upload_root() / document.storage_name[:2] / document.storage_name


def clean_filename(name: str, extension: str) -> str:
    """The uploader's name, stripped of folders, control and bidi characters, with the detected extension.

    "poly.html" uploaded as a PNG becomes "poly.png", "report.pdf.exe" a PDF "report.pdf".
    """
    name = unicodedata.normalize("NFC", os.path.basename((name or "").replace("\\", "/")))
    # Control and format characters are not printable, the bidi controls among them (U+202A-U+202E,
    # U+2066-U+2069, U+200E/F), which reorder what a name shows: "report\u202efdp.exe" reads "reportexe.pdf".
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"/\\|?*')
    base, _ = os.path.splitext(name.strip(" ."))
    inner, inner_ext = os.path.splitext(base)
    if inner_ext.lower() in KNOWN_EXTENSIONS:
        base = inner
    base = base.strip(" .")[:200] or "document"
    return base + extension


def write_private(storage_name: str, data: bytes) -> Path:
    """Write a stored file readable by the app's user only: 0600 in 0700 folders."""
    root = upload_root()
    folder = root / storage_name[:2]
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for each in (root, folder):  # also folders made before files were private
        each.chmod(0o700)
    target = folder / storage_name
    tmp = target.with_suffix(".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
    return target


def check_dates(issued_on, expires_on, prefix: str = "") -> None:
    """The dates a document may carry: expiry after issue, and not issued in the future."""
    if issued_on and expires_on and expires_on <= issued_on:
        raise ValidationError.on(f"{prefix}expires_on", "must be after issued_on")
    if issued_on and issued_on > today():
        raise ValidationError.on(f"{prefix}issued_on", "cannot be in the future")


@dataclass(frozen=True)
class StoredFile:
    """A checked upload written under a random name, as every document (and every upload awaiting review) is."""

    filename: str
    content_type: str
    size: int
    sha256: str
    storage_name: str
    path: Path


def store_file(stream, filename: str, field: str = "file") -> StoredFile:
    """Read, check (uploads.check) and privately write an uploaded file; ValidationError on `field` if refused."""
    limit = int(current_app.config["MAX_UPLOAD_BYTES"])
    data = stream.read(limit + 1)
    try:
        if not data:
            raise ValidationError.on("file", "the file is empty")
        if len(data) > limit:
            raise ValidationError.on("file", f"is larger than the {limit // (1024 * 1024)} MB limit")
        checked = uploads.check(data)
    except ValidationError as exc:
        if field == "file":
            raise
        raise ValidationError.on(field, exc.fields["file"][0]) from None
    storage_name = secrets.token_hex(16) + checked.extension
    target = write_private(storage_name, checked.data)
    return StoredFile(clean_filename(filename, checked.extension), checked.content_type, len(checked.data),
                      hashlib.sha256(checked.data).hexdigest(), storage_name, target)


def store_document(therapist: Therapist, stream, filename: str, doc_type: str,
                   issued_on=None, expires_on=None, actor=None) -> Document:
    """Check and store an uploaded file for a therapist; nothing is kept if any check fails."""
    if doc_type not in DOC_TYPES:
        raise ValidationError.on("doc_type", f"must be one of {', '.join(DOC_TYPES)}")
    check_dates(issued_on, expires_on)
    stored = store_file(stream, filename)
    document = Document(
        owner_type="therapist", owner_id=therapist.id, doc_type=doc_type,
        filename=stored.filename, content_type=stored.content_type, size=stored.size, sha256=stored.sha256,
        storage_name=stored.storage_name, issued_on=issued_on, expires_on=expires_on,
        uploaded_by_id=getattr(actor, "id", None),
    )
    db.session.add(document)
    try:
        audit.record("create", document,
                     f"{doc_type_label(doc_type)} '{document.filename}' for {therapist.full_name}", actor=actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        stored.path.unlink(missing_ok=True)
        raise
    return document


def send_stored(path: Path, content_type: str, filename: str):
    """A stored file as an attachment named and typed by what it was found to be."""
    # Named afresh on the way out, so a document stored before names were cleaned downloads safely too.
    extension = uploads.EXTENSIONS[content_type]
    return send_file(path, mimetype=content_type, as_attachment=True,
                     download_name=clean_filename(filename, extension))


def download(document: Document, actor):
    """The stored file as an attachment named and typed by what it was found to be, after auditing who
    downloaded it; NotFound when the file is gone."""
    path = path_of(document)
    if not path.is_file():
        raise NotFound("the stored file is missing; upload it again")
    audit.record("download", document, f"downloaded {doc_type_label(document.doc_type)} '{document.filename}'",
                 actor=actor)
    db.session.commit()
    return send_stored(path, document.content_type, document.filename)


def delete_document(document: Document, actor=None) -> None:
    """Remove a document and its file."""
    path = path_of(document)
    audit.record("delete", document, f"{doc_type_label(document.doc_type)} '{document.filename}'", actor=actor)
    db.session.delete(document)
    db.session.commit()
    path.unlink(missing_ok=True)

