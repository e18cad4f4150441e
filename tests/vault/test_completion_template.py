"""The completion template's parsing and escaping, without a vault."""

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from vault.completion_template import (
    COLUMNS,
    escape_cell,
    export_csv,
    export_xlsx,
    parse_date,
    parse_lasid,
    read_rows,
)


@pytest.mark.parametrize("value", [
    date(2026, 10, 1), datetime(2026, 10, 1, 0, 0), 46296, 46296.0, "46296",
    "2026-10-01", "2026/10/01", "10/1/2026", "10/01/2026", "10/1/26", "10-01-2026",
    "Oct 1, 2026", "October 1, 2026", "1 October 2026", "01-Oct-2026",
    "2026-10-01 00:00:00", "  2026-10-01 ", "'2026-10-01", "1.10.2026", "01.10.26",
])
def test_dates_in_every_common_shape(value):
    assert parse_date(value) == date(2026, 10, 1)


def test_dotted_dates_are_read_day_first_whatever_the_day():
    assert parse_date("01.06.2026") == date(2026, 6, 1)
    assert parse_date("30.06.2026") == date(2026, 6, 30)
    assert parse_date("15.10.2026") == date(2026, 10, 15)


@pytest.mark.parametrize("value", ["13/45/2026", "next week", "12", 3.5, "2026-02-30",
                                   "06.30.2026"])
def test_what_is_no_date_is_refused(value):
    with pytest.raises(ValueError):
        parse_date(value)


@pytest.mark.parametrize("value", [400012345, 400012345.0, "400012345",
                                   "0400012345", " 0400012345 ", "400012345.0",
                                   "'0400012345"])
def test_lasids_get_their_leading_zeros_back(value):
    assert parse_lasid(value) == "0400012345"


@pytest.mark.parametrize("value", ["04000123456", "04-ABC", "", None, True])
def test_what_is_no_lasid_is_refused(value):
    with pytest.raises(ValueError):
        parse_lasid(value)


def test_formula_like_text_is_escaped_in_both_exports():
    rows = [list(COLUMNS), ["0400000001", "=HYPERLINK(\"x\")", "+1", "-2", "@SUM",
                            2027, "D1", date(2026, 10, 1), None, None, None]]

    text = export_csv(rows).decode("utf-8-sig")
    sheet = load_workbook(io.BytesIO(export_xlsx(rows))).active

    assert "'=HYPERLINK" in text and ",'+1,'-2,'@SUM," in text
    assert [cell.value for cell in sheet[2]][1:5] == [
        "'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM"]
    assert sheet["A2"].value == "0400000001"
    assert sheet["H2"].value.date() == date(2026, 10, 1)
    assert escape_cell(5) == 5 and escape_cell("Ann") == "Ann"
    # A name stored before control characters were refused still exports.
    assert escape_cell("Va\x1fne") == "Vane" and escape_cell("\x00=1") == "'=1"
    export_xlsx([["0400000001", "Va\x1fne"]])


def test_csv_in_utf8_with_bom_and_in_windows_1252():
    text = "LASID,First name\r\n0400000001,Zoë\r\n"

    with_bom = read_rows(b"\xef\xbb\xbf" + text.encode("utf-8"))
    windows = read_rows(text.encode("cp1252"))

    assert with_bom[0][1][0] == "LASID"
    assert with_bom[1][1] == ["0400000001", "Zoë"]
    assert windows[1][1] == ["0400000001", "Zoë"]


def test_xlsx_rows_keep_spreadsheet_numbers():
    book = Workbook()
    book.active.append(["LASID"])
    book.active.append([])
    book.active.append([400000001])
    buffer = io.BytesIO()
    book.save(buffer)

    rows = read_rows(buffer.getvalue())

    assert rows[0] == (1, ["LASID"])
    assert rows[-1] == (3, [400000001])


def test_a_formula_saved_without_its_result_is_reported_not_taken_as_empty():
    book = Workbook()
    book.active.append(["LASID", "Self-Assessment"])
    book.active.append(["0400000001", "=DATE(2026,6,29)"])
    buffer = io.BytesIO()
    book.save(buffer)  # openpyxl saves formulas without their results

    cells = read_rows(buffer.getvalue())[1][1]

    assert cells[0] == "0400000001"
    with pytest.raises(ValueError, match="formula whose result was not saved"):
        parse_date(cells[1])


def test_a_name_given_by_an_unsaved_formula_is_reported_not_applied():
    from vault.completion_template import UnsavedFormula, _import_row

    errors = []
    cells = {"LASID": "0400000001", "First name": UnsavedFormula('=CONCAT("A","n")'),
             "Self-Assessment": UnsavedFormula("=TODAY()")}

    result = _import_row(None, None, {"D1": object()}, 7, cells, date(2026, 12, 3),
                         errors)

    assert not result.applied
    assert sorted(error.column for error in errors) == ["First name", "Self-Assessment"]
    assert all("formula whose result was not saved" in error.message
               for error in errors)
