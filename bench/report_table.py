"""Benchmark: a standard one-table report (一套表) over 1,000,000 residents on PostgreSQL.

    .venv/bin/python bench/report_table.py [--residents 1000000] [--runs 5] [--reuse] [--drop]

The county's area tree, households and a first batch of residents come from the demo
planner (``plan_world("bench", residents=…)``); the rest of the residents are cloned in
the database with ``INSERT … SELECT generate_series`` into the real ``people_person``
table (ages spread over 80 years, the households kept, so 户数 still means something).

Two standard forms are timed end to end through ``datahub.reports.query.run`` (spec
parsed, scope and filter applied, one SQL statement with GROUPING SETS, labels read, the
table with its 小计/合计 built) for the county administrator, each beside the same
counts by hand-written SQL sent by psycopg alone in the same run: the raw ``GROUP BY``
of the detail cells (the issue's baseline) and, for reference, the raw
``GROUPING SETS`` with the totals. Goal: < 2 s and ≤ 2× the raw ``GROUP BY``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup

DATABASE = "bench_report"
PLANNED = 20_000  # residents the demo planner writes; the rest are cloned in SQL
SPECS = {
    "人口年龄结构统计表": {"dataset": "persons", "rows": ["community"],
                          "columns": ["gender", "age_band"], "measures": ["persons"]},
    "社区基本情况统计表": {"dataset": "persons", "rows": ["street", "community"],
                          "measures": ["persons", "households", "party_members", "elderly",
                                       "minors"]},
}  # fmt: skip
# Where the number of residents sits: (column of the raw SQL's rows, column of the 合计 row)
PERSONS_COLUMN = {"人口年龄结构统计表": (3, -1), "社区基本情况统计表": (2, 0)}


def seed(residents: int) -> None:
    from django.db import connection

    from jiayuan.demo.plan import plan_world
    from jiayuan.demo.seed import write_world
    from jiayuan.people.models import Person

    planned = min(PLANNED, residents)
    with _setup.stopwatch() as t:
        write_world(plan_world("bench", 7, residents=planned), progress=True, audited=False)
    print(f"planned {planned:,} residents with the county's tree in {t['wall']:.0f} s")
    more = residents - Person.objects.count()
    if more <= 0:
        return
    columns = [f.column for f in Person._meta.concrete_fields if f.column != "id"]
    blank = {"id_number_enc", "id_number_index", "id_number_masked", "phone_enc",
             "phone_index", "phone_masked"}  # fmt: skip
    values = []
    for c in columns:
        if c in blank:
            values.append("''")
        elif c == "user_id":
            values.append("NULL")
        elif c in ("created_at", "updated_at"):
            values.append("now()")
        elif c == "birth_date":
            # ages spread over 80 years (bigint: a million times 7919 overflows int4)
            values.append("s.birth_date - mod(g::bigint * 7919, 29200)::int")
        elif c == "gender":
            values.append("CASE WHEN mod(g, 2) = 0 THEN 'male' ELSE 'female' END")
        else:
            values.append(f"s.{c}")
    sql = (
        f"INSERT INTO people_person ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(1, %s) AS g "
        "JOIN (SELECT p.*, row_number() OVER (ORDER BY id) AS rn FROM people_person p "
        "WHERE birth_date IS NOT NULL AND death_date IS NULL) s "
        "ON s.rn = 1 + mod(g, (SELECT count(*) FROM people_person "
        "WHERE birth_date IS NOT NULL AND death_date IS NULL))"
    )
    with _setup.stopwatch() as t, connection.cursor() as cursor:
        cursor.execute(sql, [more])
    print(f"cloned {more:,} residents with INSERT … SELECT generate_series in {t['wall']:.1f} s")


def raw_sql(width_street: int, width_community: int, today: dt.date) -> dict[str, str]:
    """The same counts by hand: the detail GROUP BY and the GROUPING SETS with totals."""
    from jiayuan.core.rules.age import years_before
    from jiayuan.people.reporting import AGE_BANDS

    whens = " ".join(
        f"WHEN birth_date > DATE '{years_before(today, up)}' THEN '{code}'"
        for code, _label, _low, up in AGE_BANDS
        if up is not None
    )
    band = f"CASE {whens} WHEN birth_date IS NOT NULL THEN '80+' END"
    alive = f"(death_date IS NULL OR death_date > DATE '{today}')"
    community = f"substr(area_path, 1, {width_community})"
    street = f"substr(area_path, 1, {width_street})"
    party = "political_status IN ('party_member', 'probationary')"
    elderly = f"birth_date <= DATE '{years_before(today, 60)}'"
    minors = f"birth_date > DATE '{years_before(today, 18)}'"
    basic = (
        "COUNT(*), COUNT(DISTINCT household_id), "
        f"SUM(CASE WHEN {party} THEN 1 ELSE 0 END), SUM(CASE WHEN {elderly} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {minors} THEN 1 ELSE 0 END)"
    )
    return {
        "人口年龄结构统计表": f"SELECT {community}, gender, {band}, COUNT(*) FROM people_person "
        f"WHERE {alive} GROUP BY 1, 2, 3",
        "人口年龄结构统计表/sets": f"SELECT {community} c, gender g, {band} b, COUNT(*) "
        f"FROM people_person WHERE {alive} "
        "GROUP BY GROUPING SETS ((c, g, b), (c, g), (c), (g, b), (g), ())",
        "社区基本情况统计表": f"SELECT {street}, {community}, {basic} FROM people_person "
        f"WHERE {alive} GROUP BY 1, 2",
        "社区基本情况统计表/sets": f"SELECT {street} s, {community} c, {basic} "
        f"FROM people_person WHERE {alive} GROUP BY GROUPING SETS ((s, c), (s), ())",
    }  # fmt: skip


def median_seconds(fn: Any, runs: int) -> float:
    fn()  # warm: caches, plans, pages
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = parser.parse_args()

    print(f"report_table · {_setup.machine()}")
    reuse = args.reuse and _setup.postgres_exists(DATABASE)
    url = f"{_setup.PG_SERVER}/{DATABASE}" if reuse else _setup.recreate_postgres(DATABASE)
    _setup.setup_django(url)
    _setup.migrate()

    import psycopg
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from jiayuan.datahub.reports import query
    from jiayuan.org.models import Area
    from jiayuan.people.models import Person

    if not reuse or not Person.objects.exists():
        seed(args.residents)
    raw = psycopg.connect(url, autocommit=True)
    raw.execute("ANALYZE")
    total = Person.objects.count()
    print(f"residents in the database: {total:,}")

    admin = get_user_model().objects.get(username="admin")
    today = timezone.localdate()
    width = {
        k: len(Area.objects.filter(kind=k).values_list("path", flat=True)[0])
        for k in ("street", "community")
    }
    raws = raw_sql(width["street"], width["community"], today)
    failed = False
    for name, spec in SPECS.items():
        table = query.run(spec, admin, today=today)
        grand = table.rows[-1]["cells"][table.label_columns :]
        raw_col, report_col = PERSONS_COLUMN[name]
        by_hand = sum(r[raw_col] for r in raw.execute(raws[name]).fetchall())
        if by_hand != grand[report_col]:
            sys.exit(f"{name}: the report says {grand[report_col]}, the raw SQL {by_hand}")
        report_s = median_seconds(lambda spec=spec: query.run(spec, admin, today=today), args.runs)
        group_s = median_seconds(lambda sql=raws[name]: raw.execute(sql).fetchall(), args.runs)
        sets_s = median_seconds(
            lambda sql=raws[name + "/sets"]: raw.execute(sql).fetchall(), args.runs
        )
        ratio = report_s / group_s
        ok = report_s < 2.0 and ratio <= 2.0
        failed |= not ok
        print(
            f"{name}: report {report_s * 1000:.0f} ms · raw GROUP BY {group_s * 1000:.0f} ms "
            f"({ratio:.2f}×) · raw GROUPING SETS {sets_s * 1000:.0f} ms "
            f"({report_s / sets_s:.2f}×) · {len(table.rows)} rows × {table.width} columns "
            f"· goal < 2 s and ≤ 2×: {'met' if ok else 'NOT met'}"
        )
    raw.close()
    if args.drop:
        from django.db import connection

        connection.close()
        _setup.drop_postgres(DATABASE)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
