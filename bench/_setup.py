"""Shared set-up for the benchmark scripts: a scratch database and Django on top of it.

Each script runs by itself (``.venv/bin/python bench/X.py``). Django reads its database
from ``JIAYUAN_DATABASE_URL`` once, at set-up, so a script that measures two databases
runs itself once per database in a child process.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "bench_jiayuan")
PG_URL = f"{PG_SERVER}/{PG_DATABASE}"


def recreate_postgres(name: str = PG_DATABASE) -> str:
    """Drop and create the scratch PostgreSQL database; returns its URL."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


def drop_postgres(name: str = PG_DATABASE) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_exists(name: str = PG_DATABASE) -> bool:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def setup_django(database_url: str) -> None:
    """Point Django at ``database_url`` and set it up (once per process)."""
    os.environ["JIAYUAN_DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayuan.settings")
    os.environ.setdefault("JIAYUAN_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def run_child(script: Path, *args: str) -> int:
    """Run ``script`` again in a fresh interpreter (a fresh Django set-up)."""
    return subprocess.call([sys.executable, str(script), *args], cwd=ROOT)


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Wall and CPU seconds of the block: on a shared machine the CPU time is the
    steadier figure, the wall time the one a user waits for."""
    result: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result["wall"] = time.perf_counter() - wall
        result["cpu"] = time.process_time() - cpu


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p99_index = max(0, min(len(ordered) - 1, round(0.99 * len(ordered)) - 1))
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[p99_index],
        "mean": statistics.fmean(ordered),
        "n": float(len(ordered)),
    }


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"load {load:.1f} · {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def fmt(row: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
