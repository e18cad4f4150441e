"""The check itself, run in this process: active content, text and the verdict."""

import io
import re
import zlib

import pytest

from ingest import DocumentRejected, PdfVerdict
from ingest import pdfcheck
from ingest.pdfcheck import inspect_pdf
from vault.config import CheckLimits
from vault.errors import VaultError

HELLO_PAGE = b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >>"
HELLO_CONTENT = b"BT /F1 12 Tf 72 720 Td (Hello vault) Tj ET"
HELLO_OBJECTS = (
    b"<< /Length %d >>\nstream\n%s\nendstream" % (len(HELLO_CONTENT), HELLO_CONTENT),
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
)
ATTACHMENT = (
    b"/Names << /EmbeddedFiles << /Names [(grades) << /Type /Filespec /F (grades.xls)"
    b" /UF (grades.xlsx) /EF << /F 4 0 R >> >>] >> >>"
)
ATTACHED_FILE = b"<< /Type /EmbeddedFile /Length 5 >>\nstream\nhello\nendstream"


def inspect(data: bytes, limits: CheckLimits = CheckLimits()) -> PdfVerdict:
    """Inspect data in this process, as the worker would."""
    return inspect_pdf(io.BytesIO(data), limits)


def test_text_is_read_from_the_pages(one_page_pdf):
    verdict = inspect(one_page_pdf(b"", *HELLO_OBJECTS, page=HELLO_PAGE))

    assert verdict.text == "Hello vault"
    assert verdict.warnings == ()


def test_text_is_capped_at_the_limit(one_page_pdf):
    limits = CheckLimits(text_chars=5)

    verdict = inspect(one_page_pdf(b"", *HELLO_OBJECTS, page=HELLO_PAGE), limits)

    assert verdict.text == "Hello"


def test_text_comes_from_the_repaired_copy_when_pypdf_cannot_open(one_page_pdf):
    whole = one_page_pdf(b"", *HELLO_OBJECTS, page=HELLO_PAGE)
    without_xref = re.sub(rb"xref\n.*?trailer", b"trailer", whole, flags=re.DOTALL)
    without_startxref = re.sub(rb"startxref\n\d+\n", b"", without_xref)

    verdict = inspect(without_startxref)

    assert verdict.warning_codes == ("repaired",)
    assert verdict.text == "Hello vault"


@pytest.mark.parametrize(
    ("catalog", "more", "page", "code"),
    [
        (b"/OpenAction << /S /Java#53cript /J#53 (go) >>", (), b"", "javascript"),
        (
            b"/Names << /JavaScript << /Names [(go) 4 0 R] >> >>",
            (b"<< /S /JavaScript /JS (this.print\\(true\\)) >>",),
            b"",
            "javascript",
        ),
        (
            b"",
            (),
            b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9]"
            b" /A << /S /Launch /F (calc.exe) >> >>]",
            "launch_action",
        ),
        (
            b"/OpenAction 4 0 R",
            (b"<< /S 5 0 R /F (calc.exe) >>", b"/Launch"),
            b"",
            "launch_action",
        ),
        (ATTACHMENT, (ATTACHED_FILE,), b"", "embedded_files"),
        (b"/AcroForm << /Fields [] /XFA 4 0 R >>", (b"[]",), b"", "xfa_form"),
    ],
    ids=["escaped-js-action", "js-name-tree", "nested-launch", "indirect-launch-type",
         "attachment", "xfa"],
)
def test_active_content_is_accepted_with_its_warning(
    one_page_pdf, catalog, more, page, code
):
    verdict = inspect(one_page_pdf(catalog, *more, page=page))

    assert verdict.warning_codes == (code,)
    assert verdict.warnings[0]["message"]


def test_attachment_warning_names_the_files(one_page_pdf):
    verdict = inspect(one_page_pdf(ATTACHMENT, ATTACHED_FILE))

    assert "(grades.xlsx)" in verdict.warnings[0]["message"]


def test_each_warning_is_given_once(one_page_pdf):
    actions = b"/OpenAction << /S /JavaScript /JS (a) /Next [<< /JS (b) >> 4 0 R] >>"

    verdict = inspect(one_page_pdf(actions, b"<< /S /JavaScript /JS (c) >>"))

    assert verdict.warning_codes == ("javascript",)


def test_forms_submit_buttons_and_goto_actions_are_not_warnings(one_page_pdf):
    field = (
        b"<< /FT /Tx /T (name) /Type /Annot /Subtype /Widget /Rect [0 0 9 9]"
        b" /P 3 0 R /A << /S /SubmitForm /F (https://example.org/) >> >>"
    )
    catalog = b"/AcroForm << /Fields [4 0 R] >> /OpenAction [3 0 R /Fit]"

    verdict = inspect(one_page_pdf(catalog, field, page=b"/Annots [4 0 R]"))

    assert verdict.warnings == ()


def test_a_decompression_bomb_is_malformed(one_page_pdf):
    """A few hundred bytes that inflate, twice over, to 200 MB of page content."""
    inner = zlib.compress(b" " * (200 << 20), 9)
    outer = zlib.compress(inner, 9)
    content = (b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n%s"
               b"\nendstream" % (len(outer), outer))

    with pytest.raises(DocumentRejected) as caught:
        inspect(one_page_pdf(b"", content, HELLO_OBJECTS[1], page=HELLO_PAGE))
    assert caught.value.code == "malformed"
    assert "expands" in caught.value.message


def bomb_stream(filters: bytes, layers: int, megabytes: int = 200,
                extra: bytes = b"") -> bytes:
    """A stream of zeros compressed `layers` times; hex-encoded when asked."""
    data = bytes(megabytes << 20)
    for _ in range(layers):
        data = zlib.compress(data, 9)
    if b"ASCIIHex" in filters:
        data = data.hex().encode() + b">"
    return (b"<< /Length %d /Filter %s %s >>\nstream\n%s\nendstream"
            % (len(data), filters, extra, data))


DOUBLE = b"[/FlateDecode /FlateDecode]"


@pytest.mark.parametrize(("page", "more"), [
    (b"/Contents 4 0 R", (bomb_stream(DOUBLE, 2),)),
    (b"", (bomb_stream(DOUBLE, 2),)),
    (b"/Contents 4 0 R", (bomb_stream(b"[/ASCIIHexDecode /FlateDecode /FlateDecode]",
                                      2),)),
    (b"/Resources << /XObject << /Im1 4 0 R >> >>",
     (bomb_stream(DOUBLE, 2, extra=b"/Type /XObject /Subtype /Image /Width 8 "
                  b"/Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8"),)),
], ids=["page-content-without-fonts", "unused-object", "hex-encoded", "image"])
def test_a_decompression_bomb_anywhere_is_malformed(one_page_pdf, page, more):
    with pytest.raises(DocumentRejected) as caught:
        inspect(one_page_pdf(b"", *more, page=page))
    assert caught.value.code == "malformed"


def test_one_layer_inflating_past_the_limit_is_malformed(one_page_pdf, monkeypatch):
    monkeypatch.setattr(pdfcheck, "MAX_INFLATED_BYTES", 32 << 20)
    big = bomb_stream(b"/FlateDecode", 1, megabytes=40)
    small = bomb_stream(b"/FlateDecode", 1, megabytes=8)

    with pytest.raises(DocumentRejected):
        inspect(one_page_pdf(b"", big))
    assert inspect(one_page_pdf(b"", small)).pages == 1


def test_a_document_of_too_many_objects_is_refused(one_page_pdf):
    objects = [b"<< /N %d >>" % number for number in range(60)]

    with pytest.raises(DocumentRejected) as caught:
        inspect(one_page_pdf(b"", *objects), CheckLimits(max_objects=50))
    assert caught.value.code == "malformed"
    assert "63 parts" in caught.value.message
    assert inspect(one_page_pdf(b"", *objects[:40]), CheckLimits(max_objects=50))


def test_page_tree_without_pages_is_malformed(pdf_from_objects):
    empty_tree = (
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    )

    with pytest.raises(DocumentRejected) as caught:
        inspect(pdf_from_objects(*empty_tree))
    assert caught.value.code == "malformed"


def test_verdict_survives_its_json_form():
    verdict = PdfVerdict(
        pages=3,
        warnings=({"code": "javascript", "message": "It has JavaScript."},),
        text="Hello",
    )

    assert PdfVerdict.from_json(verdict.to_json()) == verdict


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"pages": 1, "warnings": []},
        {"pages": True, "warnings": [], "text": ""},
        {"pages": 1, "warnings": [{"code": "x"}], "text": ""},
        {"pages": 1, "warnings": "none", "text": ""},
        {"pages": 1, "warnings": [], "text": None},
    ],
)
def test_verdict_refuses_anything_else(data):
    with pytest.raises(ValueError):
        PdfVerdict.from_json(data)


def test_rejection_is_a_422_vault_error_with_its_code():
    rejection = DocumentRejected("encrypted", "The PDF is password-protected.")

    assert isinstance(rejection, VaultError)
    assert (rejection.status, rejection.code) == (422, "encrypted")
    assert rejection.message == "The PDF is password-protected."


def test_rejection_refuses_an_unknown_code():
    with pytest.raises(ValueError):
        DocumentRejected("too_big", "The PDF is too big.")
