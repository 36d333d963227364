"""Benchmark: seeding the demo county, on SQLite and on PostgreSQL.

    .venv/bin/python bench/seed_county.py [--scale county] [--only sqlite|postgres]

For each database: a fresh, migrated database; ``seed_demo(scale)`` timed end to end
(planning, ID/phone encryption, the action layer's bulk path with one audit entry per
row); the county's published figures checked against the database; then the baseline:
the same rows (every table the seed wrote, audit log included) written again into empty
copies of those tables, with their indexes, by the database driver alone —
``executemany`` in one transaction on SQLite, ``COPY`` on PostgreSQL (psycopg).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup

HERE = Path(__file__).resolve()
SKIP = {
    "auth_permission", "auth_group", "auth_group_permissions", "auth_user_groups",
    "auth_user_user_permissions", "core_calendarday", "core_jobrun", "core_apitoken",
}  # fmt: skip
# the stages other apps add to the demo world (see seed_demo)
OTHER_APPS = ("诉求", "政策", "设备")
COUNTY_FIGURES = {
    "streets": 2,
    "communities": 26,
    "party_branches": 96,
    "grids": 270,
    "central_households": 2619,
    "three_heads": 4631,
}


def seeded_tables() -> list[str]:
    from django.apps import apps
    from django.db import connection

    tables = []
    with connection.cursor() as cur:
        for model in apps.get_models(include_auto_created=True):
            table = model._meta.db_table
            mine = model._meta.app_config.name.startswith("jiayuan.")
            if not (mine or table == "auth_user") or table in SKIP or table in tables:
                continue
            cur.execute(f'SELECT COUNT(*) FROM "{table}"')
            if cur.fetchone()[0]:
                tables.append(table)
    return sorted(tables)


def database_figures() -> dict[str, int]:
    """The overview's figures, counted in the database the seed wrote."""
    from jiayuan.org.models import Area, PartyOrganization
    from jiayuan.people.choices import PARTY, THREE_HEADS
    from jiayuan.people.models import CentralHousehold, Force, Household, Person, Position

    return {
        "streets": Area.objects.filter(kind="street").count(),
        "communities": Area.objects.filter(kind="community").count(),
        "party_branches": PartyOrganization.objects.filter(kind="branch").count(),
        "grids": Area.objects.filter(kind="grid").count(),
        "central_households": CentralHousehold.objects.count(),
        "three_heads": Position.objects.filter(role__in=THREE_HEADS, end=None).count(),
        "forces": Force.objects.count(),
        "residents": Person.objects.count(),
        "households": Household.objects.count(),
        "party_members": Person.objects.filter(political_status__in=PARTY).count(),
    }


def raw_sqlite(tables: list[str]) -> tuple[float, int]:
    """executemany of every seeded row into indexed empty copies, one transaction."""
    import datetime as dt
    import sqlite3

    from django.db import connection

    # Django reads TIME columns back as datetime.time, which sqlite3 cannot bind; it
    # stores them as their ISO text, so the copy does too
    sqlite3.register_adapter(dt.time, dt.time.isoformat)
    raw = connection.connection
    rows_total = 0
    data: dict[str, list[tuple[Any, ...]]] = {}
    indexes: dict[str, list[str]] = {}
    for table in tables:
        data[table] = raw.execute(f'SELECT * FROM "{table}"').fetchall()
        indexes[table] = [
            sql
            for (sql,) in raw.execute(
                "SELECT sql FROM sqlite_master"
                " WHERE type='index' AND tbl_name=? AND sql IS NOT NULL",
                [table],
            )
        ]
        raw.execute(f'CREATE TABLE "copy_{table}" AS SELECT * FROM "{table}" WHERE 0')
        for sql in indexes[table]:
            raw.execute(
                sql.replace(f'ON "{table}"', f'ON "copy_{table}"')
                .replace("INDEX ", "INDEX copy_", 1)
                .replace('INDEX copy_"', 'INDEX "copy_', 1)
            )
    raw.commit()
    with _setup.stopwatch() as t:
        raw.execute("BEGIN")
        for table in tables:
            rows = data[table]
            if not rows:
                continue
            marks = ",".join("?" * len(rows[0]))
            raw.executemany(f'INSERT INTO "copy_{table}" VALUES ({marks})', rows)
            rows_total += len(rows)
        raw.commit()
    return t["wall"], rows_total


def raw_postgres(tables: list[str], url: str) -> tuple[float, int]:
    """COPY of every seeded row into indexed empty copies (psycopg), one transaction."""
    import psycopg

    rows_total = 0
    from psycopg.types.string import TextLoader

    with psycopg.connect(url) as conn:
        for json_type in ("json", "jsonb"):  # keep JSON as the text COPY sends back
            conn.adapters.register_loader(json_type, TextLoader)
        data: dict[str, list[tuple[Any, ...]]] = {}
        for table in tables:
            data[table] = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            conn.execute(f'CREATE TABLE "copy_{table}" (LIKE "{table}" INCLUDING ALL)')
        conn.commit()
        with _setup.stopwatch() as t:
            with conn.transaction():
                for table in tables:
                    with conn.cursor().copy(f'COPY "copy_{table}" FROM STDIN') as copy:
                        for row in data[table]:
                            copy.write_row(row)
                    rows_total += len(data[table])
    return t["wall"], rows_total


def child(backend: str, scale: str, seed: int, out: Path, profile: Path | None = None) -> None:
    audited = not backend.endswith("-unaudited")
    backend = backend.removesuffix("-unaudited")
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="jiayuan-bench-"))
        url = f"sqlite:///{folder / 'seed.sqlite3'}"
    else:
        url = _setup.recreate_postgres()
    _setup.setup_django(url)
    _setup.migrate()
    from jiayuan.demo.seed import seed_demo

    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with _setup.stopwatch() as seeded:
        counts = seed_demo(scale=scale, seed=seed, progress=False, audited=audited)
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    figures = database_figures()
    if scale == "county":
        wrong = {k: figures[k] for k, v in COUNTY_FIGURES.items() if figures[k] != v}
        if wrong or figures["forces"] < 5700:
            sys.exit(f"the county does not reproduce the published figures: {wrong} {figures}")
    print(f"{backend}: seeded in {seeded['wall']:.1f} s wall, {seeded['cpu']:.1f} s cpu; "
          f"stages (wall s): {counts['stage_wall_seconds']}", flush=True)  # fmt: skip
    tables = seeded_tables()
    if backend == "sqlite":
        raw_seconds, rows = raw_sqlite(tables)
        from django.db import connection

        connection.close()
        shutil.rmtree(folder, ignore_errors=True)
    else:
        raw_seconds, rows = raw_postgres(tables, url)
        _setup.drop_postgres()
    walls = counts["stage_wall_seconds"]
    others = sum(walls.get(label, 0.0) for label in OTHER_APPS)
    result = {
        "backend": backend + ("" if audited else " (no per-row audit)"),
        "others_seconds": others,
        "scale": scale,
        "seed_wall": seeded["wall"],
        "seed_cpu": seeded["cpu"],
        "plan_seconds": counts["plan_seconds"],
        "rows": rows,
        "raw_seconds": raw_seconds,
        "figures": figures,
        "stage_wall": walls,
        "stage_cpu": counts["stage_cpu_seconds"],
        "load": os.getloadavg()[0],
    }
    out.write_text(json.dumps(result, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="county", choices=["tiny", "county", "bench"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--audit-cost",
        action="store_true",
        help="also seed SQLite without per-row audit, to show what the audit costs",
    )
    parser.add_argument(
        "--profile", type=Path, help="write a cProfile of each seed to PROFILE.<database>"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.scale, args.seed, args.out, args.profile)
        return

    print(f"seed_county · scale={args.scale} · {_setup.machine()}")
    backends = [args.only] if args.only else ["sqlite", "postgres"]
    if args.audit_cost:
        backends.append("sqlite-unaudited")
    results = []
    for backend in backends:
        out = Path(tempfile.mkstemp(suffix=".json")[1])
        extra = ["--profile", f"{args.profile}.{backend}"] if args.profile else []
        code = _setup.run_child(HERE, "--child", backend, "--scale", args.scale,
                                "--seed", str(args.seed), "--out", str(out), *extra)  # fmt: skip
        if code:
            sys.exit(f"{backend}: failed with exit code {code}")
        results.append(json.loads(out.read_text()))
        out.unlink()
    figures = results[0]["figures"]
    print("figures in the database: " + ", ".join(f"{k} {v:,}" for k, v in figures.items()))
    print("seconds; 'other apps' = cases, policies and devices (诉求, 政策, 设备); "
          "'foundation' = the rest, planning included; "
          "the raw baseline writes all the rows the whole seed wrote with the driver alone; "
          "ratio = seed wall / raw write")  # fmt: skip
    print(f"{'database':<30} {'seed wall':>10} {'cpu':>7} {'plan':>6} {'other apps':>11} "
          f"{'foundation':>11} {'rows':>10} {'raw write':>10} {'ratio':>7}")  # fmt: skip
    for r in results:
        foundation = r["seed_wall"] - r["others_seconds"]
        ratio = r["seed_wall"] / r["raw_seconds"] if r["raw_seconds"] else float("nan")
        print(f"{r['backend']:<30} {r['seed_wall']:>10.1f} {r['seed_cpu']:>7.1f} "
              f"{r['plan_seconds']:>6.1f} {r['others_seconds']:>11.1f} {foundation:>11.1f} "
              f"{r['rows']:>10,} {r['raw_seconds']:>10.1f} {ratio:>6.1f}x")  # fmt: skip
    for r in results:
        print(f"stages · {r['backend']} · load at the end {r['load']:.1f} · wall s (cpu s):")
        print("  " + ", ".join(f"{label} {wall:.1f} ({r['stage_cpu'].get(label, 0.0):.1f})"
                               for label, wall in r["stage_wall"].items()))  # fmt: skip
    print("budget (issue 10): county seed < 120 s on SQLite, and at most 3x the raw write")


if __name__ == "__main__":
    main()
