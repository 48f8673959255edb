"""Benchmark handoff.businesstime.add/between against raw baselines measured in the same run (not a test)."""

# Run by hand from anywhere:  .venv/bin/python bench/businesstime_bench.py [--quick]
# Every figure is single-threaded wall-clock calls/s on this machine, so only
# the ratios are meaningful across machines.

from __future__ import annotations

import random
import sys
import time as _time
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# Run as a script: make the repo root importable without installing anything.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handoff.businesstime import Calendar, add, between  # noqa: E402

SEED = 20260611
N_PRODUCT = 200_000
N_RAW = 100_000
N_MINUTE = 300  # minute stepping is ~10^4x slower; measured on few samples and scaled
N_PANDAS = 2_000

TZ = ZoneInfo("America/New_York")
OPEN, CLOSE = time(9), time(17)
BUSINESS_DAY = timedelta(hours=8)


def make_calendar() -> Calendar:
    return Calendar.build(
        "America/New_York",
        {d: [(OPEN, CLOSE)] for d in range(5)},
        holiday_country="US",
        years=range(2025, 2029),
    )


def make_samples(n: int, rng: random.Random) -> list[tuple[datetime, timedelta]]:
    """Random aware starts in 2026 (any time of day/week) and durations of 15 min to 3 business days."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for _ in range(n):
        start = (base + timedelta(seconds=rng.randrange(365 * 86_400))).astimezone(TZ)
        duration = timedelta(minutes=rng.randrange(15, 3 * 8 * 60 + 1))
        out.append((start, duration))
    return out


# ---------------------------------------------------------------------------
# Baselines. Deliberately minimal: they hard-code one opening per weekday and
# ignore DST gaps (harmless for 09:00-17:00), i.e. they do less than the product.


def raw_day_jumping_add(start: datetime, duration: timedelta, closed: frozenset[date]) -> datetime:
    cur = start.astimezone(TZ)
    remaining = duration
    day = cur.date()
    while True:
        if day.weekday() < 5 and day not in closed:
            opening = datetime.combine(day, OPEN, TZ)
            closing = datetime.combine(day, CLOSE, TZ)
            if cur < closing:
                if cur < opening:
                    cur = opening
                available = closing - cur
                if remaining <= available:
                    return cur + remaining
                remaining -= available
        day += timedelta(days=1)
        cur = datetime.combine(day, time(0), TZ)


def minute_stepping_add(start: datetime, duration: timedelta, closed: frozenset[date]) -> datetime:
    step = timedelta(minutes=1)
    t = start.astimezone(TZ).replace(second=0, microsecond=0)
    minutes = duration // step
    while True:
        local = t.astimezone(TZ)
        if local.weekday() < 5 and local.date() not in closed and OPEN <= local.time() < CLOSE:
            minutes -= 1
            if minutes == 0:
                return t + step
        t += step


def calls_per_second(fn, samples) -> float:
    t0 = _time.perf_counter()
    for start, duration in samples:
        fn(start, duration)
    return len(samples) / (_time.perf_counter() - t0)


def main(quick: bool = False) -> None:
    scale = 10 if quick else 1
    rng = random.Random(SEED)
    cal = make_calendar()
    closed = cal.closed
    samples = make_samples(N_PRODUCT // scale, rng)

    # Warm the calendar's lazily built open-time cache (a one-off per process).
    t0 = _time.perf_counter()
    add(samples[0][0], samples[0][1], cal)
    warm_ms = (_time.perf_counter() - t0) * 1000
    for start, duration in samples[:1000]:
        add(start, duration, cal)

    # The raw loop and the product must agree, otherwise the comparison is meaningless.
    mismatches = sum(
        add(s, d, cal) != raw_day_jumping_add(s, d, closed) for s, d in samples[: 5000 // scale]
    )
    mismatches += sum(
        add(s, d, cal) != minute_stepping_add(s, d, closed)
        for s, d in samples[:20]
        if s.second == 0 and s.microsecond == 0
    )

    rows: list[tuple[str, float | None, str]] = []
    product = calls_per_second(lambda s, d: add(s, d, cal), samples)
    rows.append(("businesstime.add (product)", product, ""))
    raw = calls_per_second(lambda s, d: raw_day_jumping_add(s, d, closed), samples[: N_RAW // scale])
    rows.append(("raw day-jumping loop", raw, ""))
    minute_samples = samples[: N_MINUTE // scale]
    minute = calls_per_second(lambda s, d: minute_stepping_add(s, d, closed), minute_samples)
    rows.append(("minute stepping", minute, f"{len(minute_samples)} samples"))

    try:
        import pandas as pd
    except ImportError:
        rows.append(("pandas CustomBusinessHour", None, "skipped: pandas not installed"))
    else:
        hol = sorted(closed)
        pandas_samples = samples[: N_PANDAS // scale]
        offsets: dict[int, object] = {}

        def pandas_add(s, d):
            # CustomBusinessHour only moves whole hours and works on naive wall time,
            # so durations are rounded to hours; offsets are built once per n.
            n = max(1, round(d / timedelta(hours=1)))
            off = offsets.get(n)
            if off is None:
                off = offsets[n] = pd.offsets.CustomBusinessHour(
                    n=n, start="09:00", end="17:00", holidays=hol
                )
            return pd.Timestamp(s.replace(tzinfo=None)) + off

        rate = calls_per_second(pandas_add, pandas_samples)
        rows.append(("pandas CustomBusinessHour", rate, f"{len(pandas_samples)} samples, whole hours"))

    pairs = [(s, add(s, d, cal)) for s, d in samples]
    t0 = _time.perf_counter()
    for a, b in pairs:
        between(a, b, cal)
    between_rate = len(pairs) / (_time.perf_counter() - t0)

    print(f"Mon-Fri 09:00-17:00 America/New_York + US holidays; {len(samples):,} random starts in 2026,")
    print("durations 15 min .. 3 business days; single core.\n")
    print(f"{'method':<30} {'calls/s':>12} {'product / method':>17}  note")
    print("-" * 78)
    for name, rate, note in rows:
        if rate is None:
            print(f"{name:<30} {'-':>12} {'-':>17}  {note}")
        else:
            print(f"{name:<30} {rate:>12,.0f} {product / rate:>16,.1f}x  {note}")
    print("-" * 78)
    print(f"{'businesstime.between':<30} {between_rate:>12,.0f}")
    print(f"\nfirst call (builds the open-time cache): {warm_ms:.2f} ms; "
          f"mismatches vs raw/minute baselines: {mismatches}")
    target = 100_000
    print(f"target >= {target:,} add calls/s: {'met' if product >= target else 'NOT met'}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
