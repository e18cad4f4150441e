"""PDFs made by the tests themselves, so they need nothing outside the repo."""

import io

import pikepdf
import pytest


def _pdf_from_objects(*objects: bytes) -> bytes:
    """A PDF whose objects 1, 2, ... are `objects`, with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)

    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def _one_page_pdf(catalog: bytes = b"", *more: bytes, page: bytes = b"") -> bytes:
    """A one-page PDF; `catalog` and `page` add entries, `more` adds objects 4, 5..."""
    return _pdf_from_objects(
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] " + page + b" >>",
        *more,
    )


def _blank_pdf(pages: int) -> bytes:
    """A valid PDF of blank pages, written by qpdf."""
    with pikepdf.new() as pdf:
        for _ in range(pages):
            pdf.add_blank_page()
        buffer = io.BytesIO()
        pdf.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def pdf_from_objects():
    """Build a PDF from numbered object bodies."""
    return _pdf_from_objects


@pytest.fixture
def one_page_pdf():
    """Build a one-page PDF with extra catalog or page entries and objects."""
    return _one_page_pdf


@pytest.fixture
def blank_pdf():
    """Build a valid PDF of n blank pages."""
    return _blank_pdf
