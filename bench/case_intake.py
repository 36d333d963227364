"""Benchmark: case intake + routing + dispatch per request over the HTTP API at county
scale, beside the raw INSERT of the same row.

    .venv/bin/python bench/case_intake.py [--requests 1000] [--threads 4] [--web-workers 2]
                                          [--reseed] [--drop]

A PostgreSQL database holds the demo county (``seed_demo("county")``: 270 grids, 150,000
residents, a handler account per grid, zone, community and street, and a year of about
30,000 cases); it is seeded once and kept (``--reseed`` starts over). A real
``jiayuan serve`` (gunicorn, ``--web-workers`` processes × 4 threads, DEBUG off) serves
it on a loopback port. Two passes: one client (the latency of a request alone), then
``--threads`` client threads, each on its own keep-alive connection (latency under
load and throughput). Clients send ``POST /api/v1/cases`` as the county administrator
(a 12345 hotline order: category, description, a point anywhere in the county, caller
and phone); each request validates, locates the point in its grid, numbers the case, looks for
duplicates, writes the case, its timeline and audit entry, finds the handler of the
category's level and dispatches to them with a notification. Per-request latency
percentiles are measured at the client.

The baseline, measured in the same run with the same number of threads: the raw
``INSERT`` of the same case row (copied from one the API wrote, new number and token)
through psycopg, one transaction per row. Budgets (issue 10): p99 < 20 ms with one
client, < 50 ms with four, at most 12 queries per intake — counted in this process
through Django's test client on the same database and listed. The load average at the
start of each pass is printed beside it: the machine may be shared.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup

DATABASE = "bench_jiayuan_cases"
CATEGORIES = ("0201", "0202", "0103", "0104", "0303", "0401", "0402", "0601", "0602", "09")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"jiayuan serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("jiayuan serve did not answer")


def payloads(n: int, rng: random.Random) -> list[bytes]:
    """Hotline orders at random points inside random grids of the county."""
    from shapely.geometry import Point, shape

    from jiayuan.org.models import Area

    grids = [shape(b) for b in Area.objects.filter(kind="grid").values_list("boundary", flat=True)]
    out = []
    for i in range(n):
        geom = rng.choice(grids)
        west, south, east, north = geom.bounds
        while True:
            lng, lat = rng.uniform(west, east), rng.uniform(south, north)
            if geom.contains(Point(lng, lat)):
                break
        body = {
            "category": rng.choice(CATEGORIES),
            "description": f"基准测试：来电反映问题第{i}号，请尽快处理",
            "lat": round(lat, 6),
            "lng": round(lng, 6),
            "reporter_name": "基准测试",
            "reporter_phone": f"139{rng.randrange(10**8):08d}",
        }
        out.append(json.dumps(body, ensure_ascii=False).encode())
    return out


def load(
    port: int, token: str, bodies: list[bytes], threads: int
) -> tuple[list[float], int, float]:
    """Send every body once from ``threads`` keep-alive connections; per-request ms."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    samples: list[float] = []
    errors = [0]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while True:
            with lock:
                if not queue:
                    break
                _i, body = queue.pop()
            started = time.perf_counter()
            conn.request("POST", "/api/v1/cases", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 201:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            samples.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return samples, errors[0], time.perf_counter() - started


def queries_per_intake(token: str, body: bytes) -> tuple[int, list[str]]:
    """The statements one intake sends, counted in this process through Django's test
    client on the same database (after one warming request: per-process caches full)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.post("/api/v1/cases", body, content_type="application/json")
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/cases", body, content_type="application/json")
    if response.status_code != 201:
        sys.exit(f"in-process intake answered {response.status_code}: {response.content!r}")
    return len(captured), [q["sql"][:100] for q in captured.captured_queries]


def raw_inserts(url: str, template_id: int, n: int, threads: int) -> tuple[list[float], float]:
    """INSERT copies of one case row the API wrote, one transaction each, via psycopg."""
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(url) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'cases_case' AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        row = conn.execute(
            f"SELECT {', '.join(columns)} FROM cases_case WHERE id = %s", [template_id]
        ).fetchone()
    if row is None:
        sys.exit(f"case {template_id} not found")
    template = dict(zip(columns, row, strict=True))
    sql = (
        f"INSERT INTO cases_case ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    )
    counter = iter(range(n))
    lock = threading.Lock()
    samples: list[float] = []

    def worker() -> None:
        mine = []
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                values = dict(template, number=f"RAW{os.getpid()}-{i:07d}",
                              tracking_token=f"raw{os.getpid()}x{i:07d}")  # fmt: skip
                for key in ("duplicate_of_hint", "attributes"):
                    values[key] = Jsonb(values[key])
                started = time.perf_counter()
                conn.execute(sql, list(values.values()))
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            samples.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM cases_case WHERE number LIKE 'RAW%%'")
    return samples, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per pass")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--reseed", action="store_true", help="seed the county again")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = parser.parse_args()
    fresh = args.reseed or not _setup.postgres_exists(DATABASE)
    url = _setup.recreate_postgres(DATABASE) if fresh else f"{_setup.PG_SERVER}/{DATABASE}"
    _setup.setup_django(url)
    from django.contrib.auth import get_user_model

    from jiayuan.cases.models import Case
    from jiayuan.core.models import ApiToken
    from jiayuan.demo.seed import seed_demo
    from jiayuan.org.models import Area

    print(f"# case intake over the API — {_setup.machine()}")
    _setup.migrate()
    if not Area.objects.exists():
        with _setup.stopwatch() as took:
            counts = seed_demo("county", 7, progress=False)
        print(f"seeded the county: {counts['residents']:,} residents, {counts['cases']:,} cases "
              f"in {took['wall']:.0f} s ({counts['case_seconds']})")  # fmt: skip
    before = Case.objects.count()
    print(f"{Area.objects.filter(kind='grid').count()} grids, {before:,} cases before the run")
    admin = get_user_model().objects.get(username="admin")
    token, _row = ApiToken.issue(admin, lifetime_days=1)
    rng = random.Random(11)
    passes = sorted({1, args.threads})
    bodies = payloads(50 + args.requests * len(passes), rng)
    from django.db import connections

    connections.close_all()
    port = free_port()
    env = {**os.environ, "JIAYUAN_DATABASE_URL": url, "JIAYUAN_DEBUG": "0",
           "JIAYUAN_LOG_LEVEL": "WARNING"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "jiayuan.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--web-workers", str(args.web_workers), "--no-worker"],
        env=env, cwd=_setup.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results = {}
    loads = {}
    try:
        wait_for(port, server)
        load(port, token, bodies[:50], args.threads)  # warm the workers (locate index, caches)
        for n, threads in enumerate(passes):
            chunk = bodies[50 + n * args.requests : 50 + (n + 1) * args.requests]
            loads[threads] = os.getloadavg()[0]
            results[threads] = load(port, token, chunk, threads)
    finally:
        server.terminate()
        server.wait(timeout=30)
    made = Case.objects.filter(pk__gt=0).order_by("-pk").first()
    if made is None:
        sys.exit("the API wrote no case")
    dispatched = Case.objects.filter(
        description__startswith="基准测试", handler_user__isnull=False
    ).count()
    print(f"\n{args.requests} requests per pass; {args.web_workers} web workers × 4 threads; "
          f"the {dispatched:,} cases the bench filed so far went to their handlers")  # fmt: skip
    count, statements = queries_per_intake(token, bodies[0])
    control = sum(1 for sql in statements if sql in ("BEGIN", "COMMIT"))
    print(f"queries per intake (in-process, PostgreSQL, caches warm): {count - control} "
          f"and {control} transaction statements (budget 12)")  # fmt: skip
    for i, sql in enumerate(statements, 1):
        print(f"  {i:>2}. {sql}")
    print(f"{'':<34}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'req/s':>9}")
    for threads in passes:
        samples, errors, elapsed = results[threads]
        api = _setup.percentiles(samples)
        raw_samples, raw_elapsed = raw_inserts(url, made.pk, args.requests, threads)
        base = _setup.percentiles(raw_samples)
        label = f"{threads} client thread{'s' if threads > 1 else ''}"
        print(f"{'POST /api/v1/cases, ' + label:<34}{api['p50']:>9.1f}{api['p99']:>9.1f}"
              f"{api['mean']:>9.1f}{len(samples) / elapsed:>9.0f}   {errors} errors, "
              f"load {loads[threads]:.1f}")  # fmt: skip
        print(f"{'raw INSERT (psycopg), ' + label:<34}{base['p50']:>9.1f}{base['p99']:>9.1f}"
              f"{base['mean']:>9.1f}{len(raw_samples) / raw_elapsed:>9.0f}")  # fmt: skip
        budget = 20 if threads == 1 else 50
        print(f"{'':<34}ratio p50 {api['p50'] / base['p50']:.0f}×, p99 "
              f"{api['p99'] / base['p99']:.0f}×, throughput "
              f"{(len(samples) / elapsed) / (len(raw_samples) / raw_elapsed):.0%} of the floor"
              f"  (budget: p99 < {budget} ms)")  # fmt: skip
    if args.drop:
        connections.close_all()
        _setup.drop_postgres(DATABASE)


if __name__ == "__main__":
    main()
