"""Real document files, as a scanner or a phone would produce them, for upload tests."""

from io import BytesIO

from PIL import Image
from pypdf import PdfWriter


def pdf(pages: int = 1, writer: PdfWriter | None = None) -> bytes:
    """A clean PDF with blank letter-size pages; pass a writer to add to it first."""
    writer = writer or PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def png(size=(64, 40), colour=(40, 90, 160)) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def jpeg(size=(64, 40), colour=(200, 180, 40), **options) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", **options)
    return out.getvalue()
