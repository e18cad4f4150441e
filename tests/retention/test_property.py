"""Property: never a day early, and never a day later than the first sweep after.

Pure functions over records in memory: the sweep's own rule (`removable`), the
retention date and the write-once lapse, over random events, holds and sweep
days spanning leap days and both changes of the clocks.
"""

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from retention.dates import (
    local_day,
    newest_day,
    retain_until,
    sweep_moment,
    years_after,
)
from retention.sweep import RecordFacts, removable
from tests.conftest import CHICAGO

START = datetime(2023, 1, 1, tzinfo=timezone.utc)
moments = st.integers(0, 4 * 365 * 24 * 60).map(lambda m: START + timedelta(minutes=m))
days = st.integers(0, 7 * 365).map(lambda d: date(2023, 1, 1) + timedelta(days=d))
holds = st.lists(st.tuples(days, st.one_of(st.none(), days)), max_size=2)
records = st.lists(st.fixed_dictionaries({
    "uploads": st.lists(moments, max_size=3),
    "module_day": st.one_of(st.none(), days),
    "certificate_day": st.one_of(st.none(), days),
    "holds": holds,
}), min_size=1, max_size=6)


def held_on(record: dict, day: date) -> bool:
    return any(placed <= day and (lifted is None or day < lifted)
               for placed, lifted in record["holds"])


@settings(max_examples=30, deadline=None)
@given(records=records, sweep_days=st.lists(days, min_size=1, max_size=12,
                                            unique=True))
def test_never_early_and_removed_by_the_first_sweep_after(records, sweep_days):
    removed_on = {}
    for day in sorted(sweep_days):
        for number, record in enumerate(records):
            if number in removed_on:
                continue
            facts = RecordFacts(
                student_id=number, district_id=1, district_code="D1",
                lasid=f"{number:010d}",
                last_needed=newest_day(record["certificate_day"],
                                       max(record["uploads"], default=None),
                                       record["module_day"], None, CHICAGO),
                documents=len(record["uploads"]) or 1,
                held=held_on(record, day))
            if removable(facts, day):
                removed_on[number] = (day, facts)

    for number, record in enumerate(records):
        last_needed = newest_day(record["certificate_day"],
                                 max(record["uploads"], default=None),
                                 record["module_day"], None, CHICAGO)
        if number in removed_on:
            day, facts = removed_on[number]
            kept_through = facts.retention_date
            assert day > kept_through and not held_on(record, day)
            # The store's write-once lock has lapsed by the sweep's clock.
            assert sweep_moment(day, CHICAGO) >= retain_until(kept_through, CHICAGO)
            # Two whole years after every upload's local day.
            for uploaded in record["uploads"]:
                assert years_after(local_day(uploaded, CHICAGO)) < day
            # No earlier sweep found it due and unheld.
            assert not any(earlier < day and earlier > kept_through
                           and not held_on(record, earlier)
                           for earlier in sweep_days)
            continue
        if last_needed is None:
            continue
        kept_through = RecordFacts(0, 1, "D1", "0", last_needed).retention_date
        assert all(day <= kept_through or held_on(record, day)
                   for day in sweep_days)
