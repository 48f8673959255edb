"""Business-time arithmetic (SLA due dates, elapsed business time) over weekly hours, holidays and DST."""

# Design notes
# ------------
# * Semantics.  An instant ``t`` is *open* iff its local wall-clock reading in
#   ``Calendar.tz`` (date and time of day) falls inside one of the intervals
#   that apply to that local date.  Everything else follows from that one
#   definition, which is what makes DST unambiguous:
#     - spring forward: wall times in the gap never occur, so an interval
#       02:00-03:00 on 2026-03-08 in America/New_York contains no time at all,
#       and 01:00-04:00 that day lasts 2 real hours;
#     - fall back: wall times in the overlap occur twice and count twice, so
#       00:00-03:00 on 2026-11-01 lasts 4 real hours and 01:00-01:30 lasts one
#       hour (in two pieces); both folds of 01:15 are open.
#   Durations are always measured in absolute (UTC) time.
#
# * Representation.  Time is handled internally as integer microseconds since
#   the Unix epoch, so results are exact to the microsecond and arithmetic is
#   plain int arithmetic.  Each calendar lazily materialises its open time as
#   "chunks" covering fixed absolute spans of _CHUNK_DAYS: sorted, merged open
#   intervals plus a running sum of open time (``cum``).  Within a chunk,
#   ``add``/``between`` are two bisections, so cost is independent of the
#   duration; a duration longer than a chunk walks whole chunks (each a single
#   subtraction).  The chunk cache is the memo of per-date absolute intervals
#   (it supersedes a per-date lru_cache and is much cheaper to consult).
#
# * Holidays.  ``Calendar.build`` expands public holidays for ``years`` into
#   ``closed`` eagerly (default: current year - 2 .. current year + 3) so
#   admins can see them; holidays of any other year are fetched lazily from
#   the ``holidays`` package when a chunk touching that year is built, so
#   computations never silently run past the covered horizon.
#
# * Termination.  Building a calendar without any working time fails, and a
#   search that finds no open time for more than _GIVE_UP_DAYS raises
#   NoBusinessTime instead of looping.
#
# * Known limitation.  UTC-offset changes are found by comparing offsets 1 day
#   before and 2 days after each local date and bisecting when they differ; a
#   zone that changes offset and changes it back within those 3 days would be
#   missed.  We know of no tzdata zone that does that.

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

__all__ = [
    "Calendar",
    "Interval",
    "NoBusinessTime",
    "add",
    "between",
    "day_start",
    "is_open",
    "is_working_day",
    "next_open",
    "working_day_after",
    "working_day_back",
]

# (start, end) in local wall-clock time; end None means 24:00 (end of day).
Interval = tuple[time, "time | None"]

_US_PER_S = 1_000_000
_DAY_US = 86_400 * _US_PER_S
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# Chunk span: large enough that typical SLA durations stay inside one or two
# chunks, small enough that the first call in a fresh process stays ~1 ms.
_CHUNK_DAYS = 256
_CHUNK_US = _CHUNK_DAYS * _DAY_US
_MAX_CHUNKS_CACHED = 256

_GIVE_UP_DAYS = 366 * 5

# Keep a margin around datetime's year range: chunk building looks at local
# dates a couple of days outside the chunk.
_MIN_US = (date(2, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY_US
_MAX_US = (date(9998, 12, 31).toordinal() - _EPOCH_ORDINAL) * _DAY_US

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class NoBusinessTime(ValueError):
    """No open time exists within the search horizon (or the supported date range)."""


class _FrozenMap(Mapping):
    """Read-only, hashable mapping so that Calendar stays hashable and comparable."""

    __slots__ = ("_d", "_hash")

    def __init__(self, data: Mapping | Iterable = ()) -> None:
        self._d = dict(data)
        self._hash = None

    def __getitem__(self, key):
        return self._d[key]

    def __iter__(self) -> Iterator:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key) -> bool:
        return key in self._d

    def get(self, key, default=None):
        return self._d.get(key, default)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._d.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._d!r})"

    def __reduce__(self):
        return (type(self), (self._d,))


# ---------------------------------------------------------------------------
# Holidays


@functools.cache
def _supported_countries() -> dict[str, list[str]]:
    import holidays

    return holidays.list_supported_countries()


def _canonical_holiday_codes(country: str, subdivision: str | None) -> tuple[str, str | None]:
    """Validate codes against the holidays package; messages are shown to admins."""
    if not isinstance(country, str) or not country.strip():
        raise ValueError(f"Unknown holiday country code {country!r}.")
    supported = _supported_countries()
    code = country.strip().upper()
    if code not in supported:
        raise ValueError(
            f"Unknown holiday country code {country!r}: the holidays package has no calendar "
            f"for it (expected an ISO 3166-1 code such as 'US' or 'DE')."
        )
    if subdivision is None:
        return code, None
    subdivs = supported[code]
    wanted = str(subdivision).strip()
    for candidate in subdivs:
        if candidate.casefold() == wanted.casefold():
            return code, candidate
    shown = ", ".join(subdivs[:30]) + (", ..." if len(subdivs) > 30 else "")
    raise ValueError(
        f"Unknown holiday subdivision {subdivision!r} for country {code!r}"
        + (f"; valid subdivisions: {shown}." if subdivs else f"; {code!r} has no subdivisions.")
    )


@functools.lru_cache(maxsize=1024)
def _holiday_dates(country: str, subdivision: str | None, years: tuple[int, ...]) -> frozenset[date]:
    # Cached by (country, subdiv, years): expanding a country's rules is
    # comparatively slow and calendars are rebuilt from the same settings often.
    import holidays

    try:
        return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=years))
    except NotImplementedError as exc:  # raised by holidays for unknown codes
        raise ValueError(f"Holiday calendar {country!r}/{subdivision!r} is not available: {exc}") from None


# ---------------------------------------------------------------------------
# Interval parsing / validation


def _parse_time(value, what: str, *, allow_24: bool) -> time | None:
    if value is None:
        if allow_24:
            return None
        raise ValueError(f"{what}: start time must not be empty.")
    if isinstance(value, datetime) or not isinstance(value, (time, str)):
        raise ValueError(f"{what}: expected a datetime.time or 'HH:MM' string, got {value!r}.")
    if isinstance(value, str):
        m = _TIME_RE.match(value.strip())
        if not m:
            raise ValueError(f"{what}: cannot parse time {value!r} (expected 'HH:MM' or 'HH:MM:SS').")
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if (h, mi, s) == (24, 0, 0):
            if allow_24:
                return None
            raise ValueError(f"{what}: an interval cannot start at 24:00.")
        if h > 23 or mi > 59 or s > 59:
            raise ValueError(f"{what}: invalid time {value!r}.")
        return time(h, mi, s)
    if value.tzinfo is not None:
        raise ValueError(f"{what}: times must be naive local wall-clock times, got {value!r}.")
    return value.replace(fold=0)


def _time_us(t: time | None) -> int:
    if t is None:
        return _DAY_US
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_S + t.microsecond


def _normalize_intervals(raw, what: str) -> tuple[Interval, ...]:
    if raw is None:
        return ()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        raise ValueError(f"{what}: expected a sequence of (start, end) intervals, got {raw!r}.")
    out: list[Interval] = []
    prev_end_us = -1
    for item in raw:
        try:
            start_raw, end_raw = item
        except (TypeError, ValueError):
            raise ValueError(f"{what}: interval {item!r} is not a (start, end) pair.") from None
        start = _parse_time(start_raw, what, allow_24=False)
        end = _parse_time(end_raw, what, allow_24=True)
        s_us, e_us = _time_us(start), _time_us(end)
        label = f"{start.isoformat()}-{'24:00' if end is None else end.isoformat()}"
        if e_us <= s_us:
            raise ValueError(
                f"{what}: interval {label} ends at or before it starts (use 24:00 or None for midnight)."
            )
        if s_us < prev_end_us:
            raise ValueError(
                f"{what}: interval {label} overlaps or precedes the previous interval; "
                "intervals must be sorted and non-overlapping."
            )
        prev_end_us = e_us
        out.append((start, end))
    return tuple(out)


def _intervals_us(intervals: tuple[Interval, ...]) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for start, end in intervals:
        s, e = _time_us(start), _time_us(end)
        if merged and merged[-1][1] == s:  # touching intervals are one stretch
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return tuple((s, e) for s, e in merged)


def _normalize_weekly(weekly) -> tuple[tuple[Interval, ...], ...]:
    if isinstance(weekly, Mapping):
        for key in weekly:
            if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key <= 6:
                raise ValueError(
                    f"Weekly hours: weekday keys must be integers 0 (Monday) to 6 (Sunday), got {key!r}."
                )
        days = [weekly.get(i, ()) for i in range(7)]
    else:
        days = list(weekly)
        if len(days) != 7:
            raise ValueError(f"Weekly hours: expected 7 weekdays (Monday first), got {len(days)}.")
    return tuple(_normalize_intervals(d, f"Weekly hours for {_WEEKDAY_NAMES[i]}") for i, d in enumerate(days))


def _bad_instant(value, what: str) -> Exception:
    if not isinstance(value, datetime):
        return TypeError(f"{what} must be a datetime, got {type(value).__name__}.")
    return ValueError(f"{what} must be timezone-aware, got naive {value!r}.")


def _to_us(dt: datetime, what: str = "datetime") -> int:
    # Subtracting an aware epoch rejects naive datetimes by itself (TypeError),
    # which saves a separate utcoffset() call on the hot path.
    try:
        delta = dt - _EPOCH
    except TypeError:
        raise _bad_instant(dt, what) from None
    if not isinstance(delta, timedelta):  # e.g. an object whose __sub__ returns something else
        raise _bad_instant(dt, what)
    return (delta.days * 86_400 + delta.seconds) * _US_PER_S + delta.microseconds


def _td_us(td: timedelta) -> int:
    if not isinstance(td, timedelta):
        raise TypeError(f"duration must be a timedelta, got {type(td).__name__}.")
    return (td.days * 86_400 + td.seconds) * _US_PER_S + td.microseconds


def _from_us(us: int, tz: tzinfo, epoch_in_tz: datetime | None = None) -> datetime:
    # fromutc on "epoch + offset" is exact to the microsecond, sets fold for
    # repeated wall times, and is ~2x faster than fromtimestamp + replace.
    if epoch_in_tz is None:
        epoch_in_tz = _EPOCH_NAIVE.replace(tzinfo=tz)
    return tz.fromutc(epoch_in_tz + timedelta(0, 0, us))


def _offset_us(tz: tzinfo, sec: int) -> int:
    off = datetime.fromtimestamp(sec, tz).utcoffset()
    return (off.days * 86_400 + off.seconds) * _US_PER_S + off.microseconds


def _offset_segments(tz: tzinfo, lo_s: int, hi_s: int, o_lo: int, o_hi: int, out: list) -> None:
    """Append (transition_second, new_offset) for offset changes in (lo_s, hi_s]."""
    if o_lo == o_hi:
        return
    if hi_s - lo_s <= 1:
        out.append((hi_s, o_hi))
        return
    mid = (lo_s + hi_s) // 2
    o_mid = _offset_us(tz, mid)
    _offset_segments(tz, lo_s, mid, o_lo, o_mid, out)
    _offset_segments(tz, mid, hi_s, o_mid, o_hi, out)


# ---------------------------------------------------------------------------
# Calendar


@dataclass(frozen=True)
class Calendar:
    """Working time in one IANA time zone.

    ``weekly[d]`` holds the intervals for weekday ``d`` (Monday=0) as sorted,
    non-overlapping ``(start, end)`` pairs of local wall-clock ``time``s with
    ``start < end``; ``end=None`` means 24:00, so ``(time(0), None)`` is a
    whole day.  Touching intervals are allowed and are treated as one.
    ``closed`` lists whole closed dates (holidays, closures).  ``extra_days``
    maps a date to its own intervals and overrides both ``weekly`` and
    ``closed`` for that date.

    When ``holiday_country`` is set, holidays of years outside
    ``holiday_years`` (the years already expanded into ``closed``) are fetched
    lazily, so far-future or past computations still skip holidays.

    Instances are immutable, hashable and compare by value; the materialised
    open time is cached per instance.  Prefer ``Calendar.build``.
    """

    tz: ZoneInfo
    weekly: tuple[tuple[Interval, ...], ...]
    closed: frozenset[date] = frozenset()
    extra_days: Mapping[date, tuple[Interval, ...]] = field(default_factory=_FrozenMap)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    holiday_years: frozenset[int] = frozenset()

    _weekly_us: tuple = field(init=False, repr=False, compare=False)
    _extra_us: dict = field(init=False, repr=False, compare=False)
    _chunks: dict = field(init=False, repr=False, compare=False)
    _epoch_tz: datetime = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        if not isinstance(self.tz, tzinfo):
            raise ValueError(f"Calendar tz must be a zoneinfo.ZoneInfo, got {self.tz!r}.")
        weekly = _normalize_weekly(self.weekly)
        set_("weekly", weekly)

        closed = frozenset(self.closed)
        for d in closed:
            if not isinstance(d, date) or isinstance(d, datetime):
                raise ValueError(f"Closed days must be dates, got {d!r}.")
        set_("closed", closed)

        extra: dict[date, tuple[Interval, ...]] = {}
        for d, raw in dict(self.extra_days).items():
            if not isinstance(d, date) or isinstance(d, datetime):
                raise ValueError(f"Extra working days must be keyed by date, got {d!r}.")
            intervals = _normalize_intervals(raw, f"Extra working day {d.isoformat()}")
            if not intervals:
                raise ValueError(
                    f"Extra working day {d.isoformat()} has no intervals; list it as a closure instead."
                )
            extra[d] = intervals
        set_("extra_days", _FrozenMap(sorted(extra.items())))

        if self.holiday_country is not None:
            country, subdiv = _canonical_holiday_codes(self.holiday_country, self.holiday_subdivision)
            set_("holiday_country", country)
            set_("holiday_subdivision", subdiv)
        elif self.holiday_subdivision is not None:
            raise ValueError("A holiday subdivision needs a holiday country.")
        set_("holiday_years", frozenset(int(y) for y in self.holiday_years))

        if not any(weekly) and not extra:
            raise ValueError("Calendar has no working time at all: add weekly hours or extra working days.")

        set_("_weekly_us", tuple(_intervals_us(day) for day in weekly))
        set_("_extra_us", {d: _intervals_us(iv) for d, iv in extra.items()})
        set_("_chunks", {})
        set_("_epoch_tz", _EPOCH_NAIVE.replace(tzinfo=self.tz))

    # Pickle without the (large, rebuildable) chunk cache.
    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_chunks"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        object.__setattr__(self, "_chunks", {})

    @classmethod
    def build(
        cls,
        tz_name: str,
        weekly,
        *,
        holiday_country: str | None = None,
        holiday_subdivision: str | None = None,
        years: Iterable[int] | None = None,
        closures: Iterable[date] = (),
        extra_days: Mapping[date, Sequence] | None = None,
    ) -> Calendar:
        """Build a validated calendar; every problem raises ValueError with an admin-readable message.

        ``weekly`` is either a sequence of 7 interval lists (Monday first) or
        a mapping weekday -> intervals (missing weekdays are closed).  Times
        may be ``datetime.time`` or ``'HH:MM[:SS]'`` strings; an end of
        ``None`` or ``'24:00'`` means midnight at the end of the day.
        ``years`` defaults to current year - 2 .. current year + 3; holidays
        outside it are still applied, fetched on demand.
        """
        if not isinstance(tz_name, str) or not tz_name.strip():
            raise ValueError(f"Unknown time zone {tz_name!r}.")
        try:
            tz = ZoneInfo(tz_name.strip())
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(
                f"Unknown time zone {tz_name!r}: expected an IANA name such as 'America/New_York'."
            ) from None

        closed = set()
        for d in closures:
            if not isinstance(d, date) or isinstance(d, datetime):
                raise ValueError(f"Closures must be dates, got {d!r}.")
            closed.add(d)

        years_t: tuple[int, ...] = ()
        if holiday_country is not None:
            country, subdiv = _canonical_holiday_codes(holiday_country, holiday_subdivision)
            if years is None:
                this_year = date.today().year
                years = range(this_year - 2, this_year + 4)
            years_t = tuple(sorted(set(int(y) for y in years)))
            closed |= _holiday_dates(country, subdiv, years_t)
            holiday_country, holiday_subdivision = country, subdiv
        elif holiday_subdivision is not None:
            raise ValueError("A holiday subdivision needs a holiday country.")

        return cls(
            tz=tz,
            weekly=weekly,
            closed=frozenset(closed),
            extra_days=_FrozenMap(extra_days or {}),
            holiday_country=holiday_country,
            holiday_subdivision=holiday_subdivision,
            holiday_years=frozenset(years_t),
        )

    # -- internals ---------------------------------------------------------

    def _lazy_holidays(self, years: Iterable[int]) -> frozenset[date]:
        if self.holiday_country is None:
            return frozenset()
        missing = sorted({y for y in years} - self.holiday_years)
        if not missing:
            return frozenset()
        out: set[date] = set()
        for y in missing:
            out |= _holiday_dates(self.holiday_country, self.holiday_subdivision, (y,))
        return frozenset(out)

    def _wall_us_for(self, d: date, lazy_closed: frozenset[date]) -> tuple[tuple[int, int], ...]:
        extra = self._extra_us.get(d)
        if extra is not None:
            return extra
        if d in self.closed or d in lazy_closed:
            return ()
        return self._weekly_us[d.weekday()]

    def _build_chunk(self, idx: int) -> tuple[list[int], list[int], list[int]]:
        lo = idx * _CHUNK_US
        hi = lo + _CHUNK_US
        if lo < _MIN_US or hi > _MAX_US:
            raise NoBusinessTime("Date outside the supported range (years 2..9998).")
        tz = self.tz
        first = date.fromordinal(_EPOCH_ORDINAL + lo // _DAY_US - 2)
        last = date.fromordinal(_EPOCH_ORDINAL + hi // _DAY_US + 2)
        # Observed holidays can land in a neighbouring year, so look one year further each way.
        lazy_closed = self._lazy_holidays(range(first.year - 1, last.year + 2))

        pieces: list[tuple[int, int]] = []
        d = first
        one_day = timedelta(days=1)
        while d <= last:
            wall = self._wall_us_for(d, lazy_closed)
            if wall:
                wall0 = (d.toordinal() - _EPOCH_ORDINAL) * _DAY_US
                # Offsets are constant over [wall0 - 1 day, wall0 + 2 days]
                # except around a transition; that window contains the
                # preimage of the whole local day for any offset within ±24h.
                s_lo = wall0 // _US_PER_S - 86_400
                s_hi = wall0 // _US_PER_S + 2 * 86_400
                o_lo = _offset_us(tz, s_lo)
                o_hi = _offset_us(tz, s_hi)
                if o_lo == o_hi:
                    for ws, we in wall:
                        a, b = wall0 + ws - o_lo, wall0 + we - o_lo
                        if a < hi and b > lo:
                            pieces.append((max(a, lo), min(b, hi)))
                else:
                    # Split absolute time into constant-offset segments and take the
                    # preimage of each wall interval in each: gaps yield nothing,
                    # overlaps yield two pieces.
                    changes: list[tuple[int, int]] = []
                    _offset_segments(tz, s_lo, s_hi, o_lo, o_hi, changes)
                    bounds = [(-(1 << 62), o_lo)] + [(s * _US_PER_S, o) for s, o in changes]
                    for k, (seg_start, off) in enumerate(bounds):
                        seg_end = bounds[k + 1][0] if k + 1 < len(bounds) else 1 << 62
                        for ws, we in wall:
                            a = max(wall0 + ws - off, seg_start, lo)
                            b = min(wall0 + we - off, seg_end, hi)
                            if a < b:
                                pieces.append((a, b))
            d += one_day

        # Different local dates can interleave in absolute time only in exotic
        # zones; sorting is nearly free on already-sorted input.
        pieces.sort()
        starts: list[int] = []
        ends: list[int] = []
        for a, b in pieces:
            if ends and a <= ends[-1]:
                if b > ends[-1]:
                    ends[-1] = b
            else:
                starts.append(a)
                ends.append(b)
        cum = [0]
        total = 0
        for a, b in zip(starts, ends, strict=True):
            total += b - a
            cum.append(total)
        return starts, ends, cum

    def _chunk(self, idx: int):
        chunks = self._chunks
        ch = chunks.get(idx)
        if ch is None:
            ch = self._build_chunk(idx)
            if len(chunks) >= _MAX_CHUNKS_CACHED:
                chunks.clear()
            chunks[idx] = ch
        return ch

    def _give_up(self, us: int, backwards: bool = False) -> NoBusinessTime:
        when = _from_us(us, self.tz).isoformat() if _MIN_US <= us <= _MAX_US else "the given time"
        direction = "before" if backwards else "after"
        return NoBusinessTime(
            f"No business time found within {_GIVE_UP_DAYS} days {direction} {when}; "
            "the calendar has no open hours in that period."
        )

    def _next_open_us(self, us: int) -> int:
        idx = us // _CHUNK_US
        starts, ends, _ = self._chunk(idx)
        i = bisect_right(ends, us)
        if i < len(starts):
            s = starts[i]
            return s if s > us else us
        empty_days = 0
        while True:
            idx += 1
            starts = self._chunk(idx)[0]
            if starts:
                return starts[0]
            empty_days += _CHUNK_DAYS
            if empty_days > _GIVE_UP_DAYS:
                raise self._give_up(us)

    def _add_us(self, us: int, d: int) -> int:
        if d == 0:
            return self._next_open_us(us)
        idx = us // _CHUNK_US
        starts, ends, cum = self._chunk(idx)
        i = bisect_right(ends, us)  # first interval ending after us
        if i < len(starts):
            s = starts[i]
            pos = cum[i] + (us - s if us > s else 0)
        else:
            pos = cum[-1]
        target = pos + d
        empty_days = 0
        if d > 0:
            # Earliest instant with `target` open time before it in this chunk,
            # so a duration ending exactly at closing time returns closing time.
            while target > cum[-1]:
                target -= cum[-1]
                empty_days = empty_days + _CHUNK_DAYS if cum[-1] == 0 else 0
                if empty_days > _GIVE_UP_DAYS:
                    raise self._give_up(us)
                idx += 1
                starts, ends, cum = self._chunk(idx)
            j = bisect_left(cum, target) - 1
        else:
            # Latest instant with `target` open time before it.
            while target < 0:
                idx -= 1
                starts, ends, cum = self._chunk(idx)
                target += cum[-1]
                empty_days = empty_days + _CHUNK_DAYS if cum[-1] == 0 else 0
                if empty_days > _GIVE_UP_DAYS:
                    raise self._give_up(us, backwards=True)
            j = bisect_right(cum, target) - 1
        return starts[j] + (target - cum[j])

    def _pos(self, us: int) -> tuple[int, int]:
        """(chunk index, open time in that chunk before `us`)."""
        idx = us // _CHUNK_US
        starts, ends, cum = self._chunk(idx)
        i = bisect_right(ends, us)
        if i < len(starts):
            s = starts[i]
            return idx, cum[i] + (us - s if us > s else 0)
        return idx, cum[-1]

    def _between_us(self, a: int, b: int) -> int:
        if b < a:
            return -self._between_us(b, a)
        ia, pa = self._pos(a)
        ib, pb = self._pos(b)
        if ia == ib:
            return pb - pa
        total = self._chunk(ia)[2][-1] - pa + pb
        for k in range(ia + 1, ib):
            total += self._chunk(k)[2][-1]
        return total

    def _is_open_us(self, us: int) -> bool:
        starts, ends, _ = self._chunk(us // _CHUNK_US)
        i = bisect_right(ends, us)
        return i < len(starts) and starts[i] <= us


# ---------------------------------------------------------------------------
# Public functions


def add(start: datetime, duration: timedelta, cal: Calendar) -> datetime:
    """Instant (in cal.tz) at which `duration` of business time has elapsed since `start`.

    Time before the next opening does not count, so a start outside hours
    starts at the next opening.  A duration that runs out exactly at closing
    time returns the closing instant.  ``duration == 0`` returns
    ``next_open(start)``.  A negative duration counts backwards and returns the
    latest instant ``t`` with ``between(t, start) == -duration``.
    """
    return _from_us(cal._add_us(_to_us(start, "start"), _td_us(duration)), cal.tz, cal._epoch_tz)


def between(a: datetime, b: datetime, cal: Calendar) -> timedelta:
    """Business time in [a, b); negative of between(b, a) when b < a."""
    return timedelta(microseconds=cal._between_us(_to_us(a, "a"), _to_us(b, "b")))


def next_open(instant: datetime, cal: Calendar) -> datetime:
    """`instant` itself if open, else the next opening (in cal.tz)."""
    return _from_us(cal._next_open_us(_to_us(instant, "instant")), cal.tz, cal._epoch_tz)


def is_open(instant: datetime, cal: Calendar) -> bool:
    """Whether business time is running at `instant` (opening instant open, closing instant not)."""
    return cal._is_open_us(_to_us(instant, "instant"))


def day_start(day: date, cal: Calendar) -> datetime:
    """The first instant of the local date `day` in cal.tz (midnight; where midnight is skipped, the first instant)."""
    return datetime.combine(day, time(0), tzinfo=cal.tz)


def is_working_day(day: date, cal: Calendar) -> bool:
    """Whether the local date `day` has any business time (not a weekend, holiday or closure)."""
    return between(day_start(day, cal), day_start(day + timedelta(days=1), cal), cal) > timedelta(0)


def working_day_back(day: date, n: int, cal: Calendar) -> date:
    """The n-th working date counting back from `day` (`day` itself is the first when it is a working day).

    So at least n working dates lie after a date d, up to `day` included, exactly when d is before the result.
    """
    return _nth_working_day(day, n, cal, step=-1, first=0)


def working_day_after(day: date, n: int, cal: Calendar) -> date:
    """The n-th working date after `day` (`day` itself not counted): "n business days later"."""
    return _nth_working_day(day, n, cal, step=1, first=1)


def _nth_working_day(day: date, n: int, cal: Calendar, *, step: int, first: int) -> date:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    found = 0
    for offset in range(first, _GIVE_UP_DAYS + first):
        candidate = day + timedelta(days=step * offset)
        if is_working_day(candidate, cal):
            found += 1
            if found == n:
                return candidate
    direction = "before" if step < 0 else "after"
    raise NoBusinessTime(f"Fewer than {n} working days in the {_GIVE_UP_DAYS} days {direction} {day.isoformat()}.")


# ---------------------------------------------------------------------------------------------
# Calendars from stored values (a BusinessCalendar row and its CalendarDay rows)
# ---------------------------------------------------------------------------------------------
def _day_intervals(raw, what: str) -> list:
    if not isinstance(raw, list):
        raise ValueError(f"{what}: expected a list of [start, end] pairs, got {raw!r}.")
    return [tuple(pair) if isinstance(pair, list) else pair for pair in raw]


def _freeze(value):
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@functools.lru_cache(maxsize=256)
def _built(time_zone, weekly, country, subdivision, closures, extra) -> Calendar:
    # Cached by value: a Calendar memoises its open time, so reusing one instance keeps add/between fast.
    return Calendar.build(
        time_zone,
        weekly,
        holiday_country=country,
        holiday_subdivision=subdivision,
        closures=closures,
        extra_days=dict(extra),
    )


def calendar_from_values(
    *,
    time_zone: str,
    weekly_hours,
    holiday_country: str = "",
    holiday_subdivision: str = "",
    days: Iterable[tuple[date, list]] = (),
) -> Calendar:
    """A calendar from stored values (JSON lists); ValueError with an admin-readable message when invalid.

    `days` are (date, hours) exceptions: no hours closes the day, hours replace the weekly hours of that date.
    """
    if not isinstance(weekly_hours, list) or len(weekly_hours) != 7:
        raise ValueError("Weekly hours: expected seven lists of [start, end] pairs, Monday first.")
    weekly = [
        _day_intervals(day, f"Weekly hours for {name}")
        for day, name in zip(weekly_hours, _WEEKDAY_NAMES, strict=True)
    ]
    closures, extra = [], {}
    for day, hours in days:
        if hours:
            extra[day] = _day_intervals(hours, f"Hours of {day.isoformat()}")
        else:
            closures.append(day)
    return _built(
        time_zone,
        _freeze(weekly),
        holiday_country.strip() or None,
        holiday_subdivision.strip() or None,
        tuple(sorted(closures)),
        tuple(sorted((d, _freeze(h)) for d, h in extra.items())),
    )
