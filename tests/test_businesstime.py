"""Tests for handoff.businesstime: calendar rules, DST, validation and properties against a reference."""

import pickle
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.businesstime import (
    Calendar,
    NoBusinessTime,
    add,
    between,
    is_open,
    next_open,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = UTC
H = timedelta(hours=1)
M = timedelta(minutes=1)

OFFICE = {d: [("09:00", "17:00")] for d in range(5)}


@pytest.fixture(scope="module")
def us_office():
    return Calendar.build("America/New_York", OFFICE, holiday_country="US", years=range(2025, 2029))


def ny(*args, fold=0):
    return datetime(*args, tzinfo=NY, fold=fold)


def berlin(*args, fold=0):
    return datetime(*args, tzinfo=BERLIN, fold=fold)


def utc(dt):
    """Compare instants, not wall times: same-zone datetime comparison ignores fold, and
    cross-zone == is always False for times in a fold (PEP 495)."""
    return dt.astimezone(UTC)


def daily(tz_name, *intervals):
    return Calendar.build(tz_name, [list(intervals)] * 7)


# ---------------------------------------------------------------------------
# Weekly hours, gaps, starting outside hours


def test_weekend_is_skipped(us_office):
    # Fri 2026-06-12 16:00 + 2h -> 1h Friday, 1h Monday.
    assert add(ny(2026, 6, 12, 16), 2 * H, us_office) == ny(2026, 6, 15, 10)


def test_overnight_gap_is_skipped(us_office):
    assert add(ny(2026, 6, 9, 16, 30), H, us_office) == ny(2026, 6, 10, 9, 30)


def test_start_before_opening_counts_from_opening(us_office):
    assert add(ny(2026, 6, 9, 7), 30 * M, us_office) == ny(2026, 6, 9, 9, 30)


def test_start_on_weekend_counts_from_monday_opening(us_office):
    assert add(ny(2026, 6, 13, 12), H, us_office) == ny(2026, 6, 15, 10)


def test_duration_ending_at_closing_returns_closing_time(us_office):
    assert add(ny(2026, 6, 9, 9), 8 * H, us_office) == ny(2026, 6, 9, 17)


def test_three_business_days(us_office):
    assert add(ny(2026, 6, 10, 10), 24 * H, us_office) == ny(2026, 6, 15, 10)


def test_long_duration_crosses_many_chunks(us_office):
    # 250 business days in 2026 (261 weekdays - 11 observed federal holidays).
    assert between(ny(2026, 1, 1), ny(2027, 1, 1), us_office) == 250 * 8 * H
    assert add(ny(2026, 1, 1), 250 * 8 * H, us_office) == ny(2026, 12, 31, 17)


def test_zero_duration_is_start_when_open_else_next_opening(us_office):
    assert add(ny(2026, 6, 9, 10), timedelta(0), us_office) == ny(2026, 6, 9, 10)
    assert add(ny(2026, 6, 9, 17), timedelta(0), us_office) == ny(2026, 6, 10, 9)
    assert add(ny(2026, 6, 12, 18), timedelta(0), us_office) == ny(2026, 6, 15, 9)


def test_opening_instant_is_open_and_closing_instant_is_not(us_office):
    assert is_open(ny(2026, 6, 9, 9), us_office)
    assert not is_open(ny(2026, 6, 9, 17), us_office)
    assert not is_open(ny(2026, 6, 9, 8, 59, 59, 999999), us_office)
    assert next_open(ny(2026, 6, 9, 17), us_office) == ny(2026, 6, 10, 9)


def test_result_is_in_calendar_zone_and_exact_to_the_microsecond(us_office):
    start = datetime(2026, 6, 9, 14, 0, 0, 1, tzinfo=UTC)  # 10:00:00.000001 EDT
    result = add(start, timedelta(microseconds=2), us_office)
    assert result.tzinfo is NY
    assert result == ny(2026, 6, 9, 10, 0, 0, 3)
    assert between(start, result, us_office) == timedelta(microseconds=2)


def test_split_shift_lunch_break_is_skipped():
    cal = Calendar.build("Europe/Berlin", {0: [(time(8), time(12)), (time(13), time(17))]})
    assert add(berlin(2026, 6, 8, 11), 2 * H, cal) == berlin(2026, 6, 8, 14)


def test_touching_intervals_and_midnight_end_form_one_stretch():
    cal = daily("UTC", ("00:00", "12:00"), ("12:00", "24:00"))
    start = datetime(2026, 6, 8, 5, tzinfo=UTC)
    assert add(start, 30 * H, cal) == start + 30 * H
    assert is_open(datetime(2026, 6, 8, 12, tzinfo=UTC), cal)


def test_open_time_running_across_internal_cache_boundary_is_continuous():
    # Open time is materialised in fixed absolute chunks; a stretch crossing a
    # chunk edge must behave as one stretch.
    from handoff.businesstime import _CHUNK_US

    cal = daily("UTC", ("00:00", None))
    edge = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=_CHUNK_US * 80)
    assert is_open(edge, cal) and is_open(edge - timedelta(microseconds=1), cal)
    assert add(edge - H, H, cal) == edge
    assert add(edge - H, 2 * H, cal) == edge + H
    assert add(edge + H, -2 * H, cal) == edge - H
    assert between(edge - H, edge + H, cal) == 2 * H
    assert next_open(edge, cal) == edge


def test_negative_duration_counts_backwards(us_office):
    assert add(ny(2026, 6, 15, 10), -2 * H, us_office) == ny(2026, 6, 12, 16)
    # Landing exactly on an opening returns the opening, not the previous closing.
    assert add(ny(2026, 6, 10, 10), -H, us_office) == ny(2026, 6, 10, 9)


# ---------------------------------------------------------------------------
# Holidays, closures, extra days


def test_us_thanksgiving_is_skipped(us_office):
    assert date(2026, 11, 26) in us_office.closed
    assert add(ny(2026, 11, 25, 16), 2 * H, us_office) == ny(2026, 11, 27, 10)
    assert not is_open(ny(2026, 11, 26, 12), us_office)


def test_holidays_outside_built_years_are_fetched_lazily(us_office):
    assert date(2040, 11, 22) not in us_office.closed  # Thanksgiving 2040, outside `years`
    assert add(ny(2040, 11, 21, 16), 2 * H, us_office) == ny(2040, 11, 23, 10)


def test_holiday_subdivision_applies_regional_holidays():
    bavaria = Calendar.build(
        "Europe/Berlin", OFFICE, holiday_country="de", holiday_subdivision="by", years=[2026]
    )
    berlin_cal = Calendar.build("Europe/Berlin", OFFICE, holiday_country="DE", years=[2026])
    epiphany = date(2026, 1, 6)
    assert bavaria.holiday_subdivision == "BY" and bavaria.holiday_country == "DE"
    assert epiphany in bavaria.closed and epiphany not in berlin_cal.closed


def test_custom_closure_is_skipped():
    cal = Calendar.build("America/New_York", OFFICE, closures=[date(2026, 6, 10)])
    assert add(ny(2026, 6, 9, 16), 2 * H, cal) == ny(2026, 6, 11, 10)


def test_extra_working_saturday_is_used():
    cal = Calendar.build("America/New_York", OFFICE, extra_days={date(2026, 6, 13): [("10:00", "14:00")]})
    assert add(ny(2026, 6, 12, 16), 2 * H, cal) == ny(2026, 6, 13, 11)
    assert add(ny(2026, 6, 12, 16), 6 * H, cal) == ny(2026, 6, 15, 10)


def test_extra_day_overrides_holiday_and_weekday_hours():
    cal = Calendar.build(
        "America/New_York",
        OFFICE,
        holiday_country="US",
        years=[2026],
        extra_days={date(2026, 11, 26): [("10:00", "12:00")], date(2026, 11, 25): [("13:00", "14:00")]},
    )
    assert add(ny(2026, 11, 25, 9), 2 * H, cal) == ny(2026, 11, 26, 11)


def test_calendar_is_hashable_and_compares_by_value():
    a = Calendar.build("America/New_York", OFFICE, extra_days={date(2026, 6, 13): [("10:00", "14:00")]})
    b = Calendar.build("America/New_York", OFFICE, extra_days={date(2026, 6, 13): [(time(10), time(14))]})
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1


def test_calendar_pickles_without_cache(us_office):
    add(ny(2026, 6, 9, 9), H, us_office)
    clone = pickle.loads(pickle.dumps(us_office))
    assert clone == us_office
    assert add(ny(2026, 11, 25, 16), 2 * H, clone) == ny(2026, 11, 27, 10)


# ---------------------------------------------------------------------------
# DST


def test_new_york_spring_forward_day_is_an_hour_shorter():
    cal = daily("America/New_York", ("00:00", None))
    assert between(ny(2026, 3, 7, 12), ny(2026, 3, 9, 12), cal) == 47 * H


def test_new_york_fall_back_day_is_an_hour_longer():
    cal = daily("America/New_York", ("00:00", None))
    assert between(ny(2026, 10, 31, 12), ny(2026, 11, 2, 12), cal) == 49 * H


def test_new_york_hours_spanning_spring_gap_have_real_length():
    cal = daily("America/New_York", ("01:00", "04:00"))
    assert between(ny(2026, 3, 8), ny(2026, 3, 9), cal) == 2 * H
    # 30 min until 02:00 EST, clocks jump to 03:00 EDT, 30 more minutes.
    assert add(ny(2026, 3, 8, 1, 30), H, cal) == ny(2026, 3, 8, 3, 30)


def test_new_york_hours_inside_spring_gap_do_not_exist():
    cal = daily("America/New_York", ("02:00", "03:00"))
    assert between(ny(2026, 3, 8), ny(2026, 3, 9), cal) == timedelta(0)
    assert add(ny(2026, 3, 8), 30 * M, cal) == ny(2026, 3, 9, 2, 30)
    assert add(ny(2026, 3, 7, 2, 30), H, cal) == ny(2026, 3, 9, 2, 30)


def test_new_york_hours_straddling_fall_overlap_count_both_passes():
    cal = daily("America/New_York", ("00:00", "03:00"))
    assert between(ny(2026, 11, 1), ny(2026, 11, 2), cal) == 4 * H
    cal = daily("America/New_York", ("01:00", "01:30"))
    assert between(ny(2026, 11, 1), ny(2026, 11, 2), cal) == H
    assert is_open(ny(2026, 11, 1, 1, 15, fold=0), cal)
    assert is_open(ny(2026, 11, 1, 1, 15, fold=1), cal)
    assert not is_open(ny(2026, 11, 1, 1, 45, fold=0), cal)
    # First pass ends at 01:30 EDT; the second starts at 01:00 EST.
    result = add(ny(2026, 11, 1, 1, 15), 30 * M, cal)
    assert utc(result) == utc(ny(2026, 11, 1, 1, 15, fold=1))
    assert result.utcoffset() == timedelta(hours=-5)


def test_new_york_two_to_three_on_fall_day_occurs_once():
    cal = daily("America/New_York", ("02:00", "03:00"))
    assert between(ny(2026, 11, 1), ny(2026, 11, 2), cal) == H


def test_berlin_spring_forward_with_hours_straddling_two_to_three():
    cal = daily("Europe/Berlin", ("01:00", "05:00"))
    assert between(berlin(2026, 3, 29), berlin(2026, 3, 30), cal) == 3 * H
    assert add(berlin(2026, 3, 29, 1, 30), H, cal) == berlin(2026, 3, 29, 3, 30)
    cal = daily("Europe/Berlin", ("02:00", "03:00"))
    assert between(berlin(2026, 3, 29), berlin(2026, 3, 30), cal) == timedelta(0)


def test_berlin_fall_back_with_hours_straddling_two_to_three():
    cal = daily("Europe/Berlin", ("01:00", "05:00"))
    assert between(berlin(2026, 10, 25), berlin(2026, 10, 26), cal) == 5 * H
    cal = daily("Europe/Berlin", ("02:00", "03:00"))
    assert between(berlin(2026, 10, 25), berlin(2026, 10, 26), cal) == 2 * H
    # 02:30 CEST + 1h = 02:30 CET (the repeated wall time).
    result = add(berlin(2026, 10, 25, 2, 30), H, cal)
    assert utc(result) == utc(berlin(2026, 10, 25, 2, 30, fold=1))
    assert result.fold == 1


def test_berlin_office_week_across_dst_has_normal_business_length():
    cal = Calendar.build("Europe/Berlin", OFFICE)
    assert between(berlin(2026, 3, 27, 9), berlin(2026, 3, 30, 17), cal) == 16 * H
    assert add(berlin(2026, 10, 23, 16), 2 * H, cal) == berlin(2026, 10, 26, 10)


# ---------------------------------------------------------------------------
# between


def test_between_is_negative_when_reversed(us_office):
    a, b = ny(2026, 6, 12, 16), ny(2026, 6, 15, 10)
    assert between(a, b, us_office) == 2 * H
    assert between(b, a, us_office) == -2 * H


def test_between_ignores_closed_time(us_office):
    assert between(ny(2026, 6, 13, 1), ny(2026, 6, 14, 23), us_office) == timedelta(0)


def test_between_accepts_mixed_zones(us_office):
    assert between(datetime(2026, 6, 9, 13, tzinfo=UTC), ny(2026, 6, 9, 11), us_office) == 2 * H


# ---------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    "weekly, message",
    [
        ({0: [("09:00", "12:00"), ("11:00", "17:00")]}, "overlaps"),
        ({0: [("13:00", "17:00"), ("09:00", "12:00")]}, "overlaps or precedes"),
        ({0: [("17:00", "09:00")]}, "ends at or before"),
        ({0: [("09:00", "09:00")]}, "ends at or before"),
        ({0: [("9am", "17:00")]}, "cannot parse"),
        ({7: [("09:00", "17:00")]}, "weekday keys"),
        ([[("09:00", "17:00")]] * 5, "expected 7"),
        ({}, "no working time"),
    ],
)
def test_invalid_weekly_hours_are_rejected(weekly, message):
    with pytest.raises(ValueError, match=message):
        Calendar.build("UTC", weekly)


def test_unknown_country_is_rejected_naming_the_code():
    with pytest.raises(ValueError, match="'XX'"):
        Calendar.build("UTC", OFFICE, holiday_country="XX")


def test_unknown_subdivision_is_rejected_naming_the_code():
    with pytest.raises(ValueError, match="'ZZ'.*'US'"):
        Calendar.build("UTC", OFFICE, holiday_country="US", holiday_subdivision="ZZ")


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd", "America/New York"])
def test_unknown_time_zone_is_rejected(name):
    with pytest.raises(ValueError, match="time zone"):
        Calendar.build(name, OFFICE)


def test_direct_construction_is_validated_too():
    with pytest.raises(ValueError, match="overlaps"):
        Calendar(tz=NY, weekly=((("09:00", "12:00"), ("10:00", "11:00")),) + ((),) * 6)


def test_naive_datetimes_are_rejected(us_office):
    naive = datetime(2026, 6, 9, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        add(naive, H, us_office)
    with pytest.raises(ValueError, match="timezone-aware"):
        between(naive, ny(2026, 6, 9, 10), us_office)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(naive, us_office)
    with pytest.raises(TypeError, match="must be a datetime"):
        add(date(2026, 6, 9), H, us_office)
    with pytest.raises(TypeError, match="timedelta"):
        add(ny(2026, 6, 9, 10), 3600, us_office)


def test_calendar_that_stops_opening_gives_up_instead_of_looping():
    cal = Calendar.build("UTC", {}, extra_days={date(2026, 6, 13): [("10:00", "14:00")]})
    assert add(datetime(2026, 6, 1, tzinfo=UTC), H, cal) == datetime(2026, 6, 13, 11, tzinfo=UTC)
    with pytest.raises(NoBusinessTime, match="No business time"):
        add(datetime(2026, 6, 14, tzinfo=UTC), H, cal)
    with pytest.raises(ValueError):
        next_open(datetime(2026, 6, 14, tzinfo=UTC), cal)
    with pytest.raises(NoBusinessTime):
        add(datetime(2026, 6, 1, tzinfo=UTC), -H, cal)


# ---------------------------------------------------------------------------
# Properties


def _reference_is_open(t: datetime, cal: Calendar) -> bool:
    """The definition, applied literally: is the local wall-clock reading inside that date's hours?"""
    local = t.astimezone(cal.tz)
    d, wall = local.date(), local.time().replace(fold=0)
    if d in cal.extra_days:
        intervals = cal.extra_days[d]
    elif d in cal.closed:
        intervals = ()
    else:
        intervals = cal.weekly[d.weekday()]
    return any(start <= wall and (end is None or wall < end) for start, end in intervals)


def _reference_add(start: datetime, minutes: int, cal: Calendar) -> datetime:
    """Step one absolute minute at a time (start and all boundaries lie on whole minutes)."""
    t = start.astimezone(UTC)
    if minutes == 0:
        while not _reference_is_open(t, cal):
            t += M
        return t
    while True:
        if _reference_is_open(t, cal):
            minutes -= 1
            if minutes == 0:
                return t + M
        t += M


CALENDARS = [
    Calendar.build("America/New_York", OFFICE, holiday_country="US", years=[2026]),
    # Seven days a week with hours around 02:00-03:00 to hit both DST transitions.
    Calendar.build(
        "Europe/Berlin",
        [[("00:30", "02:15"), ("02:45", "04:00"), ("20:00", None)]] * 7,
        closures=[date(2026, 3, 30)],
        extra_days={date(2026, 10, 24): [("01:00", "03:00")]},
    ),
    Calendar.build("America/New_York", [[("01:00", "03:30")]] * 6 + [[("00:00", None)]]),
]
DST_DAYS_UTC = [datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC),
                datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)]

calendars = st.sampled_from(CALENDARS)
# Instants in 2026, biased towards the DST transition days.
instants = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    st.tuples(st.sampled_from(DST_DAYS_UTC), st.integers(-2 * 86400 * 10**6, 2 * 86400 * 10**6)).map(
        lambda p: p[0] + timedelta(microseconds=p[1])
    ),
)
durations = st.integers(0, 4 * 86400 * 10**6).map(lambda us: timedelta(microseconds=us))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(calendars, instants, durations)
def test_between_start_and_add_result_is_the_duration(cal, a, d):
    assert between(a, add(a, d, cal), cal) == d


@FAST
@given(calendars, instants, durations)
def test_negative_add_inverts_between(cal, a, d):
    assert between(add(a, -d, cal), a, cal) == d


@FAST
@given(calendars, instants, instants, durations, durations)
def test_add_is_monotonic_in_start_and_duration(cal, a, b, d1, d2):
    a, b = sorted([a, b])
    d1, d2 = sorted([d1, d2])
    assert utc(add(a, d1, cal)) <= utc(add(b, d1, cal))
    assert utc(add(a, d1, cal)) <= utc(add(a, d2, cal))


@FAST
@given(calendars, instants, instants, instants)
def test_between_is_additive_over_a_split_point(cal, a, b, c):
    a, b, c = sorted([a, b, c])
    assert between(a, c, cal) == between(a, b, cal) + between(b, c, cal)


@FAST
@given(calendars, instants)
def test_add_zero_is_next_open(cal, a):
    result = add(a, timedelta(0), cal)
    assert utc(result) == utc(next_open(a, cal))
    assert is_open(result, cal)
    assert result >= a
    assert between(a, result, cal) == timedelta(0)


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.booleans())
def test_is_open_matches_wall_clock_definition(cal, a, fold):
    local = a.astimezone(cal.tz)
    local = local.replace(fold=int(fold))
    assert is_open(local, cal) == _reference_is_open(local, cal)


@settings(max_examples=40, deadline=None)
@given(
    calendars,
    st.one_of(
        st.integers(0, 350 * 86400 // 60).map(lambda m: datetime(2026, 1, 1, tzinfo=UTC) + m * M),
        st.tuples(st.sampled_from(DST_DAYS_UTC), st.integers(-36 * 60, 36 * 60)).map(
            lambda p: p[0] + p[1] * M
        ),
    ),
    st.integers(0, 6 * 60),
)
def test_add_matches_minute_stepping_reference(cal, a, minutes):
    assert utc(add(a, minutes * M, cal)) == utc(_reference_add(a, minutes, cal))
