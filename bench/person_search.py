"""Benchmark: finding residents among 1,000,000 on PostgreSQL.

    .venv/bin/python bench/person_search.py [--residents 1000000] [--reuse] [--queries 200]

Two queries, each timed over ``--queries`` runs (p50/p99), each beside the same SQL sent
by psycopg alone in the same run:

* exact ID-number search: ``services.search(Person.objects.visible_to(user), id_number)``
  — a keyed blind-index lookup under the user's scope;
* a filtered person list: area + age range + political status through the API's
  ``filter_persons``, under the user's scope, first page of 50 with its count.

The database ``bench_jiayuan`` is seeded with the ``bench`` scale of the demo county
(``--residents`` scales it down when time is short); ``--reuse`` keeps a database a
previous run seeded.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup


def seed(residents: int) -> dict[str, Any]:
    """The bench world (people only: the search does not need the cases other apps add
    through ``seed_demo``), written without per-row audit — see ``seed_demo``."""
    from jiayuan.demo.plan import plan_world
    from jiayuan.demo.seed import write_world

    started = time.perf_counter()
    world = plan_world("bench", 7, residents=residents)
    planned = time.perf_counter() - started
    counts = write_world(world, progress=True, audited=False)
    counts["plan_seconds"] = planned
    return counts


def timed(fn: Any, runs: list[Any]) -> dict[str, float]:
    samples = []
    for arg in runs:
        start = time.perf_counter()
        fn(arg)
        samples.append((time.perf_counter() - start) * 1000)
    return _setup.percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = parser.parse_args()

    print(f"person_search · {_setup.machine()}")
    reuse = args.reuse and _setup.postgres_exists()
    url = _setup.PG_URL if reuse else _setup.recreate_postgres()
    _setup.setup_django(url)
    _setup.migrate()

    from django.contrib.auth import get_user_model
    from django.db import connection

    from jiayuan.org.models import Area
    from jiayuan.people import services
    from jiayuan.people.api import filter_persons
    from jiayuan.people.models import Person
    from jiayuan.people.schemas import PersonFilters

    if not reuse or not Person.objects.exists():
        with _setup.stopwatch() as t:
            counts = seed(args.residents)
        print(f"seeded {counts['residents']:,} residents in {t['wall']:.0f} s "
              f"(plan {counts['plan_seconds']:.0f} s)")  # fmt: skip
    total = Person.objects.count()
    print(f"residents in the database: {total:,}")

    import psycopg
    from django.test.utils import CaptureQueriesContext

    raw = psycopg.connect(url, autocommit=True)
    raw.execute("ANALYZE")
    rng = random.Random(11)
    user_model = get_user_model()
    admin = user_model.objects.get(username="admin")
    community_user = user_model.objects.get(username="community")
    communities = list(Area.objects.filter(kind="community"))
    picks = Person.objects.filter(pk__in=[rng.randint(1, total) for _ in range(args.queries * 2)])
    sample_ids = [p.reveal_id_number() for p in picks[: args.queries]]

    def captured(fn: Any, arg: Any) -> list[str]:
        """The SQL Django sends for one call, parameters inlined by the driver."""
        with CaptureQueriesContext(connection) as ctx:
            fn(arg)
        return [q["sql"] for q in ctx.captured_queries]

    def replay(statements: list[str]) -> None:
        for sql in statements:
            raw.execute(sql).fetchall()

    def measure(label: str, fn: Any, args_: list[Any]) -> None:
        statements = [captured(fn, a) for a in args_]  # also warms both paths' caches
        ours = timed(fn, args_)
        base = timed(replay, statements)
        results.append((label, ours, base))

    results: list[tuple[str, dict[str, float], dict[str, float]]] = []

    # 1. exact ID search (blind index) under the user's scope
    for label, user in (("admin (county)", admin), ("community", community_user)):

        def id_search(value: str, user: Any = user) -> None:
            list(services.search(Person.objects.visible_to(user), value)[:50])

        measure(f"ID search · {label}", id_search, sample_ids)

    # 2. filtered list: area + age range + political status, first 50 with count
    statuses = ["party_member", "masses", "league_member"]
    cases = []
    for _ in range(args.queries):
        low = rng.randint(18, 70)
        cases.append(
            PersonFilters(
                area=rng.choice(communities).pk,
                age_min=low,
                age_max=low + rng.randint(5, 20),
                political_status=rng.choice(statuses),
            )
        )

    def filtered(f: PersonFilters) -> None:
        qs = filter_persons(Person.objects.visible_to(admin), f)
        qs.count()
        list(qs[:50])

    measure("filtered list · admin (county)", filtered, cases)

    print(f"{'query':<34} {'jiayuan p50':>11} {'p99':>8} {'raw SQL p50':>12} {'p99':>8}  ms")
    for label, ours, base in results:
        print(f"{label:<34} {ours['p50']:>11.2f} {ours['p99']:>8.2f} "
              f"{base['p50']:>12.2f} {base['p99']:>8.2f}")  # fmt: skip
    raw.close()
    if args.drop:
        connection.close()
        _setup.drop_postgres()


if __name__ == "__main__":
    main()
