"""Benchmark: case indicators (考核指标) over 1,000,000 cases on PostgreSQL, beside the raw
SQL aggregate.

    .venv/bin/python bench/case_indicators.py [--rows 1000000] [--repeat 5] [--reuse] [--drop]

A scratch database gets the county's area tree (2 streets, 26 communities, 96 zones,
270 grids, written directly), the shipped categories (by migration) and three accounts
(the county administrator, a community's staff, a grid's worker). ``--rows`` cases are
then generated inside the database by one ``INSERT … SELECT`` over ``generate_series``:
received over the last year, 85 % closed, verdicts, rework, reopening, escalation levels,
duplicates and handling minutes drawn by ``random()``.

For each indicator table — the year overall, per grid, per community, per category, per
month, month over month, and the year for one grid's worker (scoped) — the ORM function
of ``jiayuan.cases.indicators`` is timed beside a hand-written SQL aggregate computing
the same counts with ``COUNT(*) FILTER (WHERE …)`` through psycopg, and the two are
checked to give the same numbers. Medians of ``--repeat`` runs, warm cache.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup

DATABASE = "bench_jiayuan_case_indicators"
STATUSES = [  # (status, cumulative share)
    ("closed", 0.85), ("replied", 0.88), ("handled", 0.90), ("in_progress", 0.94),
    ("accepted", 0.95), ("dispatched", 0.97), ("rejected", 0.985), ("merged", 1.0),
]  # fmt: skip
COUNT_SQL = """
    count(*) AS received,
    count(*) FILTER (WHERE dispatched_on_time IS NOT NULL) AS dispatched,
    count(*) FILTER (WHERE dispatched_on_time) AS dispatched_on_time,
    count(*) FILTER (WHERE status IN ('replied', 'closed')) AS answered,
    count(*) FILTER (WHERE status IN ('replied', 'closed') AND closed_on_time) AS answered_on_time,
    count(*) FILTER (WHERE status = 'closed') AS closed,
    count(*) FILTER (WHERE handled_at IS NOT NULL) AS handled,
    count(*) FILTER (WHERE handled_at IS NOT NULL AND rework_count > 0) AS reworked,
    count(*) FILTER (WHERE status = 'merged' OR duplicate_of_hint <> '[]'::jsonb) AS duplicates,
    count(*) FILTER (WHERE status = 'closed' AND rework_count = 0 AND reopen_count = 0)
        AS first_time,
    count(handling_minutes) AS timed,
    sum(handling_minutes) AS handling_minutes,
    count(*) FILTER (WHERE status = 'closed' AND closed_level = 'grid') AS closed_in_grid,
    count(*) FILTER (WHERE status = 'closed' AND closed_level IN ('grid', 'zone', 'community'))
        AS closed_in_network
"""
VISIT_SQL = """
    count(*) AS rated,
    count(*) FILTER (WHERE v.satisfaction IN ('satisfied', 'basic')) AS satisfied
"""


# --- the world -------------------------------------------------------------------------------
def build_areas() -> None:
    """The county tree with the demo county's figures; no boundaries (not needed here)."""
    from jiayuan.org.models import Area

    county = Area(kind="county", code="370830", name="汶上县", path="370830/", depth=0)
    county.area_path = county.path
    Area.objects.bulk_create([county])
    streets, communities, zones = [], [], []
    for s, count in enumerate((14, 12), start=1):
        street = _child(county, "street", s, f"第{s}街道")
        streets.append(street)
        communities += [
            _child(street, "community", c, f"第{s}-{c}社区") for c in range(1, count + 1)
        ]
    Area.objects.bulk_create(streets)
    Area.objects.bulk_create(communities)
    for i in range(96):
        community = communities[i % len(communities)]
        zones.append(_child(community, "zone", i // len(communities) + 1, f"小区{i + 1}"))
    Area.objects.bulk_create(zones)
    grids = [
        _child(zones[i % len(zones)], "grid", i // len(zones) + 1, f"第{i + 1}网格")
        for i in range(270)
    ]
    Area.objects.bulk_create(grids)


def _child(parent: Any, kind: str, number: int, name: str) -> Any:
    from jiayuan.org.models import Area

    width = {"street": 3, "community": 3, "zone": 2, "grid": 2}[kind]
    code = f"{number:0{width}d}"
    area = Area(kind=kind, code=code, name=name, parent=parent, path=f"{parent.path}{code}/",
                depth=parent.depth + 1)  # fmt: skip
    area.area_path = area.path
    return area


def build_accounts() -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from jiayuan.org.models import Area, Membership

    user_model = get_user_model()
    places = {
        "admin": ("county_admin", Area.objects.get(kind="county")),
        "community": ("community_staff", Area.objects.filter(kind="community").order_by("path")[0]),
        "grid": ("grid_worker", Area.objects.filter(kind="grid").order_by("path")[0]),
    }
    users = {}
    for name, (role, area) in places.items():
        user = user_model.objects.create_user(username=name)
        Membership.objects.create(user=user, area=area, role=role)
        users[name] = user
    return users


def generate_cases(rows: int) -> float:
    """Insert ``rows`` cases with one statement; returns the seconds it took."""
    from django.db import connection

    status_case = "CASE " + " ".join(
        f"WHEN s.r_status < {share} THEN '{status}'" for status, share in STATUSES
    ) + " END"  # fmt: skip
    sql = f"""
    WITH g AS (SELECT row_number() OVER (ORDER BY id) AS rn, id, path
               FROM org_area WHERE kind = 'grid'),
         c AS (SELECT row_number() OVER (ORDER BY id) AS rn, id
               FROM cases_category WHERE parent_id IS NOT NULL OR code IN ('05', '09', '10')),
         s AS (SELECT i,
                      1 + floor(random() * (SELECT count(*) FROM g))::int AS grn,
                      1 + floor(random() * (SELECT count(*) FROM c))::int AS crn,
                      random() AS r_status, random() AS r1, random() AS r2, random() AS r3,
                      random() AS r4,
                      now() - random() * interval '365 days' AS received
               FROM generate_series(1, %s) AS i),
         t AS (SELECT s.*, {status_case} AS status FROM s)
    INSERT INTO cases_case (
        area_path, created_at, updated_at, number, channel, category_id, title, description,
        status, priority, level, address, grid_id, owner_area_id, reporter_name,
        reporter_phone_enc, reporter_phone_index, reporter_phone_masked, anonymous, red_proxy,
        escalated_help, received_at, dispatched_at, handled_at, replied_at, closed_at,
        stage_started_at, delay_minutes, delay_requested_minutes, escalations, rework_count,
        reopen_count, transfer_count, dispatched_on_time, closed_on_time, closed_level,
        handling_minutes, satisfaction, result, public_note, duplicate_of_hint, source_ref,
        tracking_token, attributes, version)
    SELECT g.path, now(), now(), 'B' || lpad(t.i::text, 10, '0'),
        (ARRAY['hotline', 'patrol', 'snapshot', 'wechat', 'door'])[1 + floor(t.r1 * 5)::int],
        c.id, '基准诉求', '基准测试生成的诉求', t.status, 'normal', 'grid', '', g.id, g.id, '',
        '', '', '', false, false, t.r2 > 0.95, t.received,
        CASE WHEN t.status <> 'received' THEN t.received + interval '20 minutes' END,
        CASE WHEN t.status IN ('handled', 'replied', 'closed') THEN t.received + interval '1 day' END,
        CASE WHEN t.status IN ('replied', 'closed') THEN t.received + interval '2 days' END,
        CASE WHEN t.status IN ('closed', 'rejected', 'merged') THEN t.received + interval '3 days' END,
        t.received, 0, 0, 0, (t.r2 < 0.08)::int, (t.r3 < 0.03)::int, 0, t.r4 < 0.95,
        CASE WHEN t.status IN ('replied', 'closed') THEN t.r2 < 0.9 END,
        CASE WHEN t.status = 'closed' THEN CASE WHEN t.r1 < 0.7 THEN 'grid'
            WHEN t.r1 < 0.82 THEN 'zone' WHEN t.r1 < 0.94 THEN 'community'
            WHEN t.r1 < 0.97 THEN 'street' ELSE 'department' END ELSE '' END,
        CASE WHEN t.status IN ('replied', 'closed') THEN round((30 + t.r3 * 3000)::numeric, 2) END,
        CASE WHEN t.status = 'closed' THEN CASE WHEN t.r4 < 0.86 THEN 'satisfied' ELSE 'basic' END
             WHEN t.status = 'in_progress' AND t.r4 < 0.1 THEN 'unsatisfied' ELSE '' END,
        '', '', CASE WHEN t.r3 > 0.97 THEN '["WS20260101-0001"]'::jsonb ELSE '[]'::jsonb END,
        '', md5(t.i::text), '{{}}'::jsonb, 1
    FROM t JOIN g ON g.rn = t.grn JOIN c ON c.rn = t.crn
    """  # noqa: E501
    visits = """
    INSERT INTO cases_returnvisit (case_id, at, "by", satisfaction, comment, visitor_id)
    SELECT id, COALESCE(closed_at, replied_at, received_at), 'phone', satisfaction, '',
           NULL::integer
    FROM cases_case WHERE satisfaction <> ''
    UNION ALL
    SELECT id, replied_at, 'phone', 'unsatisfied', '', NULL::integer
    FROM cases_case WHERE status = 'closed' AND reopen_count > 0
    """
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(sql, [rows])
        cur.execute(visits)
        cur.execute("ANALYZE cases_case")
        cur.execute("ANALYZE cases_returnvisit")
    return time.perf_counter() - started


# --- the raw SQL -----------------------------------------------------------------------------
def raw(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def raw_tables(start: dt.datetime, end: dt.datetime, month: dt.datetime) -> dict[str, Any]:
    """The hand-written aggregates, one per table, each returning {key: counts}."""
    where = "c.area_path LIKE %s AND c.received_at >= %s AND c.received_at < %s"

    def grouped(key: str, joins: str = "", scope: str = "370830/") -> Callable[[], Any]:
        cases = f"SELECT {key} AS k, {COUNT_SQL} FROM cases_case c {joins} WHERE {where} GROUP BY 1"
        visits = (
            f"SELECT {key} AS k, {VISIT_SQL} FROM cases_returnvisit v "
            f"JOIN cases_case c ON c.id = v.case_id {joins} WHERE {where} GROUP BY 1"
        )

        def run() -> dict[Any, tuple[Any, ...]]:
            params = [scope + "%", start, end]
            rated = {row[0]: row[1:] for row in raw(visits, params)}
            return {row[0]: (*row[1:], *rated.get(row[0], (0, 0))) for row in raw(cases, params)}

        return run

    prev = (month - dt.timedelta(days=1)).replace(day=1)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    top = "COALESCE(pp.code, p.code, k.code)"
    categories = (
        "JOIN cases_category k ON k.id = c.category_id "
        "LEFT JOIN cases_category p ON p.id = k.parent_id "
        "LEFT JOIN cases_category pp ON pp.id = p.parent_id"
    )
    mom_sql = (
        f"SELECT {top}, count(*) FILTER (WHERE c.received_at >= %s), "
        f"count(*) FILTER (WHERE c.received_at < %s) FROM cases_case c {categories} "
        f"WHERE {where} GROUP BY 1"
    )
    grid_path = raw("SELECT path FROM org_area WHERE kind = 'grid' ORDER BY path LIMIT 1", [])[0][0]
    return {
        "year": grouped("'all'"),
        "per grid": grouped("g.path", "JOIN org_area g ON g.id = c.grid_id"),
        "per community": grouped("left(g.path, 15)", "JOIN org_area g ON g.id = c.grid_id"),
        "per category": grouped(top, categories),
        "per month": grouped("date_trunc('month', c.received_at AT TIME ZONE 'Asia/Shanghai')"),
        "month over month": lambda: {
            row[0]: row[1:] for row in raw(mom_sql, [month, month, "370830/%", prev, following])
        },
        "one grid (scoped)": grouped("'all'", scope=grid_path),
    }


def orm_tables(
    users: dict[str, Any], start: dt.date, end: dt.date, month: dt.date
) -> dict[str, Any]:
    from jiayuan.cases import indicators as ind

    admin = users["admin"]

    def counts(rows: list[Any]) -> dict[Any, tuple[Any, ...]]:
        return {r.key: tuple(getattr(r, k) for k in ind.COUNT_KEYS) for r in rows if r.received}

    return {
        "year": lambda: counts([ind.summary(admin, start=start, end=end)]),
        "per grid": lambda: counts(ind.by_area(admin, kind="grid", start=start, end=end)),
        "per community": lambda: counts(ind.by_area(admin, kind="community", start=start, end=end)),
        "per category": lambda: counts(ind.by_category(admin, start=start, end=end)),
        "per month": lambda: counts(ind.by_month(admin, start=start, end=end)),
        "month over month": lambda: {
            c.code: (c.current, c.previous) for c in ind.month_over_month(admin, month)
        },
        "one grid (scoped)": lambda: counts([ind.summary(users["grid"], start=start, end=end)]),
    }


def same(orm: dict[Any, tuple[Any, ...]], sql: dict[Any, tuple[Any, ...]]) -> bool:
    def norm(table: dict[Any, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return sorted(
            tuple(round(float(v or 0), 2) for v in values) for values in table.values() if values[0]
        )

    return norm(orm) == norm(sql)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    fn()  # warm
    samples = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = parser.parse_args()
    fresh = not (args.reuse and _setup.postgres_exists(DATABASE))
    url = _setup.recreate_postgres(DATABASE) if fresh else f"{_setup.PG_SERVER}/{DATABASE}"
    _setup.setup_django(url)
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    print(f"# case indicators — {_setup.machine()}")
    if fresh:
        _setup.migrate()
        build_areas()
        build_accounts()
        seconds = generate_cases(args.rows)
        print(f"generated {args.rows:,} cases in {seconds:.1f} s (INSERT … SELECT)")
    from django.db import connection

    from jiayuan.cases.models import Case

    with connection.cursor() as cur:
        cur.execute("ANALYZE")  # as autovacuum would have by now
    total = Case.objects.count()
    users = {u.username: u for u in get_user_model().objects.all()}
    today = timezone.localdate()
    start, end = today - dt.timedelta(days=366), today + dt.timedelta(days=1)
    month = today.replace(day=1)
    tz = timezone.get_default_timezone()
    aware = {d: dt.datetime.combine(d, dt.time(), tzinfo=tz) for d in (start, end, month)}
    orm = orm_tables(users, start, end, month)
    sql = raw_tables(aware[start], aware[end], aware[month])
    print(f"{total:,} cases in the database; median of {args.repeat} runs, warm\n")
    print(f"{'table':<20}{'groups':>8}{'indicators ms':>16}{'raw SQL ms':>13}{'ratio':>8}  same")
    for name in orm:
        orm_ms, orm_result = timed(orm[name], args.repeat)
        sql_ms, sql_result = timed(sql[name], args.repeat)
        ok = same(orm_result, sql_result)
        print(f"{name:<20}{len(orm_result):>8}{orm_ms:>16.0f}{sql_ms:>13.0f}"
              f"{orm_ms / sql_ms:>8.2f}  {'yes' if ok else 'NO'}")  # fmt: skip
    from jiayuan.cases import indicators as ind

    started = time.perf_counter()
    data = ind.export_xlsx(users["admin"], start=start, end=end)
    print(f"\nExcel export (all tables, the year): {(time.perf_counter() - started):.1f} s, "
          f"{len(data) / 1024:.0f} KiB")  # fmt: skip
    if args.drop:
        from django.db import connections

        connections.close_all()
        _setup.drop_postgres(DATABASE)


if __name__ == "__main__":
    main()
