"""Benchmark: the one screen (一屏) at county scale — the page and its panels' JSON, beside
the raw SQL the panels need.

    .venv/bin/python bench/screen.py [--reps 15] [--roles admin,street] [--seed]

Reuses bench/crawl.py's county (``var/bench/county.sqlite3``: 270 grids, ~300,000
residents, 10,000 devices, a year of cases); it is seeded only with ``--seed`` when the
file is missing, never while it exists (another benchmark may be reading it).

For each account (the county administrator on the county's screen, the street leader on
their street's), in-process with Django's test client and ``DEBUG`` off: the page
``/command/screen/<id>/``, ``GET /api/v1/screen?area=<id>`` and its live part
(``&part=live``, what the page re-reads on each live event), one request to warm the
caches and then ``--reps`` timed, p50/p99 and the number of SQL queries. Beside them, the
floor: the SQL statements the panels ran (captured once) executed again directly on the
database cursor, the same number of times — what no Python above the database can go
under — and the anonymous ``/login/`` page (middleware, session, one template). The load
average is printed with the figures: on a shared machine it says how much of a figure is
the neighbours'. Budget: < 1 s (p99) for the page and the JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup
import crawl

BUDGET_MS = 1000.0
ROLES = ("admin", "street")


def timed(fn: Callable[[], Any], reps: int) -> dict[str, float]:
    fn()  # warm: caches, the calendar, the catalogue
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return _setup.percentiles(samples)


def row(label: str, stats: dict[str, float], queries: int | str = "") -> str:
    flag = "  OVER BUDGET" if stats["p99"] >= BUDGET_MS else ""
    return (
        f"  {label:<50} p50 {stats['p50']:8.1f} ms  p99 {stats['p99']:8.1f} ms"
        f"  {queries!s:>4} queries{flag}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed requests per URL")
    parser.add_argument("--roles", default=",".join(ROLES), help="comma-separated accounts")
    parser.add_argument("--seed", action="store_true", help="seed the county if it is missing")
    args = parser.parse_args()
    if not crawl.SQLITE_FILE.exists() and not args.seed:
        raise SystemExit(
            f"{crawl.SQLITE_FILE} is missing: run bench/crawl.py first, or this with --seed"
        )
    os.environ.setdefault("JIAYUAN_DEBUG", "0")
    _setup.setup_django(crawl.database("sqlite", False))
    import logging

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from jiayuan.command.screen import panels as screen_panels

    logging.getLogger("django.request").setLevel(logging.ERROR)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    _setup.migrate()

    print(f"# one screen at county scale — {_setup.machine()}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM people_person")
        persons = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM iot_device")
        devices = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM cases_case")
        cases = cursor.fetchone()[0]
    print(f"  database: {persons:,} persons, {devices:,} devices, {cases:,} cases (SQLite)")

    anonymous = Client()
    floor = timed(lambda: anonymous.get("/login/"), args.reps)
    print(row("floor: GET /login/ (anonymous)", floor))

    worst = 0.0
    for role in args.roles.split(","):
        user = get_user_model().objects.get(username=role)
        area = screen_panels.root_area(user)
        if area is None:
            print(f"{role}: no screen in scope")
            continue
        client = Client()
        if not client.login(username=role, password=settings.DEMO_PASSWORD):  # type: ignore[misc]
            raise SystemExit(f"cannot log in as {role!r} with the demo password")
        print(f"{role} — {area.name} ({area.get_kind_display()}, id {area.pk}):")
        for label, url in (
            ("page", f"/command/screen/{area.pk}/"),
            ("JSON", f"/api/v1/screen?area={area.pk}"),
            ("JSON live part", f"/api/v1/screen?area={area.pk}&part=live"),
        ):
            stats = timed(lambda c=client, u=url: c.get(u), args.reps)  # type: ignore[misc]
            with CaptureQueriesContext(connection) as ctx:  # after the warm-up: its caches
                status = client.get(url).status_code
            if status != 200:
                raise SystemExit(f"{url} answered {status}")
            worst = max(worst, stats["p99"])
            print(row(f"{label} {url}", stats, len(ctx.captured_queries)))

        # the floor: the panels' own SQL, run again straight on the cursor
        fresh = get_user_model().objects.get(username=role)
        with CaptureQueriesContext(connection) as ctx:
            screen_panels.panels(fresh, area)
        statements = [q["sql"] for q in ctx.captured_queries]

        def raw(sql: list[str] = statements) -> None:
            with connection.cursor() as cursor:
                for statement in sql:
                    cursor.execute(statement)
                    cursor.fetchall()

        print(row("raw SQL of the panels (cursor)", timed(raw, args.reps), len(statements)))
        slowest = []
        for statement in statements:
            started = time.perf_counter()
            raw([statement])
            slowest.append(((time.perf_counter() - started) * 1000, statement))
        for ms, statement in sorted(slowest, reverse=True)[:5]:
            print(f"      {ms:7.1f} ms  {statement[:110]}")
    verdict = "within" if worst < BUDGET_MS else "OVER"
    print(
        f"worst p99 {worst:.0f} ms: {verdict} the {BUDGET_MS:.0f} ms budget; "
        f"load average now {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
