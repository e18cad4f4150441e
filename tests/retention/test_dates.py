"""The retention date: two years after the record was last needed, never early."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from retention.dates import is_due, local_day, years_after

CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 12, 3), date(2028, 12, 3)),
    (date(2024, 2, 29), date(2026, 3, 1)),
    (date(2026, 2, 28), date(2028, 2, 28)),
    (date(2027, 12, 31), date(2029, 12, 31)),
])
def test_two_years_after(day, expected):
    assert years_after(day) == expected


def test_kept_through_the_whole_retention_day():
    assert not is_due(date(2028, 12, 3), date(2028, 12, 3))
    assert is_due(date(2028, 12, 3), date(2028, 12, 4))
    assert not is_due(None, date(2099, 1, 1))


def test_an_upload_late_in_the_evening_counts_on_its_local_day():
    # 23:30 in Chicago on December 3 is already December 4 in UTC.
    uploaded = datetime(2026, 12, 4, 5, 30, tzinfo=timezone.utc)
    assert local_day(uploaded, CHICAGO) == date(2026, 12, 3)
