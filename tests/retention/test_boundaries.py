"""Time travel: the sweep on the clock's own day, at the edges of the calendar."""

from datetime import date, datetime

import pytest
import time_machine
from sqlalchemy import update

from tests.conftest import CHICAGO, small_pdf
from tests.retention.conftest import LASID, object_keys, stored_versions, sweep
from vault.db import unit_of_work
from vault.models import District


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=CHICAGO)


@pytest.mark.parametrize(("uploaded", "last_moment_kept", "first_moment_gone"), [
    # 23:30 in Chicago is already the next day in UTC.
    (at(2026, 12, 3, 23, 30), at(2028, 12, 3, 23, 59, 50), at(2028, 12, 4, 0, 0, 10)),
    # Uploaded on February 29: kept through March 1 two years on.
    (at(2024, 2, 29, 12, 0), at(2026, 3, 1, 23, 59, 50), at(2026, 3, 2, 0, 0, 10)),
    # Uploaded late on the day clocks go forward.
    (at(2027, 3, 14, 23, 59), at(2029, 3, 14, 23, 59, 50), at(2029, 3, 15, 0, 0, 10)),
    # The retention date is the day clocks go forward (March 11, 2029).
    (at(2027, 3, 11, 9, 0), at(2029, 3, 11, 23, 59, 50), at(2029, 3, 12, 0, 0, 10)),
    # The retention date is the day clocks go back (November 4, 2029: 25 hours).
    (at(2027, 11, 4, 9, 0), at(2029, 11, 4, 23, 59, 50), at(2029, 11, 5, 0, 0, 10)),
])
def test_removed_at_the_first_midnight_after_the_retention_date(
        school, runtime, world, uploaded, last_moment_kept, first_moment_gone):
    with unit_of_work(runtime.sessions) as session:
        session.execute(update(District).values(agreement_signed_on=date(2020, 1, 6)))

    with time_machine.travel(uploaded, tick=False):
        assert world.enrol(school.uploader, LASID).status_code == 201
        answer = world.upload(school.uploader, LASID, "sa_round1", small_pdf())
        assert answer.status_code == 201, answer.json
    [key] = object_keys(runtime)

    with time_machine.travel(last_moment_kept, tick=False):
        assert sweep(runtime).counts["records"] == 0
    assert stored_versions(runtime, key) == 1

    with time_machine.travel(first_moment_gone, tick=False):
        report = sweep(runtime)
    assert report.counts["documents"] == 1
    assert report.as_of == first_moment_gone.date()
    assert stored_versions(runtime, key) == 0
