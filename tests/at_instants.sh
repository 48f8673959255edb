#!/usr/bin/env bash
# Run the clock-sensitive tests (SLA, pages, API) once at each of several instants, so that no test passes only by
# the hour it happens to run at. Each test starts at the instant (HANDOFF_TEST_NOW, see tests/conftest.py) and the
# clock ticks on from there; a test that needs a particular time pins it itself.
#
#   tests/at_instants.sh                      the instants CI runs (INSTANTS below)
#   tests/at_instants.sh --all                those and EXTRA_INSTANTS
#   tests/at_instants.sh 2026-03-09T09:50Z    only the given instants (ISO 8601 with an offset, or "local[Zone]")
#   PYTEST_ARGS=-x tests/at_instants.sh       extra pytest arguments (make test-instants PYTEST_ARGS=-x)
#   INSTANT_JOBS=1 tests/at_instants.sh       one instant at a time (default: as many at once as there are CPUs)
#
# Each instant runs in its own pytest process and VAR_DIR; their outputs are printed in the order below, each ending
# with "---- <instant>: exit S in T s", then a last summary line "instants: N run, F failed, T s". Exits 1 when any
# instant failed.
set -uo pipefail

cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
PATHS=(tests/sla tests/views tests/api)

# The instants CI runs: the hour of a short deadline, the edge of a weekend in another zone, both DST changes the
# demo's zones meet, and a public holiday. EXTRA_INSTANTS below are for a run by hand (tests/at_instants.sh --all).
INSTANTS=(
    "2026-03-09T09:50:00+00:00"             # Monday 09:50 UTC: 10 min to the hour, 10 min before a 15-min deadline
    "2026-03-13T16:59[America/New_York]"    # Friday 16:59 New York: a minute before the weekend
    "2026-03-08T07:30:00+00:00"             # New York, 03:30 EDT: the hour after the spring-forward gap
    "2026-03-29T01:30:00+00:00"             # Berlin, 03:30 CEST on the spring-forward day
    "2026-12-25T10:00:00+00:00"             # Christmas Day (a Friday), a public holiday in the US and Germany
    "2026-12-31T23:59:30+00:00"             # New Year's Eve, half a minute before the year turns
)
EXTRA_INSTANTS=(
    "2026-03-09T00:00:30+00:00"             # Monday just after midnight UTC, Sunday evening in New York
    "2026-03-11T22:30:00+00:00"             # Wednesday evening: closed in UTC, Berlin and New York (18:30 EDT)
    "2026-03-14T12:00:00+00:00"             # Saturday noon UTC
    "2026-03-15T23:59:30+00:00"             # Sunday 23:59:30 UTC: half a minute before the week turns
    "2026-03-08T06:59:00+00:00"             # New York, 01:59 EST: a minute before clocks spring forward
    "2026-11-01T05:30:00+00:00"             # New York, 01:30 EDT: the hour that repeats on the fall-back day
    "2026-07-03T10:00[America/New_York]"    # Friday 3 July 2026: Independence Day observed in the US
    "2027-06-14T14:00:00+00:00"             # a Monday afternoon over a year after the dates the tests pin
)
if [ "${1:-}" = "--all" ]; then
    shift
    INSTANTS+=("${EXTRA_INSTANTS[@]}")
fi
[ $# -gt 0 ] && INSTANTS=("$@")

read -r -a extra <<<"${PYTEST_ARGS:-}"
JOBS=${INSTANT_JOBS:-$(nproc 2>/dev/null || echo 1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_one() {  # run_one <n> <instant>: pytest at that instant, output in $work/<n>.log, exit status in $work/<n>.rc
    local n=$1 instant=$2 began=$SECONDS status=0
    mkdir -p "$work/var-$n"
    VAR_DIR="$work/var-$n" HANDOFF_TEST_NOW=$instant \
        "$PYTEST" -q -p no:cacheprovider "${extra[@]}" "${PATHS[@]}" >"$work/$n.log" 2>&1 </dev/null || status=$?
    printf -- '---- %s: exit %d in %d s\n' "$instant" "$status" "$((SECONDS - began))" >>"$work/$n.log"
    echo "$status" >"$work/$n.rc.tmp" && mv "$work/$n.rc.tmp" "$work/$n.rc"
}

started=$SECONDS
(
    for n in "${!INSTANTS[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
        run_one "$n" "${INSTANTS[$n]}" &
    done
    wait
) &
launcher=$!

failed=()
for n in "${!INSTANTS[@]}"; do
    until [ -e "$work/$n.rc" ] || ! kill -0 "$launcher" 2>/dev/null; do sleep 1; done
    printf '\n---- HANDOFF_TEST_NOW=%s\n' "${INSTANTS[$n]}"
    cat "$work/$n.log" 2>/dev/null
    status=$(cat "$work/$n.rc" 2>/dev/null || echo "none: the run did not finish")
    [ "$status" = 0 ] || failed+=("${INSTANTS[$n]} (exit $status)")
done
wait "$launcher"

printf '\n'
for instant in "${failed[@]}"; do echo "FAILED at $instant"; done
echo "instants: ${#INSTANTS[@]} run, ${#failed[@]} failed, $((SECONDS - started)) s"
[ ${#failed[@]} -eq 0 ]
