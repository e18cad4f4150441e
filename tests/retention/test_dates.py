"""The retention date: two years after the record was last needed, never early."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from retention.dates import (
    is_due,
    local_day,
    newest_day,
    retain_until,
    sweep_moment,
    years_after,
)

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


@pytest.mark.parametrize(("kept_through", "lapses_utc"), [
    # The day before clocks go forward (CST all day): next midnight is 06:00 UTC.
    (date(2027, 3, 13), datetime(2027, 3, 14, 6, 0, tzinfo=timezone.utc)),
    # The day clocks go forward: the next midnight is already CDT, 05:00 UTC.
    (date(2027, 3, 14), datetime(2027, 3, 15, 5, 0, tzinfo=timezone.utc)),
    # The day clocks go back: that day has 25 hours; its end is CST, 06:00 UTC.
    (date(2027, 11, 7), datetime(2027, 11, 8, 6, 0, tzinfo=timezone.utc)),
    (date(2026, 3, 1), datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)),
])
def test_write_once_lapses_at_the_midnight_after_the_retention_date(kept_through,
                                                                    lapses_utc):
    assert retain_until(kept_through, CHICAGO) == lapses_utc
    assert sweep_moment(kept_through + timedelta(days=1), CHICAGO) == lapses_utc


def test_an_upload_just_before_midnight_on_a_dst_day_counts_on_that_day():
    # 23:59 CDT on March 14, 2027 (clocks went forward that morning).
    uploaded = datetime(2027, 3, 15, 4, 59, tzinfo=timezone.utc)
    assert newest_day(None, uploaded, None, None, CHICAGO) == date(2027, 3, 14)
    assert years_after(local_day(uploaded, CHICAGO)) == date(2029, 3, 14)


def test_the_newest_event_wins_a_certificate_included():
    assert newest_day(date(2026, 12, 3), None, date(2027, 1, 4), None,
                      CHICAGO) == date(2027, 1, 4)
    assert newest_day(date(2026, 12, 3), None, date(2026, 10, 1),
                      date(2026, 11, 18), CHICAGO) == date(2026, 12, 3)
    assert newest_day(None, None, None, None, CHICAGO) is None
