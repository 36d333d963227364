"""Benchmark: every page and every list endpoint, as each demo role, at county scale.

    .venv/bin/python bench/crawl.py [--db sqlite|postgres] [--reps 7] [--reseed]
                                    [--roles admin,grid] [--json out.json]

The demo county (``seed_demo("county")``: 270 grids, ~150,000 residents, a year of cases,
policies and devices) is seeded once and kept: on SQLite in ``var/bench/county.sqlite3``
(seeded into a scratch file and renamed when complete, so an interrupted seed is never
reused), on PostgreSQL in the database ``bench_jiayuan_crawl``. ``--reseed`` starts over.

For each demo account (admin, street, community, grid, branch, head, resident; logged in
with the demo password), in-process with Django's test client and ``DEBUG`` off:

* **pages** — the home page, every link of its navigation menu, and on each of those
  pages the first link to a detail page (the first row of a list: a person, an area, a
  case, a policy, a match, an alarm, a device, …), one per kind of detail page;
* **the JSON API** — every ``GET`` route of ``/api/v1/openapi.json``: each list route's
  first page, one filtered page (a filter the route declares, its value taken from the
  first row or the user's own area), and the detail route of its first row (path
  parameters resolved from the list one level up, so ``/persons/{id}/tags/{code}`` reads
  ``/persons`` then ``/persons/{id}/tags``).

Each URL is requested once to warm caches (not counted), then ``--reps`` times, timing
the server's work (``Client.get`` runs the whole request/response cycle in-process, no
network); p50/p99 per URL, the number of SQL queries of one request (counted in a pass of
its own, not timed), and every URL whose p99 reaches the 300 ms budget. The floor beside
it: the anonymous ``/login/`` page, a request that touches no domain data (middleware,
session, one template), measured the same way. The load average is printed with the
results: on a shared machine it says how much of a figure is the neighbours'.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup

BUDGET_MS = 300.0
ROLES = ("admin", "street", "community", "grid", "branch", "head", "resident")
SQLITE_FILE = _setup.ROOT / "var" / "bench" / "county.sqlite3"
PG_DATABASE = "bench_jiayuan_crawl"
API = "/api/v1"
# Routes the crawl does not open: binary photo downloads and the resident's tokened
# public routes (they need a case's secret token, not a session).
SKIP_ROUTES = re.compile(r"/photos/|^/api/v1/public/|/openapi\.json$|/docs$")
# Query parameters that page rather than filter.
PAGING = {"limit", "offset", "page"}
# Filters tried first, in this order, when a list declares several: the ones a user
# reaches for and the ones with their own index.
PREFERRED = (
    "area", "status", "kind", "category", "type", "tag", "age_min", "policy", "open",
    "severity", "role", "unread", "current", "active", "on_duty", "search", "q",
)  # fmt: skip
# Values for filters that a row cannot supply.
FALLBACK = {
    "open": "true", "unread": "true", "current": "true", "active": "true",
    "on_duty": "true", "living": "true", "overdue": "true", "mine": "true",
    "age_min": "60", "age_max": "80", "search": "张", "q": "张",
}  # fmt: skip
HREF = re.compile(r"""<a\b[^>]*\bhref="([^"#][^"]*)\"""", re.IGNORECASE)


@dataclass
class Target:
    role: str
    kind: str  # page | page detail | api list | api filtered | api detail
    url: str
    status: int = 0
    queries: int = 0
    samples: list[float] = field(default_factory=list)

    @property
    def stats(self) -> dict[str, float]:
        return _setup.percentiles(self.samples)


# ---------------------------------------------------------------- the database


def database(kind: str, reseed: bool) -> str:
    """The seeded county's database URL (seeded here when missing)."""
    if kind == "postgres":
        url = f"{_setup.PG_SERVER}/{PG_DATABASE}"
        if reseed or not _postgres_seeded(url):
            # The seed writes in one transaction: an interrupted one leaves no areas.
            seed(_setup.recreate_postgres(PG_DATABASE))
        return url
    if reseed or not SQLITE_FILE.exists():
        SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
        scratch = SQLITE_FILE.with_suffix(".seeding.sqlite3")
        for leftover in scratch.parent.glob(scratch.name + "*"):
            leftover.unlink()
        seed(f"sqlite:///{scratch}")
        for suffix in ("-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
        shutil.move(scratch, SQLITE_FILE)
    return f"sqlite:///{SQLITE_FILE}"


def _postgres_seeded(url: str) -> bool:
    if not _setup.postgres_exists(PG_DATABASE):
        return False
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        try:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM org_area)").fetchone()
        except psycopg.errors.UndefinedTable:
            return False
    return bool(row and row[0])


def seed(url: str) -> None:
    """Migrate and seed the county in a child process (a Django of its own)."""
    import subprocess

    env = {**os.environ, "JIAYUAN_DATABASE_URL": url, "JIAYUAN_DEBUG": "0"}
    cli = [sys.executable, "-m", "jiayuan.cli"]
    started = time.perf_counter()
    print(f"seeding the county into {url} …", flush=True)
    for args in (["migrate", "-v0"], ["seed-demo", "--scale", "county", "--no-progress"]):
        subprocess.run([*cli, *args], env=env, cwd=_setup.ROOT, check=True)
    # The seed ends in a checkpoint on SQLite; close the WAL so the file moves whole.
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


# ---------------------------------------------------------------- discovering URLs


class Crawler:
    """One logged-in client and the URLs it discovers."""

    def __init__(self, role: str) -> None:
        from django.conf import settings
        from django.test import Client

        self.role = role
        self.client = Client()
        password = settings.DEMO_PASSWORD  # type: ignore[misc]
        if not self.client.login(username=role, password=password):
            raise SystemExit(f"cannot log in as {role!r} with the demo password")
        self.targets: dict[str, Target] = {}
        self._json: dict[str, Any] = {}

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def add(self, kind: str, url: str) -> Any:
        response = self.get(url)
        if url not in self.targets:
            self.targets[url] = Target(self.role, kind, url, status=response.status_code)
        return response

    # -- pages

    def pages(self) -> None:
        from django.urls import Resolver404, resolve

        home = self.add("page", "/")
        menu = ["/"]
        for href in _links(_between(home.content.decode(), "<header", "</header>")):
            if _internal(href) and href not in menu and not _skip_page(href):
                menu.append(href)
        # The search page searched: names only travel in a link (``?q=``).
        menu.append("/search/?q=" + FALLBACK["search"])
        seen_detail: set[str] = set()
        level, kind = menu, "page"
        # The menu, the first detail link of each kind on its pages, and the detail
        # pages those link to (an area page lists its residents).
        for _depth in range(3):
            found: list[str] = []
            for href in level:
                response = self.add(kind, href)
                if response.status_code in (301, 302) and _internal(response.url):
                    href = response.url  # an index that sends the user to their area
                    response = self.add(kind, href)
                if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                    continue
                for link in _links(_after(response.content.decode(), "</header>")):
                    if not _internal(link) or _skip_page(link) or link in self.targets:
                        continue
                    try:
                        match = resolve(urlsplit(link).path)
                    except Resolver404:
                        continue
                    if not match.kwargs or match.view_name in seen_detail:
                        continue
                    if any(w in match.view_name for w in ("act", "reveal", "visit", "read")):
                        continue  # actions and audited reveals are not pages to browse
                    seen_detail.add(match.view_name)
                    found.append(link)
            level, kind = found, "page detail"

    # -- API

    def api(self, schema: dict[str, Any], area_id: int | None) -> None:
        for path, operations in schema["paths"].items():
            get = operations.get("get")
            if get is None or SKIP_ROUTES.search(path):
                continue
            params = get.get("parameters", [])
            query = [p["name"] for p in params if p["in"] == "query"]
            required = [p["name"] for p in params if p["in"] == "query" and p.get("required")]
            url = self.resolve(path)
            if url is None:
                continue
            if required:
                values = {name: self.fallback(name, area_id) for name in required}
                if None in values.values():
                    continue
                self.add("api list", f"{url}?{urlencode(values)}")
                continue
            first = self.add("api list", url)
            if first.status_code != 200 or "{" in path.rsplit("/", 1)[-1]:
                continue
            if not first.get("Content-Type", "").startswith("application/json"):
                continue  # a download (an XLSX of rejected rows): timed, nothing to filter
            row = _first_row(first.json())
            filters = [name for name in query if name not in PAGING]
            filters.sort(key=lambda n: PREFERRED.index(n) if n in PREFERRED else len(PREFERRED))
            for name in filters:
                value = row.get(name) if row else None
                if isinstance(value, dict):
                    value = value.get("id") or value.get("code")
                if value is None or isinstance(value, list):
                    value = self.fallback(name, area_id)
                if value is not None:
                    if isinstance(value, bool):
                        value = str(value).lower()
                    self.add("api filtered", f"{url}?{urlencode({name: value})}")
                    break

    def fallback(self, name: str, area_id: int | None) -> Any:
        if name == "area" and area_id is not None:
            return area_id
        if name in ("lat", "lng") and area_id is not None:
            from jiayuan.org.models import Area

            area = Area.objects.get(pk=area_id)  # a point inside the user's own area
            return area.centroid_lat if name == "lat" else area.centroid_lng
        return FALLBACK.get(name)

    def resolve(self, template: str) -> str | None:
        """``/persons/{person_id}/tags`` → ``/api/v1/persons/123/tags``, reading the
        list one level up for each path parameter; detail URLs join the crawl."""
        parts = template.split("/")
        resolved: list[str] = []
        for i, part in enumerate(parts):
            if part.startswith("{") and part.endswith("}"):
                listing = "/".join(resolved)
                row = _first_row(self.list_json(listing))
                name = part[1:-1]
                key = "id" if name.endswith("_id") else name
                if row is None or row.get(key) is None:
                    return None
                resolved.append(str(row[key]))
                if i == len(parts) - 1:
                    self.add("api detail", "/".join(resolved))
            else:
                resolved.append(part)
        return "/".join(resolved)

    def list_json(self, url: str) -> Any:
        if url not in self._json:
            response = self.get(url)
            self._json[url] = response.json() if response.status_code == 200 else None
        return self._json[url]


def _between(html: str, start: str, end: str) -> str:
    _head, _sep, rest = html.partition(start)
    return rest.partition(end)[0] if rest else ""


def _after(html: str, marker: str) -> str:
    return html.partition(marker)[2] or html


def _links(html: str) -> Iterator[str]:
    for href in HREF.findall(html):
        yield href.replace("&amp;", "&")


def _internal(href: str) -> bool:
    return href.startswith("/") and not href.startswith("//")


def _skip_page(href: str) -> bool:
    # Leaving, switching language, static files and file downloads are not pages.
    return href.startswith(("/logout", "/i18n/", "/static/", "/media/", "/api/")) or any(
        href.split("?")[0].endswith(ext) for ext in (".xlsx", ".csv", ".json", ".svg", ".png")
    )


def _first_row(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, dict):
        items = payload.get("items", payload.get("results"))
        if isinstance(items, list):
            payload = items
        else:
            return None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        return payload[0]
    return None


# ---------------------------------------------------------------- measuring


def measure(crawler: Crawler, reps: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # As jiayuan.wsgi does once a server has started: what start-up and the discovery
    # pass allocated is kept out of the collector's full passes (each ~250 ms over the
    # county's long-lived objects, which would otherwise land inside a timed request).
    gc.collect()
    gc.freeze()
    for target in crawler.targets.values():
        crawler.get(target.url)  # warm
        with CaptureQueriesContext(connection) as ctx:
            crawler.get(target.url)
        target.queries = len(ctx.captured_queries)
        for _ in range(reps):
            started = time.perf_counter()
            crawler.get(target.url)
            target.samples.append((time.perf_counter() - started) * 1000)


def floor(reps: int) -> dict[str, float]:
    """The bare request: the login page, anonymous (middleware, session, a template)."""
    from django.test import Client

    client = Client()
    client.get("/login/")
    samples = []
    for _ in range(reps * 5):
        started = time.perf_counter()
        client.get("/login/")
        samples.append((time.perf_counter() - started) * 1000)
    return _setup.percentiles(samples)


def user_area(role: str) -> int | None:
    from jiayuan.org.models import Membership

    row = Membership.objects.filter(user__username=role).order_by("pk").first()
    return row.area_id if row is not None else None


def report(targets: list[Target], base: dict[str, float], reps: int, db: str) -> None:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} · {db} · {reps} reps per URL")
    print(f"floor: anonymous /login/ p50 {base['p50']:.1f} ms, p99 {base['p99']:.1f} ms")
    ordered = sorted(targets, key=lambda t: t.stats["p99"], reverse=True)
    header = (
        f"{'role':<10} {'kind':<12} {'status':>6} {'queries':>7} {'p50 ms':>8} {'p99 ms':>8}  url"
    )
    print(header)
    for target in ordered:
        stats = target.stats
        flag = "  ← over budget" if stats["p99"] >= BUDGET_MS else ""
        print(
            f"{target.role:<10} {target.kind:<12} {target.status:>6} {target.queries:>7} "
            f"{stats['p50']:>8.1f} {stats['p99']:>8.1f}  {target.url}{flag}"
        )
    over = [t for t in ordered if t.stats["p99"] >= BUDGET_MS]
    errors = [t for t in ordered if t.status >= 500]
    print(
        f"\n{len(targets)} URLs ({sum(t.kind.startswith('page') for t in targets)} pages, "
        f"{sum(t.kind.startswith('api') for t in targets)} API); "
        f"{len(over)} with p99 ≥ {BUDGET_MS:.0f} ms; {len(errors)} server errors; "
        f"load average now {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--reps", type=int, default=7, help="timed requests per URL")
    parser.add_argument("--roles", default=",".join(ROLES), help="comma-separated accounts")
    parser.add_argument("--reseed", action="store_true", help="seed the county again")
    parser.add_argument("--json", type=Path, help="write every measurement here too")
    args = parser.parse_args()
    os.environ.setdefault("JIAYUAN_DEBUG", "0")
    url = database(args.db, args.reseed)
    _setup.setup_django(url)
    import logging

    from django.conf import settings

    logging.getLogger("django.request").setLevel(logging.ERROR)  # 404s of scope checks

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    _setup.migrate()
    from jiayuan.api import api

    print(f"# crawl: every page and API list at county scale — {_setup.machine()}")
    schema = api.get_openapi_schema()
    targets: list[Target] = []
    for role in args.roles.split(","):
        crawler = Crawler(role)
        started = time.perf_counter()
        crawler.pages()
        crawler.api(schema, user_area(role))
        measure(crawler, args.reps)
        targets.extend(crawler.targets.values())
        print(
            f"{role}: {len(crawler.targets)} URLs in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    base = floor(args.reps)
    report(targets, base, args.reps, args.db)
    if args.json:
        rows = [
            {"role": t.role, "kind": t.kind, "url": t.url, "status": t.status,
             "queries": t.queries, **t.stats}
            for t in targets
        ]  # fmt: skip
        args.json.write_text(json.dumps({"floor": base, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
