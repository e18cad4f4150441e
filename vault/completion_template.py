"""The completion template: a district's students and module dates as a spreadsheet.

Export writes XLSX (openpyxl) or CSV with the district's students filled in.
Import reads either back and applies it row by row: each row is applied whole
(in a savepoint) or not at all, and the report says which row, which column
and why. Real spreadsheets carry quirks, and import takes them in stride:

- dates as real date cells, Excel serial numbers, or text in common formats
  (2026-10-01, 10/1/2026, 10/01/26, Oct 1, 2026, 1 October 2026, 01-Oct-2026;
  with slashes or dashes month first, as written in the US; with dots day
  first, as everywhere dots are written: 1.10.2026 is October 1);
- a formula cell whose result the spreadsheet did not save is reported, not
  taken as empty;
- LASIDs that a spreadsheet turned into numbers and so lost leading zeros;
- CSV saved as UTF-8 with a byte-order mark, or as Windows-1252;
- blank rows anywhere, extra columns, headers in any order and case.

Any text cell that a spreadsheet could take for a formula (starting with =, +,
- or @) is written with a leading apostrophe, and that apostrophe is dropped
again on import.
"""

import csv
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import rules
from vault.access import students_visible_to
from vault.errors import InvalidRequest, NotFound, VaultError
from vault.models import District, Person, Student
from vault.students import enrol_student, record_module

log = logging.getLogger(__name__)

MAX_ROWS = 20_000
FORMULA_STARTS = ("=", "+", "-", "@")
COLUMNS = ("LASID", "First name", "Last name", "School", "Cohort", "District",
           *(rules.MODULES[module] for module in rules.SCHOOL_MODULES))
STUDENT_FIELDS = {"First name": "first_name", "Last name": "last_name",
                  "School": "school", "Cohort": "cohort"}
MODULE_COLUMNS = {rules.MODULES[module]: module for module in rules.SCHOOL_MODULES}
HEADER_ALIASES = {
    "lasid": "LASID", "student id": "LASID", "state id": "LASID",
    "first name": "First name", "first": "First name", "given name": "First name",
    "last name": "Last name", "last": "Last name", "surname": "Last name",
    "family name": "Last name", "school": "School", "cohort": "Cohort",
    "graduation year": "Cohort", "district": "District",
    **{title.lower(): title for title in MODULE_COLUMNS},
    **{module.replace("_", " "): title for title, module in MODULE_COLUMNS.items()},
}
TEXT_DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%m-%d-%y",
    "%d.%m.%Y", "%d.%m.%y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y",
    "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y", "%Y%m%d",
)
# Excel serial numbers of 1954-10-03 .. 2119-01-01: anything else is not a date.
SERIAL_RANGE = (20_000, 80_000)
XLSX_MEDIA_TYPE = ("application/vnd.openxmlformats-officedocument."
                   "spreadsheetml.sheet")


class TemplateUnreadable(InvalidRequest):
    """The upload is no spreadsheet the import can read."""

    code = "template_unreadable"
    status = 422


class UnsavedFormula:
    """An XLSX formula cell saved without its result (openpyxl writes such)."""

    def __init__(self, formula: str):
        self.formula = formula

    def __str__(self) -> str:
        return self.formula


UNSAVED_FORMULA_MESSAGE = ("The cell holds a formula whose result was not saved; "
                           "type the value itself, or open and save the file in "
                           "Excel first.")


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class RowResult:
    """What happened to one spreadsheet row (numbered as the spreadsheet shows)."""

    row: int
    lasid: str
    applied: bool
    changes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: int = 0
    applied: int = 0
    errors: list[RowError] = field(default_factory=list)
    results: list[RowResult] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The contract's answer: `{rows, applied, errors: [{row, column,
        message}]}`."""
        return {"rows": self.rows, "applied": self.applied,
                "errors": [error.as_dict() for error in self.errors]}


# Export

def template_rows(session: Session, person: Person) -> list[list[Any]]:
    """The header and one row per visible student, dates as `date` values."""
    students = session.scalars(students_visible_to(person).order_by(
        Student.school, Student.last_name, Student.first_name, Student.lasid))
    rows: list[list[Any]] = [list(COLUMNS)]
    for student in students:
        dates = {m.module: m.completed_on for m in student.modules}
        rows.append([student.lasid, student.first_name, student.last_name,
                     student.school, student.cohort, student.district.code,
                     *(dates.get(module) for module in rules.SCHOOL_MODULES)])
    return rows


def escape_cell(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula gets a leading apostrophe;
    control characters, which no worksheet may hold, are dropped."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_xlsx(rows: list[list[Any]]) -> bytes:
    """The template as an XLSX workbook: LASIDs as text, dates as date cells."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Completion"
    for values in rows:
        sheet.append([escape_cell(value) for value in values])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=2):
        row[0].number_format = "@"
        for cell in row:
            if isinstance(cell.value, str):
                # Text stays text, even when it looks like a formula.
                cell.data_type = "s"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "B2"
    for letter, width in zip("ABCDEFGHIJ", (13, 16, 18, 24, 8, 9, 16, 28, 18, 21)):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def export_csv(rows: list[list[Any]]) -> bytes:
    """The template as UTF-8 CSV with a byte-order mark (so Excel reads accents)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    for values in rows:
        writer.writerow(["" if value is None else
                         value.isoformat() if isinstance(value, date) else
                         escape_cell(str(value)) for value in values])
    return ("\ufeff" + text.getvalue()).encode("utf-8")


# Import

def read_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """(spreadsheet row number, cell values) of an XLSX or CSV upload."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_rows(data)
    return _csv_rows(data)


def _xlsx_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """The first sheet's values; a formula saved without its result is marked.

    The workbook is read twice, for the saved results and for the formulas,
    because openpyxl gives one or the other.
    """
    values_book, formulas_book = _open_xlsx(data, True), _open_xlsx(data, False)
    try:
        value_rows = values_book.worksheets[0].iter_rows(values_only=True)
        formula_rows = formulas_book.worksheets[0].iter_rows(values_only=True)
        rows = []
        for number, (values, formulas) in enumerate(
                zip(value_rows, formula_rows), start=1):
            if number > MAX_ROWS + 1:
                raise TemplateUnreadable(f"The template has more than {MAX_ROWS} "
                                         "rows; split it.")
            rows.append((number, [_saved_value(value, formula) for value, formula
                                  in zip(values, formulas)]))
        return rows
    finally:
        values_book.close()
        formulas_book.close()


def _open_xlsx(data: bytes, data_only: bool):
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError,
            ValueError) as error:
        raise TemplateUnreadable("The file is not an XLSX workbook the vault can "
                                 "read; save it as .xlsx or .csv.") from error


def _saved_value(value: Any, formula: Any) -> Any:
    if value is None and isinstance(formula, str) and formula.startswith("="):
        return UnsavedFormula(formula)
    return value


def _csv_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Excel's "CSV" on Windows saves in Windows-1252.
            text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise TemplateUnreadable("The file is not a CSV or XLSX spreadsheet.")

    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        for values in reader:
            if reader.line_num > MAX_ROWS + 1:
                raise TemplateUnreadable(f"The template has more than {MAX_ROWS} "
                                         "rows; split it.")
            rows.append((reader.line_num, values))
    except csv.Error as error:
        raise TemplateUnreadable(f"The CSV cannot be read: {error}.") from error
    return rows


def _blank(values: list[Any]) -> bool:
    return all(value is None or str(value).strip() == "" for value in values)


def _header(rows: list[tuple[int, list[Any]]]) -> tuple[int, dict[str, int]]:
    """Index of the header row and column title -> position."""
    for index, (_, values) in enumerate(rows):
        if _blank(values):
            continue
        columns = {}
        for position, value in enumerate(values):
            title = HEADER_ALIASES.get(_unescape(str(value or "")).strip().lower())
            if title and title not in columns:
                columns[title] = position
        if "LASID" not in columns:
            raise TemplateUnreadable(
                "The first filled row must be the header, with a LASID column "
                "(download the template to see the columns).")
        return index, columns
    raise TemplateUnreadable("The spreadsheet is empty.")


def _unescape(text: str) -> str:
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def parse_lasid(value: Any) -> str:
    """A ten-digit LASID, zeros restored where a spreadsheet stripped them."""
    if isinstance(value, UnsavedFormula):
        raise ValueError(UNSAVED_FORMULA_MESSAGE)
    if isinstance(value, bool):
        raise ValueError("A LASID is ten digits, e.g. 0400012345.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _unescape(str(value if value is not None else "")).strip().lstrip("'")
    text = text.replace(" ", "").replace("-", "")
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".", 1)[0]
    if not text.isdigit() or len(text) > 10:
        raise ValueError("A LASID is ten digits, e.g. 0400012345.")
    return text.zfill(10)


def parse_date(value: Any) -> date:
    """A date cell, an Excel serial, or a date typed as text."""
    if isinstance(value, UnsavedFormula):
        raise ValueError(UNSAVED_FORMULA_MESSAGE)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_serial(value)

    text = _unescape(str(value)).strip().lstrip("'").strip()
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return _from_serial(float(text))
    text = re.sub(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "", text)
    text = re.sub(r"\s+", " ", text.replace("Sept ", "Sep "))
    for pattern in TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD.")


def _from_serial(number: float) -> date:
    if not SERIAL_RANGE[0] <= number <= SERIAL_RANGE[1]:
        raise ValueError(f"{number:g} is not a date; write it as YYYY-MM-DD.")
    day = from_excel(number)
    if isinstance(day, timedelta):
        raise ValueError(f"{number:g} is not a date; write it as YYYY-MM-DD.")
    return day.date() if isinstance(day, datetime) else day


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _unescape(str(value)).strip()


def import_template(session: Session, person: Person, data: bytes,
                    today: date) -> ImportReport:
    """Apply an uploaded template row by row; the report says what and why not."""
    rows = read_rows(data)
    header_index, columns = _header(rows)
    districts = {grant.district.code: grant.district for grant in person.grants}
    report = ImportReport()

    for number, values in rows[header_index + 1:]:
        if _blank(values):
            continue
        report.rows += 1
        cells = {title: values[position] if position < len(values) else None
                 for title, position in columns.items()}
        result = _import_row(session, person, districts, number, cells, today,
                             report.errors)
        report.results.append(result)
        report.applied += result.applied

    log.info("template_imported person=%s rows=%d applied=%d errors=%d", person.id,
             report.rows, report.applied, len(report.errors))
    return report


def _import_row(session: Session, person: Person, districts: dict[str, District],
                number: int, cells: dict[str, Any], today: date,
                errors: list[RowError]) -> RowResult:
    """Parse one row completely, then apply it in a savepoint, or report why not."""
    # The LASID and the dates say so themselves as they are read.
    problems: list[RowError] = [
        RowError(number, title, UNSAVED_FORMULA_MESSAGE)
        for title, value in cells.items()
        if isinstance(value, UnsavedFormula)
        and title != "LASID" and title not in MODULE_COLUMNS]
    try:
        lasid = parse_lasid(cells.get("LASID"))
    except ValueError as error:
        errors.append(RowError(number, "LASID", str(error)))
        return RowResult(number, _text(cells.get("LASID")), False)

    dates = {}
    for title, module in MODULE_COLUMNS.items():
        if _text(cells.get(title)) == "":
            continue
        try:
            dates[module] = parse_date(cells[title])
        except ValueError as error:
            problems.append(RowError(number, title, str(error)))
            continue
        if dates[module] > today:
            problems.append(RowError(number, title,
                                     "A completion date cannot be in the future."))
        elif dates[module] < rules.EARLIEST_DATE:
            problems.append(RowError(number, title, "A completion date cannot be "
                                     f"before {rules.EARLIEST_DATE.isoformat()}."))

    district = None
    try:
        district = _row_district(districts, _text(cells.get("District")))
    except InvalidRequest as error:
        problems.append(RowError(number, "District", error.message))
    if problems:
        errors.extend(problems)
        return RowResult(number, lasid, False)

    result = RowResult(number, lasid, False)
    try:
        with session.begin_nested():
            student = _row_student(session, person, district, lasid, cells, result)
            for module, completed_on in dates.items():
                current = next((m.completed_on for m in student.modules
                                if m.module == module), None)
                if current != completed_on:
                    record_module(session, person, student, module, completed_on,
                                  today)
                    result.changes.append(
                        f"{rules.MODULES[module]} {completed_on.isoformat()}")
    except VaultError as error:
        errors.append(RowError(number, _column_of(error), error.message))
        result.changes.clear()
        return result
    result.applied = True
    return result


def _row_district(districts: dict[str, District], code: str) -> District:
    if code:
        district = districts.get(code.upper())
        if district is None:
            raise InvalidRequest(f"You may not change records of district {code}.")
        return district
    if len(districts) != 1:
        raise InvalidRequest("You work for several districts: fill in the "
                             "District column.")
    return next(iter(districts.values()))


def _row_student(session: Session, person: Person, district: District, lasid: str,
                 cells: dict[str, Any], result: RowResult) -> Student:
    """The row's student, enrolled or updated when the row names them."""
    fields = {name: _text(cells.get(title)) for title, name in STUDENT_FIELDS.items()}
    student = session.scalar(select(Student).where(Student.lasid == lasid))
    if student is not None and student.district_id != district.id:
        # Another tenant's student reads exactly as one that does not exist:
        # enrolling it below is refused as it would be for any other caller.
        student = None
    named = any(fields.values())
    if student is not None:
        same = all(str(getattr(student, name)) == value
                   for name, value in fields.items() if value)
        if not named or same:
            return student
        fields = {name: value or str(getattr(student, name))
                  for name, value in fields.items()}
    elif student is None and not all(fields.values()):
        raise InvalidRequest(f"No student {lasid} in your district. To add a new "
                             "student, fill in First name, Last name, School and "
                             "Cohort.", code="student_unknown")

    student, created = enrol_student(session, person, lasid, district, fields)
    result.changes.append("student added" if created else "student updated")
    return student


def _column_of(error: VaultError) -> str:
    if error.code in ("invalid_field", "student_unknown"):
        return "Student"
    if error.code == "not_found":
        return "LASID"
    return "Row"


def media_type(fmt: str) -> str:
    return XLSX_MEDIA_TYPE if fmt == "xlsx" else "text/csv; charset=utf-8"


def template_bytes(session: Session, person: Person, fmt: str) -> bytes:
    """The filled-in template in `fmt` ("xlsx" or "csv")."""
    rows = template_rows(session, person)
    return export_xlsx(rows) if fmt == "xlsx" else export_csv(rows)


def open_upload(stream: BinaryIO, limit: int) -> bytes:
    """The uploaded spreadsheet's bytes, refused over `limit`."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidRequest("The spreadsheet is too large.", code="too_large",
                             status=413)
    return data
