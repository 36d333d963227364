"""Benchmark: importing 公安户籍 rows through the data hub on PostgreSQL, beside raw COPY.

    .venv/bin/python bench/hub_import.py [--rows 1000000] [--keep]

In one run, on one scratch database (``bench_jiayuan_hub``, the tiny demo county seeded
so that addresses place people in its units):

1. a CSV of ``--rows`` synthetic 公安户籍 rows in the shipped ``gongan-huji`` layout
   (valid ID numbers, households of three sharing a 户号 and a dwelling's address) is
   written to a temporary folder;
2. **raw COPY** — the same file into a plain table of twelve text columns with
   ``COPY … FROM STDIN (FORMAT csv)`` through psycopg: the floor;
3. **the data hub** — ``jiayuan.datahub.engine.run`` on the ``gongan-huji`` stream:
   read, map (ID numbers checked and normalised, dates parsed, dictionaries), row
   digests, entity resolution by blind index in the person target, households,
   provenance, seen rows and run bookkeeping, batch by batch in transactions;
4. **the same file again** — a no-op by its SHA-256, and **the same rows in another
   file** — every row "unchanged" by its digest (the target never sees them).

The goal (issue 11): the data hub's rate ≥ 50 % of COPY's. The load average is printed
with the figures: on a shared machine the ratio is the figure to read.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup

DATABASE = "bench_jiayuan_hub"
GOAL = 0.5
HEADER = ["公民身份号码", "姓名", "性别", "民族", "出生日期", "户号", "与户主关系", "户籍地址",
          "现住址", "户口性质", "注销原因", "注销日期"]  # fmt: skip
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞宇浩然子涵欣怡梓轩"


def addresses() -> list[str]:
    """The postal address of every dwelling of the seeded county, as 公安 prints it."""
    from jiayuan.datahub.demo.snapshot import current_address
    from jiayuan.org.choices import AreaKind
    from jiayuan.org.models import Area, Dwelling

    county = Area.objects.filter(kind=AreaKind.COUNTY).values_list("name", flat=True).first()
    names = dict(Area.objects.values_list("path", "name"))
    rows = Dwelling.objects.order_by("pk").values_list("unit__path", "number")
    return [current_address(county or "汶上县", names, path, number) for path, number in rows]


def write_file(path: Path, rows: int, places: list[str], seed: int = 11) -> None:
    from jiayuan.core import idnumber

    rng = random.Random(seed)
    start = dt.date(1940, 1, 1)
    relations = ("户主", "配偶", "子")
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            household = i // 3
            born = start + dt.timedelta(days=(i * 7919) % 27000)
            gender = "male" if i % 2 else "female"
            body = f"370830{born:%Y%m%d}{(i // 27000) % 100:02d}"
            body += str((i % 5) * 2 + (1 if gender == "male" else 0))
            number = body + idnumber.check_char(body)
            address = places[household % len(places)]
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
            out.writerow([
                number, name, "男" if gender == "male" else "女", "汉族", f"{born:%Y%m%d}",
                f"B{household:09d}", relations[i % 3], address, address,
                "非农业" if i % 4 else "农业", "", "",
            ])  # fmt: skip


def unique_numbers(path: Path) -> tuple[int, int]:
    """The distinct ID numbers of the file, and how many of them a resident of the
    seeded county already holds (those rows update that resident: not a new person)."""
    from jiayuan.core import pii
    from jiayuan.people.models import Person

    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        numbers = {row[0] for row in reader}
    held = set(Person.objects.exclude(id_number_index="").values_list("id_number_index", flat=True))
    known = sum(1 for n in numbers if pii.blind_index(n, purpose="id") in held)
    return len(numbers), known


def duplicated_numbers() -> int:
    """ID numbers held by more than one resident (an import that wrote a row twice)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT id_number_index FROM people_person "
            "WHERE id_number_index <> '' GROUP BY 1 HAVING count(*) > 1) AS d"
        )
        return int(cursor.fetchone()[0])


def copy_rate(path: Path, url: str) -> dict[str, float]:
    """Raw ``COPY`` of the file into a plain table of text columns."""
    import psycopg

    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_huji")
        conn.execute(f"CREATE TABLE bench_raw_huji ({columns})")
        conn.commit()
        with _setup.stopwatch() as t:
            with (
                conn.cursor() as cur,
                cur.copy("COPY bench_raw_huji FROM STDIN (FORMAT csv, HEADER true)") as copy,
                path.open("rb") as f,
            ):
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            conn.commit()
        count = conn.execute("SELECT count(*) FROM bench_raw_huji").fetchone()[0]  # type: ignore[index]
    return {"rows": float(count), **t}


def kill_midway(path: Path, url: str) -> tuple[int, int]:
    """``jiayuan hub import`` in a child process, killed (SIGKILL) once a few batches are
    committed; returns the id of the run it left unfinished and the rows it committed."""
    import os
    import signal
    import subprocess
    import time

    from jiayuan.datahub import sources
    from jiayuan.datahub.models import ImportRun

    sources.sync()
    env = {**os.environ, "JIAYUAN_DATABASE_URL": url}
    command = [sys.executable, "-m", "jiayuan.cli", "hub", "import", "gongan-huji", str(path)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    position = 0
    while time.monotonic() < deadline and child.poll() is None:
        run = ImportRun.objects.order_by("-pk").first()
        position = run.position if run is not None else 0
        if position >= 4000:
            break
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait()
    run = ImportRun.objects.order_by("-pk").first()
    if run is None:
        raise SystemExit("the child `jiayuan hub import` never started its run")
    print(f"killed `jiayuan hub import` at row {run.position:,}: run {run.pk} left {run.status}")
    return run.pk, run.position


def hub_run(path: Path) -> tuple[Any, dict[str, float]]:
    from jiayuan.datahub import engine, sources
    from jiayuan.datahub.models import Stream

    sources.sync()
    stream = Stream.objects.get(source__code="gongan-huji")
    with _setup.stopwatch() as t:
        run = engine.run(stream, path, trigger="bench")
    return run, t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--profile", default="", help="write a cProfile of the import here")
    parser.add_argument(
        "--kill", action="store_true",
        help="first run `jiayuan hub import` in a child process, SIGKILL it after its first "
        "committed batches, and check that the import then resumes that run exactly",
    )  # fmt: skip
    args = parser.parse_args()

    import os

    os.environ.setdefault("JIAYUAN_DEBUG", "0")
    print(_setup.machine())
    url = _setup.recreate_postgres(DATABASE)
    _setup.setup_django(url)
    with _setup.stopwatch() as t:
        _setup.migrate()
        from jiayuan.demo.seed import seed_demo

        seed_demo(scale="tiny", seed=7, progress=False)
    print(f"migrate + tiny county: {t['wall']:.1f} s")
    from jiayuan.people.models import Person

    before = Person.objects.count()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gongan-huji.csv"
        with _setup.stopwatch() as t:
            write_file(path, args.rows, addresses())
        print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {t['wall']:.1f} s")
        expected, known = unique_numbers(path)

        copy = copy_rate(path, url)
        copy_per_s = copy["rows"] / copy["wall"]
        print(f"raw COPY:   {copy['rows']:,.0f} rows in {copy['wall']:.2f} s "
              f"= {copy_per_s:,.0f} rows/s")  # fmt: skip

        killed = kill_midway(path, url) if args.kill else None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        run, t = hub_run(path)
        if args.profile:
            profiler.disable()
            profiler.dump_stats(args.profile)
        resumed_at = killed[1] if killed else 0
        hub_per_s = (run.read - resumed_at) / t["wall"]
        print(f"data hub:   {run.report_line()} (run {run.pk}, {run.status}, from row "
              f"{resumed_at:,}) in {t['wall']:.2f} s (CPU {t['cpu']:.1f} s) = "
              f"{hub_per_s:,.0f} rows/s")  # fmt: skip
        if run.error:
            print(f"  error: {run.error}")
        added = Person.objects.count() - before
        twice = duplicated_numbers()
        print(f"  persons added: {added:,} (distinct ID numbers in the file: {expected:,}, "
              f"{known:,} held by a seeded resident); numbers held twice: {twice}")  # fmt: skip
        exact = "exactly once" if added == expected - known and not twice else "NOT exactly once"
        if killed is not None:
            same = "the same run" if killed[0] == run.pk else f"ANOTHER run than {killed[0]}"
            print(f"  after the kill: {same} resumed, every person {exact}")
        else:
            print(f"  every person {exact}")

        again, t2 = hub_run(path)
        print(f"same file:  {again.report_line()} in {t2['wall']:.3f} s (by its SHA-256)")
        copy_path = Path(tmp) / "gongan-huji-again.csv"
        copy_path.write_bytes(path.read_bytes() + b"\n")
        digest, t3 = hub_run(copy_path)
        print(f"same rows:  {digest.report_line()} in {t3['wall']:.2f} s "
              f"= {digest.read / t3['wall']:,.0f} rows/s (by row digest)")  # fmt: skip

    ratio = hub_per_s / copy_per_s
    verdict = "met" if ratio >= GOAL else "not met"
    print(f"ratio data hub / COPY: {ratio:.2f} (goal ≥ {GOAL:.2f}: {verdict})")
    print(_setup.machine())
    from django.db import connections

    connections.close_all()
    if not args.keep:
        _setup.drop_postgres(DATABASE)


if __name__ == "__main__":
    main()
