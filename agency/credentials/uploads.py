"""What an uploaded file really is: opened with a real parser, refused when it could carry code.

A credential document is read by people on many machines, so a file that a PDF reader would
run script from, or that a browser would render as a page, must never be stored. A PDF is
parsed (pypdf) and every object walked for actions and attachments; an image is decoded
(Pillow) within a pixel cap and written again, so what is stored is pixels and nothing the
uploader added. Either kind is refused when its bytes also read as HTML or as a ZIP archive.
"""

import re
import warnings
import zipfile
from dataclasses import dataclass
from io import BytesIO

from flask import current_app
from PIL import Image, ImageOps
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from agency.core.errors import ValidationError

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
# The kinds accepted, told by their first bytes; the name and the browser's claimed type are not trusted.
SIGNATURES = (
    (b"%PDF-", PDF, ".pdf"),
    (b"\x89PNG\r\n\x1a\n", PNG, ".png"),
    (b"\xff\xd8\xff", JPEG, ".jpg"),
)
EXTENSIONS = {content_type: ext for _, content_type, ext in SIGNATURES}
END_MARKERS = {PDF: b"%%EOF", PNG: b"IEND", JPEG: b"\xff\xd9"}

# Markup a browser would render if the file reached one as a page: the elements that run script,
# load or navigate by themselves (an <img onerror>, a <meta> refresh, an <object>), and any tag with
# an on... handler. Each needs the character that ends a tag name after it, which random compressed
# bytes carry by chance far too rarely to matter. None is a PDF hex string (<feff0041>, hex digits
# only) or an XMP metadata tag (always prefixed: <dc:title>, <xmpGImg:image>).
MARKUP = re.compile(
    rb"<(?:html|head|body|script|iframe|frame|frameset|svg|math|img|meta|base|link|style|object|embed|applet"
    rb"|form|input|video|audio|details|marquee|isindex)[\s>/]"
    rb"|<[a-z][^<>]{0,500}\son[a-z]+\s*=|<!doctype\s+html|<\?xml-stylesheet", re.IGNORECASE)

# What a PDF may not carry, by the PDF name that introduces it, and why a reviewer refuses it.
PDF_REFUSED_NAMES = {
    "/JavaScript": "carries JavaScript",
    "/JS": "carries JavaScript",
    "/Launch": "carries a launch action (it could start a program)",
    "/EmbeddedFiles": "carries an embedded file",
    "/EmbeddedFile": "carries an embedded file",
    "/EF": "carries an embedded file",
    "/FileAttachment": "carries an embedded file",
    "/RichMedia": "carries rich media (Flash or video)",
    "/RichMediaContent": "carries rich media (Flash or video)",
    "/RichMediaExecute": "carries rich media (Flash or video)",
    "/XFA": "carries an XFA form",
    # A go-to into another file or an attachment: opening \\host\share\x.pdf sends the reader's
    # Windows credentials to that host.
    "/GoToR": "carries an action that opens another file",
    "/GoToE": "carries an action that opens another file",
    "/SubmitForm": "carries a form action that sends or imports data",
    "/ImportData": "carries a form action that sends or imports data",
}
# Too short to tell from glyph names in a font's encoding; the walk finds them as keys, where they mean it.
PDF_AMBIGUOUS_NAMES = {"/JS", "/EF"}


def _written_any_way(name: str) -> bytes:
    # A PDF name may write any of its characters as #xx: /J#61vaScript is /JavaScript.
    return b"/" + b"".join(b"(?:%s|#(?i:%02x))" % (re.escape(c.encode()), ord(c)) for c in name[1:])


# Any of the refused names long enough to mean it, as it may be written: a file without one needs no
# closer look, which keeps the byte scan quick for every honest file.
PDF_SUSPECT = re.compile(b"|".join(_written_any_way(name) for name in PDF_REFUSED_NAMES
                                   if name not in PDF_AMBIGUOUS_NAMES))
URL_IGNORED = re.compile(r"[\x00-\x20\x7f]")
SCRIPT_URL = re.compile(r"(?:javascript|vbscript):", re.IGNORECASE)
# Keys whose value names what a dictionary is or does (an action's /S, an annotation's /Subtype).
PDF_KIND_KEYS = ("/S", "/Type", "/Subtype")
# Outside streams, a PDF's syntax is names, strings, comments and numbers; names in strings and
# comments are text, not syntax, so the byte scan steps over them.
PDF_TOKEN = re.compile(rb"[(%]|/[^\s()<>\[\]{}/%]*")
PDF_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)
PDF_LINE_END = re.compile(rb"[\r\n]")
PDF_STRING_PART = re.compile(rb"\\.|[()]", re.DOTALL)


@dataclass(frozen=True)
class Checked:
    content_type: str
    extension: str
    data: bytes  # what to store: the upload itself for a PDF, Pillow's re-encoding for an image


def refuse(message: str) -> ValidationError:
    return ValidationError.on("file", message)


def check(data: bytes) -> Checked:
    """The file as it may be stored; ValidationError on the file field when it may not."""
    content_type = next((kind for magic, kind, _ in SIGNATURES if data.startswith(magic)), None)
    if content_type is None:
        raise refuse("must be a PDF, PNG or JPEG file")
    if _is_zip(data, content_type):
        raise refuse("is also a ZIP archive; upload the document alone")
    if content_type == PDF:
        _check_pdf(data)
        stored = data
    else:
        _refuse_markup(_image_outside_pixels(data, content_type))
        stored = _reencode(data, content_type)
    return Checked(content_type, EXTENSIONS[content_type], stored)


def _is_zip(data: bytes, content_type: str) -> bool:
    # A ZIP reader finds its directory from the end of a file, whatever comes first; one that lists
    # entries makes the file a second document. A local header past the end is one too, listed or not.
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            if archive.namelist():
                return True
    except Exception:  # whatever the reason, a file zipfile cannot open is not a ZIP to anyone
        pass
    end = data.rfind(END_MARKERS[content_type])
    return end >= 0 and b"PK\x03\x04" in data[end:]


def _refuse_markup(parts) -> None:
    for part in parts:
        if MARKUP.search(part):
            raise refuse("carries HTML or script inside; upload a plain PDF, PNG or JPEG")


# ----------------------------------------------------------------------------- PDF


def _check_pdf(data: bytes) -> None:
    config = current_app.config
    try:
        reader = PdfReader(BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise refuse("is an encrypted PDF; upload it without a password")
        references = [IndirectObject(num, gen, reader) for gen, table in reader.xref.items() for num in table]
        references += [IndirectObject(num, 0, reader) for num in reader.xref_objStm]
        if len(references) > int(config["MAX_PDF_OBJECTS"]):
            raise refuse(f"has more than {config['MAX_PDF_OBJECTS']} PDF objects")
        pages = len(reader.pages)
        if not pages:
            raise refuse("is a PDF without pages")
        if pages > int(config["MAX_PDF_PAGES"]):
            raise refuse(f"has more than {config['MAX_PDF_PAGES']} pages")
        for reference in references:
            _walk_pdf_object(reference.get_object())
    except ValidationError:
        raise
    except Exception:  # a malformed file fails pypdf in many ways; each is the uploader's
        raise refuse("could not be read as a PDF; it may be damaged") from None
    _scan_pdf_bytes(data)


def _walk_pdf_object(obj) -> None:
    """Refuse the object when it, or any dictionary or array directly inside it, carries what may run.

    Every indirect object of the file is walked on its own (the catalog and its names tree, pages,
    annotations, actions and their /Next chains among them), so references are not followed here.
    """
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, DictionaryObject):
            for key, value in dict.items(item):
                _check_pdf_entry(key, value)
                if not isinstance(value, IndirectObject):
                    stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(value for value in item if not isinstance(value, IndirectObject))


def _check_pdf_entry(key: str, value) -> None:
    if key in PDF_REFUSED_NAMES:
        raise refuse(PDF_REFUSED_NAMES[key])
    if key not in PDF_KIND_KEYS and key != "/URI":
        return
    value = value.get_object() if isinstance(value, IndirectObject) else value
    if not isinstance(value, str):
        return
    if key in PDF_KIND_KEYS and value in PDF_REFUSED_NAMES:
        raise refuse(PDF_REFUSED_NAMES[value])
    # A link to a javascript: address runs script in readers that follow it; browsers drop the
    # whitespace and control characters in a URL ("java\tscript:" is "javascript:" to them).
    if key == "/URI" and SCRIPT_URL.match(URL_IGNORED.sub("", value)):
        raise refuse(PDF_REFUSED_NAMES["/JavaScript"])


def _scan_pdf_bytes(data: bytes) -> None:
    """Refuse markup anywhere in the file's bytes, and names in them that the walk did not see.

    Markup is looked for in every byte, streams too: a browser reading the file as a page reads
    a stream stored as written (an image's samples, a JPEG, an object no table lists) as it is.
    A reader that rebuilds a damaged cross-reference table, or reads an older revision, can find
    objects pypdf did not; their syntax lies outside stream data, where a byte scan sees it.
    Names inside compressed object streams are hidden from it: the walk is the check for those.
    """
    _refuse_markup([data])
    outside = PDF_STREAM.sub(b"stream\nendstream", data)
    if not PDF_SUSPECT.search(outside):
        return
    position = 0
    while match := PDF_TOKEN.search(outside, position):
        token = match.group()
        if token == b"(":
            position = _end_of_string(outside, match.end())
        elif token == b"%":
            end = PDF_LINE_END.search(outside, match.end())
            position = end.end() if end else len(outside)
        else:
            position = match.end()
            name = "/" + _unescape_name(token[1:])
            if name in PDF_REFUSED_NAMES and name not in PDF_AMBIGUOUS_NAMES:
                raise refuse(PDF_REFUSED_NAMES[name])


def _end_of_string(data: bytes, position: int) -> int:
    # A literal string nests balanced parentheses and escapes others with a backslash.
    depth = 1
    while depth and (part := PDF_STRING_PART.search(data, position)):
        position = part.end()
        depth += {b"(": 1, b")": -1}.get(part.group(), 0)
    return position if depth == 0 else len(data)


def _unescape_name(raw: bytes) -> str:
    # #xx in a name stands for one byte: /J#61vaScript is /JavaScript to every reader.
    return re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw).decode("latin-1")


# ----------------------------------------------------------------------------- images


def _image_outside_pixels(data: bytes, content_type: str) -> list[bytes]:
    """The image's bytes other than its compressed pixels: chunks, segments and whatever follows."""
    return _png_outside_pixels(data) if content_type == PNG else _jpeg_outside_pixels(data)


def _png_outside_pixels(data: bytes) -> list[bytes]:
    parts, position = [], 8
    while position + 8 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        end = position + 12 + length
        if kind not in (b"IDAT", b"fdAT"):
            parts.append(data[position:end])
        position = end
        if kind == b"IEND":
            break
    parts.append(data[position:])
    return parts


def _jpeg_outside_pixels(data: bytes) -> list[bytes]:
    parts, position = [], 0
    while data.startswith(b"\xff\xd8", position):  # a JPEG, and any further image after it (MPO)
        position += 2
        while position + 4 <= len(data) and data[position] == 0xFF:
            marker = data[position + 1]
            if marker == 0xD9:
                position += 2
                break
            if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
                position += 1 if marker == 0xFF else 2
                continue
            end = position + 2 + int.from_bytes(data[position + 2:position + 4], "big")
            parts.append(data[position:end])
            position = end
            if marker == 0xDA:
                position = _end_of_scan(data, position)
    parts.append(data[position:])
    return parts


def _end_of_scan(data: bytes, position: int) -> int:
    # Entropy-coded pixels run to the next marker; FF 00 is a stuffed byte and RSTn a restart.
    while (position := data.find(b"\xff", position)) != -1 and position + 1 < len(data):
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            position += 2
        elif following == 0xFF:
            position += 1
        else:
            return position
    return len(data)


def _reencode(data: bytes, content_type: str) -> bytes:
    """The image as Pillow writes it: pixels, transparency and resolution, no metadata or trailer."""
    limit = int(current_app.config["MAX_IMAGE_PIXELS"])
    kind = "PNG" if content_type == PNG else "JPEG"
    too_large = f"is larger than {limit:,} pixels; scan it at a lower resolution"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Image.open reads the header only; the size is checked before anything is decoded.
            with Image.open(BytesIO(data), formats=[kind]) as probe:
                if probe.width * probe.height > limit:
                    raise refuse(too_large)
                probe.verify()
            with Image.open(BytesIO(data), formats=[kind]) as image:
                image.load()
                return _write_image(image, kind)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refuse(too_large) from None
    except Exception:  # a malformed file fails Pillow in many ways; each is the uploader's
        raise refuse(f"could not be read as a {kind} image; it may be damaged") from None


def _write_image(image: Image.Image, kind: str) -> bytes:
    keep = {key: image.info[key] for key in ("transparency", "dpi") if key in image.info}
    options = {}
    if kind == "JPEG":
        # The camera's orientation lives in the EXIF that is dropped: turn the pixels instead.
        upright = ImageOps.exif_transpose(image) if image.getexif().get(0x0112, 1) != 1 else image
        # Same quantisation as the upload where the pixels are unchanged, so a scan loses nothing more.
        options = {"quality": "keep"} if upright is image and image.format == "JPEG" else {"quality": 90}
        image = upright
    image.info = {}  # EXIF, comments, ICC and text chunks stay behind
    out = BytesIO()
    image.save(out, kind, **keep, **options)
    return out.getvalue()
