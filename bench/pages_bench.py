"""Time to first byte of every page a person uses, with 200,000 leads and a rep owning 2,000 handoffs, on PostgreSQL.

Each page is asked `--requests` times in a row (after two warm-up requests) through gunicorn, signed in as its reader,
and timed from sending the request to receiving the status line and headers; every figure is printed beside a
trivial JsonResponse view served by the same server in the same run (the machine is shared: ratios hold, absolute
times do not). Run by hand:

  .venv/bin/python bench/pages_bench.py                   # load once into handoff_bench_pages (kept), then measure
  .venv/bin/python bench/pages_bench.py --drop            # drop the database and load it again

The data is bench/read_path_bench.py's generator at a fifth of its size: 200,000 leads, each with one handoff (in
every state: 3 in 19 qualified, 7 accepted, 1 rejected, 1 disputed …) and its accept clock (1 in 10 breached), a
first-touch clock once accepted, a qualify event; a team of 5 reps under one manager, each owning 2,000 of them;
1 lead in 1,000 in the queue; 95 other reps in 19 teams own the rest.
"""
from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import read_path_bench as data  # noqa: E402  (its generator and server, at a fifth of the size)

data.LEADS = 200_000
data.TEAM_SIZE = 5
data.OTHER_REPS = 95


def pages(people: dict) -> list[tuple[str, str, str]]:
    """(label, path, cookie) of each page, as its reader."""
    from handoff.models import Handoff, Lead

    cookie = {who: data._session_cookie(people[who]) for who in ("rep", "manager", "marketer")}
    lead = Lead.objects.filter(owner=people["rep"]).order_by("-id").values_list("pk", flat=True).first()
    handoff = Handoff.objects.filter(owner=people["rep"], state="qualified").values_list("pk", flat=True).first()
    return [
        ("trivial JsonResponse (yardstick)", "/bench/trivial/", ""),
        ("rep: My handoffs (to do)", "/my-handoffs/", cookie["rep"]),
        ("rep: My handoffs, all open", "/my-handoffs/?state=open", cookie["rep"]),
        ("rep: My handoffs, everything", "/my-handoffs/?state=all", cookie["rep"]),
        ("rep: My handoffs, breached", "/my-handoffs/?state=all&breached=yes", cookie["rep"]),
        ("rep: My handoffs, search 'ada1'", "/my-handoffs/?state=all&q=ada1", cookie["rep"]),
        ("rep: My handoffs, by score", "/my-handoffs/?state=all&sort=score", cookie["rep"]),
        ("rep: a lead's page", f"/leads/{lead}/", cookie["rep"]),
        ("rep: reject form page", f"/handoffs/{handoff}/reject/", cookie["rep"]),
        ("rep: feedback to give", "/feedback/", cookie["rep"]),
        ("manager: team page", "/team/", cookie["manager"]),
        ("manager: team, breached", "/team/?breached=yes", cookie["manager"]),
        ("manager: team, queue", "/team/?rep=queue", cookie["manager"]),
        ("manager: team, search", "/team/?q=ada1", cookie["manager"]),
        ("manager: disputes", "/disputes/", cookie["manager"]),
        ("marketer: leads to qualify", "/qualify/", cookie["marketer"]),
        ("marketer: leads to qualify, search", "/qualify/?q=company+42", cookie["marketer"]),
        ("marketer: rejected", "/rejected/", cookie["marketer"]),
        ("marketer: my MQLs", "/mqls/", cookie["marketer"]),
    ]


def ttfb(port: int, path: str, cookie: str) -> tuple[int, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    took = time.perf_counter() - started
    response.read()
    connection.close()
    return response.status, took * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/handoff_bench_pages")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--drop", action="store_true", help="drop the database and load it again")
    args = parser.parse_args()

    data._setup(args.database_url, drop=args.drop)
    people = data.load_people()
    data.load_leads(people, datetime.now(UTC))
    data.load_handoffs(data.LEADS)
    from handoff.models import Handoff

    print(f"data: {data.LEADS:,} leads, {Handoff.objects.count():,} handoffs, "
          f"rep000 owns {Handoff.objects.filter(owner=people['rep']).count():,}", flush=True)
    targets = pages(people)
    server = data.Server(args.database_url)
    try:
        rows = []
        for label, path, cookie in targets:
            for _ in range(2):
                status, _took = ttfb(server.port, path, cookie)
            times = sorted(ttfb(server.port, path, cookie)[1] for _ in range(args.requests))
            rows.append((label, path, status, statistics.median(times), times[int(len(times) * 0.9) - 1]))
    finally:
        server.stop()
    base = rows[0][3]
    print(f"\n{'page':38} {'status':>6} {'median ms':>10} {'p90 ms':>8} {'× trivial':>10}")
    for label, _path, status, median, p90 in rows:
        print(f"{label:38} {status:>6} {median:>10.1f} {p90:>8.1f} {median / base:>10.1f}")
    print(f"\nTTFB over {args.requests} sequential requests each, gunicorn 2 sync workers, same run; target ≤ 150 ms.")


if __name__ == "__main__":
    main()
