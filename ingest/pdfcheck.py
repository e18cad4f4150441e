"""The check of one PDF's bytes: qpdf judges the structure, pypdf reads the text.

`inspect_pdf` runs inside the worker process (`ingest.worker`), which bounds its
CPU, memory and time; hostile files may make the parsers raise anything, and the
worker turns that into a `malformed` rejection.
"""

import base64
import binascii
import io
import os
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pikepdf
from pypdf import PdfReader
from pypdf.errors import LimitReachedError, PyPdfError

from ingest.errors import DocumentRejected
from vault.config import CheckLimits

HEADER = b"%PDF-"
HEADER_WINDOW = 1024

# qpdf refuses direct objects nested 500 deep, so the walk never meets deeper
# ones; the cap only keeps the walk bounded should that ever change.
WALK_DEPTH = 512

# pypdf needs 50 to 700 ms a page on real reports; text is a second opinion,
# so it stops after this much time rather than make the upload wait.
TEXT_SECONDS = 0.3

# What qpdf says when it had to rebuild the cross-reference table.
REPAIR_MARKS = ("file is damaged", "reconstruct")

# pypdf raises far more than its own errors on hostile files; text is optional,
# so any of these only means "no text", never a rejection.
TEXT_FAILURES = (
    PyPdfError,
    pikepdf.PikepdfError,
    ArithmeticError,
    AssertionError,
    AttributeError,
    LookupError,
    RuntimeError,
    TypeError,
    ValueError,
    zlib.error,
)

# A stream may inflate to at most this much: no page of evidence holds more.
MAX_INFLATED_BYTES = 512 << 20
# One layer of DEFLATE cannot shrink data more than about 1032 to 1; a stream
# that inflates further past RATIO_FLOOR is compressed again on purpose.
MAX_INFLATION_RATIO = 1100
RATIO_FLOOR = 16 << 20
INFLATE_PIECE = 1 << 20
FLATE = pikepdf.Name("/FlateDecode")

# How pypdf says a stream inflated past its limit (a decompression bomb), as
# opposed to its other limits (tokens per stream), which only end the text.
DECOMPRESSION_LIMIT = "while decompressing"
BOMB_MESSAGE = (
    "The PDF holds compressed content that expands to far more than any document "
    "needs. Print the document to PDF again and upload that copy."
)
NOT_PDF_MESSAGE = "The file is not a PDF. Upload the document saved as a PDF."
ENCRYPTED_MESSAGE = (
    "The PDF is password-protected. Upload a copy without a password."
)
MALFORMED_MESSAGE = (
    "The PDF is damaged and cannot be read. Upload a fresh copy of the document."
)
WARNING_MESSAGES = {
    "repaired": (
        "The PDF was damaged and had to be repaired to be read. "
        "Check that every page shows correctly."
    ),
    "empty_password": (
        "The PDF is encrypted with an empty password. It can be read, "
        "but a copy without encryption is better."
    ),
    "javascript": (
        "The PDF contains JavaScript. The vault keeps the file but never runs it."
    ),
    "launch_action": (
        "The PDF contains a link that tries to start a program. "
        "The vault keeps the file but never follows such links."
    ),
    "xfa_form": (
        "The PDF is an XFA form that most viewers cannot show. "
        "Upload a flattened copy (print the form to PDF)."
    ),
}
ACTIVE_CODES = ("javascript", "launch_action", "embedded_files", "xfa_form")
ATTACHMENT_NAMES_SHOWN = 5
ATTACHMENT_NAME_CHARS = 80

# Every key and name `_active_codes` looks for contains one of these, unless the
# action's type `/S` is itself an indirect object (`/S 6 0 R`).
ACTIVE_MARKS = (b"/JS", b"/JavaScript", b"/Launch", b"/EmbeddedFile", b"/EF")
INDIRECT_ACTION = re.compile(rb"/S\s+\d+\s+\d+\s+R")
JAVASCRIPT = pikepdf.Name("/JavaScript")
LAUNCH = pikepdf.Name("/Launch")
EMBEDDED_FILE = pikepdf.Name("/EmbeddedFile")


@dataclass(frozen=True)
class PdfVerdict:
    """What the check found in a PDF the vault accepts."""

    pages: int
    warnings: tuple[dict, ...] = ()
    text: str = ""

    @property
    def warning_codes(self) -> tuple[str, ...]:
        """The codes of the warnings, in order."""
        return tuple(warning["code"] for warning in self.warnings)

    def to_json(self) -> dict:
        """The verdict as a JSON-ready dictionary."""
        return {
            "pages": self.pages,
            "warnings": [dict(warning) for warning in self.warnings],
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: object) -> "PdfVerdict":
        """Rebuild a verdict from `to_json`'s form; ValueError when it is not one."""
        if not isinstance(data, dict) or set(data) != {"pages", "warnings", "text"}:
            raise ValueError("a verdict has exactly pages, warnings and text")

        pages, warnings, text = data["pages"], data["warnings"], data["text"]
        if type(pages) is not int or pages < 1 or not isinstance(text, str):
            raise ValueError("a verdict needs a positive page count and a text")
        if not isinstance(warnings, list) or not all(map(_is_warning, warnings)):
            raise ValueError("each warning has exactly a code and a message")

        return cls(pages, tuple(dict(warning) for warning in warnings), text)


def inspect_pdf(stream: BinaryIO, limits: CheckLimits) -> PdfVerdict:
    """Judge one PDF: return its verdict, or raise DocumentRejected saying why."""
    upload = _Upload(stream)
    if HEADER not in upload.head(HEADER_WINDOW):
        raise DocumentRejected("not_pdf", NOT_PDF_MESSAGE)

    with _open_with_qpdf(upload) as pdf:
        warnings = _opening_warnings(pdf)
        pages = _count_pages(pdf, limits)
        _refuse_too_many_objects(pdf, limits)
        _refuse_decompression_bombs(pdf)
        warnings.update(_active_content_warnings(pdf))
        text = _extract_text(upload, pdf, limits)

    found = tuple(
        {"code": code, "message": message} for code, message in warnings.items()
    )
    return PdfVerdict(pages=pages, warnings=found, text=text)


def _is_warning(warning: object) -> bool:
    """Whether a decoded warning has exactly a text code and a text message."""
    return (
        isinstance(warning, dict)
        and set(warning) == {"code", "message"}
        and all(isinstance(value, str) for value in warning.values())
    )


class _Upload:
    """The bytes to check: read from their file where they have one (qpdf and
    pypdf each open it afresh), held in memory only for a stream without one."""

    def __init__(self, stream: BinaryIO):
        try:
            descriptor = stream.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            descriptor = None
        path = f"/proc/self/fd/{descriptor}" if descriptor is not None else None
        self.path = path if path and os.path.isfile(path) else None
        self.data = None if self.path else stream.read()

    def head(self, size: int) -> bytes:
        with self.open() as stream:
            return stream.read(size)

    def open(self) -> BinaryIO:
        return open(self.path, "rb") if self.path else io.BytesIO(self.data)

    def for_qpdf(self) -> str | BinaryIO:
        return self.path or io.BytesIO(self.data)


def _open_with_qpdf(upload: _Upload) -> pikepdf.Pdf:
    """Open the bytes with qpdf, the primary judge of the file's structure."""
    try:
        return pikepdf.open(upload.for_qpdf())
    except pikepdf.PasswordError as error:
        raise DocumentRejected("encrypted", ENCRYPTED_MESSAGE) from error
    except pikepdf.PikepdfError as error:
        raise DocumentRejected("malformed", MALFORMED_MESSAGE) from error


def _opening_warnings(pdf: pikepdf.Pdf) -> dict[str, str]:
    """Warnings about how qpdf had to open the file: repaired, empty password."""
    warnings = {}
    said = " ".join(pdf.get_warnings()).lower()
    if any(mark in said for mark in REPAIR_MARKS):
        warnings["repaired"] = WARNING_MESSAGES["repaired"]

    if pdf.is_encrypted:
        warnings["empty_password"] = WARNING_MESSAGES["empty_password"]
    return warnings


def _count_pages(pdf: pikepdf.Pdf, limits: CheckLimits) -> int:
    """The number of pages qpdf finds, within 1 and limits.max_pages."""
    try:
        pages = len(pdf.pages)
    except pikepdf.PikepdfError as error:
        raise DocumentRejected("malformed", MALFORMED_MESSAGE) from error

    if pages == 0:
        raise DocumentRejected("malformed", MALFORMED_MESSAGE)
    if pages > limits.max_pages:
        raise DocumentRejected(
            "too_many_pages",
            f"The PDF has {pages} pages; the vault takes at most {limits.max_pages}. "
            "Split it into smaller files.",
        )
    return pages


def _refuse_too_many_objects(pdf: pikepdf.Pdf, limits: CheckLimits) -> None:
    """A document of more objects than limits.max_objects is refused quickly:
    real reports have far fewer, and each object costs the check time."""
    objects = len(pdf.objects)
    if objects > limits.max_objects:
        raise DocumentRejected(
            "malformed",
            f"The PDF is built of {objects:,} parts, more than the vault checks "
            f"({limits.max_objects:,}). Print it to PDF again or split it.",
        )


def _refuse_decompression_bombs(pdf: pikepdf.Pdf) -> None:
    """Refuse a document with a Flate stream that inflates past what any page
    needs, or by more than one layer of compression can: a decompression bomb
    chokes the viewer of whoever opens it, wherever in the file it hides."""
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        encoded, layers = _flate_chain(obj)
        if layers and _inflates_like_a_bomb(encoded, layers):
            raise DocumentRejected("malformed", BOMB_MESSAGE)


def _flate_chain(stream: pikepdf.Stream) -> tuple[bytes, int]:
    """The stream's Flate-compressed bytes (ASCII encodings in front undone)
    and how many Flate layers they have; 0 layers for any other chain, which
    is left to the viewer's own limits."""
    filters = stream.get("/Filter")
    if isinstance(filters, pikepdf.Name):
        filters = [filters]
    names = list(filters) if isinstance(filters, (list, pikepdf.Array)) else []
    ascii_layers = 0
    while ascii_layers < len(names) and names[ascii_layers] in ASCII_FILTERS:
        ascii_layers += 1
    flate = names[ascii_layers:]
    if not flate or not all(name == FLATE for name in flate):
        return b"", 0

    encoded = stream.read_raw_bytes()
    try:
        for name in names[:ascii_layers]:
            encoded = ASCII_FILTERS[name](encoded)
    except ValueError:
        return b"", 0  # damaged text: the viewer shows what it can
    return encoded, len(flate)


def _from_ascii_hex(data: bytes) -> bytes:
    digits = re.sub(rb"\s", b"", data.split(b">", 1)[0])
    return binascii.unhexlify(digits + b"0" * (len(digits) % 2))


def _from_ascii_85(data: bytes) -> bytes:
    text = re.sub(rb"\s", b"", data.split(b"~>", 1)[0])
    return base64.a85decode(text.removeprefix(b"<~"))


ASCII_FILTERS = {pikepdf.Name("/ASCIIHexDecode"): _from_ascii_hex,
                 pikepdf.Name("/ASCII85Decode"): _from_ascii_85}


def _inflates_like_a_bomb(raw: bytes, layers: int) -> bool:
    """Inflate `raw` through `layers` of Flate a piece at a time, and stop as
    soon as it has grown past MAX_INFLATED_BYTES or past MAX_INFLATION_RATIO
    times the raw bytes read so far."""
    consumed = 0

    def raw_pieces() -> Iterator[bytes]:
        nonlocal consumed
        view = memoryview(raw)
        for start in range(0, len(raw), INFLATE_PIECE):
            piece = view[start:start + INFLATE_PIECE]
            consumed += len(piece)
            yield piece

    pieces = raw_pieces()
    for _ in range(layers):
        pieces = _inflated(pieces)

    produced = 0
    try:
        for piece in pieces:
            produced += len(piece)
            if produced > MAX_INFLATED_BYTES or (
                    produced > RATIO_FLOOR
                    and produced > MAX_INFLATION_RATIO * consumed):
                return True
    except zlib.error:
        return False  # damaged data, not a bomb: the viewer shows what it can
    return False


def _inflated(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The Flate-decoded bytes of `pieces`, at most INFLATE_PIECE at a time."""
    inflater = zlib.decompressobj()
    for piece in pieces:
        data = piece
        while data and not inflater.eof:
            out = inflater.decompress(data, INFLATE_PIECE)
            if out:
                yield out
            data = inflater.unconsumed_tail
        if inflater.eof:
            return


def _active_content_warnings(pdf: pikepdf.Pdf) -> dict[str, str]:
    """Warnings for JavaScript, launch actions, attachments and XFA forms."""
    codes, attachments = set(), set()
    for dictionary in _dictionaries(pdf):
        codes.update(_active_codes(dictionary))
        if "/EF" in dictionary:
            attachments.add(_attachment_name(dictionary))

    if _has_xfa(pdf):
        codes.add("xfa_form")
    messages = dict(WARNING_MESSAGES)
    messages["embedded_files"] = _attachments_message(attachments - {None})
    return {code: messages[code] for code in ACTIVE_CODES if code in codes}


def _dictionaries(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Object]:
    """Every dictionary and stream that may hold active content, nested ones too.

    Indirect objects come once each from `pdf.objects`, and only those whose
    serialized form names an active-content key are walked in Python; below
    them only direct arrays and dictionaries are followed, which cannot form
    a cycle, down to WALK_DEPTH.
    """
    seen, stack = set(), []
    for obj in pdf.objects:
        if _is_suspect(obj) and obj.objgen not in seen:
            seen.add(obj.objgen)
            stack.append((obj, 0))

    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, pikepdf.Array):
            children = list(obj)
        else:
            yield obj
            children = list(obj.values())
        if depth < WALK_DEPTH:
            stack.extend(
                (child, depth + 1)
                for child in children
                if _is_container(child) and not child.is_indirect
            )


def _is_suspect(obj: object) -> bool:
    """Whether a top-level object mentions any key that active content uses.

    qpdf serializes an object with its nested direct objects in C++ and writes
    names in normal form (`/J#53` as `/JS`), so this finds every candidate ten
    times faster than walking each object in Python.
    """
    if not _is_container(obj):
        return False

    header = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
    serialized = header.unparse(resolved=True)
    return (any(mark in serialized for mark in ACTIVE_MARKS)
            or INDIRECT_ACTION.search(serialized) is not None)


def _is_container(obj: object) -> bool:
    """Whether obj is an array, a dictionary or a stream (whose keys count)."""
    return isinstance(obj, (pikepdf.Array, pikepdf.Dictionary, pikepdf.Stream))


def _active_codes(dictionary: pikepdf.Object) -> Iterator[str]:
    """The active-content warning codes one dictionary gives cause for."""
    action = dictionary.get("/S")
    if action == JAVASCRIPT or "/JS" in dictionary or "/JavaScript" in dictionary:
        yield "javascript"
    if action == LAUNCH:
        yield "launch_action"

    is_file = dictionary.get("/Type") == EMBEDDED_FILE
    if is_file or "/EmbeddedFiles" in dictionary or "/EF" in dictionary:
        yield "embedded_files"


def _attachment_name(filespec: pikepdf.Object) -> str | None:
    """The readable file name in an attachment's file specification, if any."""
    for key in ("/UF", "/F"):
        value = filespec.get(key)
        if isinstance(value, pikepdf.String):
            name = "".join(ch for ch in str(value) if ch.isprintable()).strip()
            if name:
                return name[:ATTACHMENT_NAME_CHARS]
    return None


def _attachments_message(names: set[str]) -> str:
    """The embedded_files warning, naming the first few attachments."""
    shown = sorted(names)[:ATTACHMENT_NAMES_SHOWN]
    listed = ", ".join(shown)
    if len(names) > len(shown):
        listed += f" and {len(names) - len(shown)} more"

    named = f" ({listed})" if listed else ""
    return (
        f"The PDF has attached files{named}. "
        "The vault keeps them but never opens them."
    )


def _has_xfa(pdf: pikepdf.Pdf) -> bool:
    """Whether the document's interactive form is an XFA form."""
    form = pdf.Root.get("/AcroForm")
    return isinstance(form, pikepdf.Dictionary) and "/XFA" in form


def _extract_text(upload: _Upload, pdf: pikepdf.Pdf, limits: CheckLimits) -> str:
    """The pages' text by pypdf, from the upload or else from qpdf's repaired copy."""
    if limits.text_chars <= 0:
        return ""

    deadline = time.monotonic() + TEXT_SECONDS
    for source in (upload.open, lambda: _repaired_copy(pdf)):
        if time.monotonic() > deadline:
            break
        try:
            with source() as stream:
                return _read_text(stream, limits.text_chars, deadline)
        except LimitReachedError as error:
            if DECOMPRESSION_LIMIT in str(error):
                raise DocumentRejected("malformed", BOMB_MESSAGE) from error
        except TEXT_FAILURES:
            continue
    return ""


def _repaired_copy(pdf: pikepdf.Pdf) -> io.BytesIO:
    """The document as qpdf rewrites it: rebuilt cross-references, no encryption.

    Streams are copied as they are, never decoded: a small stream that inflates
    to gigabytes (a decompression bomb) costs no more than its own bytes.
    """
    buffer = io.BytesIO()
    pdf.save(buffer, stream_decode_level=pikepdf.StreamDecodeLevel.none,
             compress_streams=False)
    buffer.seek(0)
    return buffer


def _read_text(stream: BinaryIO, text_chars: int, deadline: float) -> str:
    """Text of the pages in order, up to text_chars or until the deadline."""
    reader = PdfReader(stream, strict=False)
    if reader.is_encrypted:
        reader.decrypt("")

    parts, size = [], 0
    for page in reader.pages:
        if size >= text_chars or time.monotonic() > deadline:
            break
        part = page.extract_text() or ""
        parts.append(part)
        size += len(part) + 1
    return "\n".join(parts).strip()[:text_chars]
