"""Scope summary (概览): the counts a user sees on the home page and ``GET /api/v1/overview``.

One function so the page and the API can never disagree. Every count starts from
``visible_to(user)``, optionally narrowed to one area's subtree.

The living residents are grouped once per request: :func:`census` groups them by area
path in one query (residents, party members and the birth-date thresholds of the age
bands per path), and the age structure (:func:`age_structure`), the per-child counts of
area tables (``area_views.child_counts``) and, once a census is read, the totals
(:func:`counts`) are sums over its rows. At county scale each of those used to scan the
150,000 residents on its own; the totals alone (the API) stay two plain counts.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q
from django.db.models.functions import Collate
from django.utils import timezone

from jiayuan.core import context
from jiayuan.core.rules.age import years_before
from jiayuan.core.scoping import scope_paths
from jiayuan.core.validity import valid_on
from jiayuan.org.choices import AreaKind, PartyOrgKind
from jiayuan.org.models import Area, Dwelling, PartyOrganization

from .choices import PARTY, THREE_HEADS
from .models import CentralHousehold, Force, Household, Person, Position

#: The keys of :func:`counts`, in display order, with their Chinese labels.
LABELS: dict[str, str] = {
    "streets": "街道",
    "communities": "社区",
    "party_branches": "小区党支部",
    "grids": "网格",
    "central_households": "党员中心户",
    "three_heads": "三长",
    "forces": "共治力量",
    "residents": "居民",
    "households": "家庭户",
    "dwellings": "房屋",
    "party_members": "党员",
}


#: What an app above people adds to the overview: ``fn(user, under) -> {key: count}``.
CountsFn = Callable[[Any, str], dict[str, int]]
_EXTRA: list[tuple[dict[str, str], CountsFn]] = []


def register(labels: dict[str, str], fn: CountsFn) -> None:
    """Add counts to the overview (page and API) from an app above people, which people
    may not import: ``labels`` maps each key ``fn`` returns to its Chinese label, in
    display order after people's own. ``fn(user, under)`` counts under the user's scope
    (``visible_to``) and the area path ``under`` (``""`` for all of it), in a few
    queries that do not grow with rows. Registering the same function again replaces
    it (apps may be readied twice in tests)."""
    clash = set(labels) & set(LABELS)
    if clash:
        raise ValueError(f"overview keys taken by people: {sorted(clash)}")
    _EXTRA[:] = [(lab, f) for lab, f in _EXTRA if f is not fn]
    _EXTRA.append((dict(labels), fn))


def all_labels() -> dict[str, str]:
    """Every overview key with its label, people's first, then the registered ones."""
    out = dict(LABELS)
    for labels, _fn in _EXTRA:
        out.update(labels)
    return out


def held_on(day: dt.date) -> Q:
    """Positions held on ``day``: started (or no start date) and not yet ended (the end
    date, 离任日期, is the last day served)."""
    return valid_on(day, start="start", end="end", until_inclusive=True)


def counts(user: Any, under: str = "") -> dict[str, int]:
    """Counts under ``user``'s scope, optionally only under the area path ``under``.

    ``residents`` and ``party_members`` count living persons; ``three_heads`` counts
    小区长/楼栋长/单元长 positions held today; ``party_branches`` the 小区党支部.
    """
    today = timezone.localdate()

    def scoped(model: Any) -> Any:
        qs = model.objects.visible_to(user)
        return qs.filter(area_path__startswith=under) if under else qs

    areas = scoped(Area).aggregate(
        streets=Count("pk", filter=Q(kind=AreaKind.STREET)),
        communities=Count("pk", filter=Q(kind=AreaKind.COMMUNITY)),
        grids=Count("pk", filter=Q(kind=AreaKind.GRID)),
    )
    kept = _kept_census(user, under, today)
    if kept is not None:
        people = kept.totals(under)
    else:
        # Counted alone (the API, the screen, an area's figures), two plain counts cost
        # a third of the census's grouping; the census is read by what needs it.
        people = (
            scoped(Person)
            .filter(death_date__isnull=True)
            .aggregate(
                residents=Count("pk"),
                party_members=Count("pk", filter=Q(political_status__in=PARTY)),
            )
        )
    result: dict[str, int] = {
        "streets": areas["streets"],
        "communities": areas["communities"],
        "party_branches": scoped(PartyOrganization).filter(kind=PartyOrgKind.BRANCH).count(),
        "grids": areas["grids"],
        "central_households": scoped(CentralHousehold).count(),
        "three_heads": scoped(Position).filter(held_on(today), role__in=THREE_HEADS).count(),
        "forces": scoped(Force).count(),
        "residents": people["residents"],
        "households": scoped(Household).count(),
        "dwellings": scoped(Dwelling).count(),
        "party_members": people["party_members"],
    }
    for labels, fn in _EXTRA:
        extra = fn(user, under)
        result.update({key: int(extra.get(key, 0)) for key in labels})
    return result


def labelled(values: dict[str, int]) -> list[tuple[str, str, int]]:
    """``(key, Chinese label, value)`` in display order, for templates."""
    labels = all_labels()
    return [(key, labels[key], values[key]) for key in labels if key in values]


#: Age bands of the age-structure chart: (label, lowest age, highest age or None).
AGE_BANDS: list[tuple[str, int, int | None]] = [
    ("0–17岁", 0, 17),
    ("18–34岁", 18, 34),
    ("35–59岁", 35, 59),
    ("60–79岁", 60, 79),
    ("80岁以上", 80, None),
]


def age_structure(user: Any, under: str = "", today: dt.date | None = None) -> list[dict[str, Any]]:
    """Living residents per age band: ``[{"label", "count"}, …]`` (from the census)."""
    return census(user, under, today).ages(under)


# --- the census: living residents of a scope by area path ---------------------------------
#: The ages whose first birthday the census counts against: each band's lowest age and
#: the first age above it. A band is "born on or before the day ``low`` years ago" less
#: "born on or before the day ``high + 1`` years ago".
THRESHOLDS: tuple[int, ...] = tuple(
    sorted({low for _, low, _ in AGE_BANDS} | {h + 1 for _, _, h in AGE_BANDS if h is not None})
)


@dataclass(frozen=True)
class PathRow:
    """The living residents of one area path: how many, how many party members, and
    how many were born on or before each of :data:`THRESHOLDS` years ago (a person
    without a birth date counts in none)."""

    path: str
    residents: int
    party_members: int
    born_by: tuple[int, ...]


@dataclass(frozen=True)
class Census:
    """The living residents a user sees under ``under``, by area path, on ``today``."""

    under: str
    today: dt.date
    rows: tuple[PathRow, ...]

    def within(self, under: str) -> Iterable[PathRow]:
        """The rows under the area path ``under`` (all of them for ``""``)."""
        if not under or under == self.under:
            return self.rows
        return (r for r in self.rows if r.path.startswith(under))

    def totals(self, under: str = "") -> dict[str, int]:
        residents = party = 0
        for r in self.within(under):
            residents += r.residents
            party += r.party_members
        return {"residents": residents, "party_members": party}

    def ages(self, under: str = "") -> list[dict[str, Any]]:
        born = [0] * len(THRESHOLDS)
        for r in self.within(under):
            for i, n in enumerate(r.born_by):
                born[i] += n
        by_age = dict(zip(THRESHOLDS, born, strict=True))
        return [
            {"label": label, "count": by_age[low] - (by_age[high + 1] if high is not None else 0)}
            for label, low, high in AGE_BANDS
        ]

    def per_prefix(self, length: int, under: str = "") -> dict[str, dict[str, int]]:
        """Residents and party members summed by the first ``length`` characters of the
        path (the path of the child area above each row)."""
        out: dict[str, dict[str, int]] = {}
        for r in self.within(under):
            sums = out.setdefault(r.path[:length], {"residents": 0, "party_members": 0})
            sums["residents"] += r.residents
            sums["party_members"] += r.party_members
        return out


# One census per user, area and day within a request, kept with the request's acting
# context (core.context): the home page asks for the totals, the children's counts and
# the age structure, and gets them from one query. Outside a web or API request (tests,
# jobs, the command line) nothing is kept, so a count after a change is always fresh.
_kept: contextvars.ContextVar[tuple[object, dict[tuple[Any, ...], Census]] | None] = (
    contextvars.ContextVar("jiayuan_people_census", default=None)
)


def _request_store() -> dict[tuple[Any, ...], Census] | None:
    acting = context.current()
    if not acting.request_id or acting.channel not in ("web", "api"):
        return None
    held = _kept.get()
    if held is None or held[0] is not acting:
        held = (acting, {})
        _kept.set(held)
    return held[1]


def _kept_census(user: Any, under: str, today: dt.date) -> Census | None:
    """A census this request already read that holds every row of ``under``: read under
    a prefix of it, or covering the user's whole scope."""
    store = _request_store()
    for (pk, day, done_under), found in (store or {}).items():
        if pk != user.pk or day != today:
            continue
        if under.startswith(done_under) or all(p.startswith(done_under) for p in scope_paths(user)):
            return found
    return None


def census(user: Any, under: str = "", today: dt.date | None = None) -> Census:
    """The living residents ``user`` sees under the area path ``under``, grouped by area
    path in one query; within a request a census already read that holds them all is
    reused (:func:`_kept_census`)."""
    today = today or timezone.localdate()
    kept = _kept_census(user, under, today)
    if kept is not None:
        return kept
    result = _read_census(user, under, today)
    store = _request_store()
    if store is not None:
        store[(user.pk, today, under)] = result
    return result


def _read_census(user: Any, under: str, today: dt.date) -> Census:
    qs = Person.objects.visible_to(user).filter(death_date__isnull=True)
    if under:
        qs = qs.filter(area_path__startswith=under)
    # On SQLite the index on (death_date, area_path COLLATE NOCASE, …) (people 0007) holds
    # every column read here, in this order: grouping by the path in the index's
    # collation reads it without sorting. Paths are digits and slashes, so the groups
    # are the same in either collation.
    path = Collate(F("area_path"), "nocase") if connection.vendor == "sqlite" else F("area_path")
    born = {
        f"b{i}": Count("pk", filter=Q(birth_date__lte=years_before(today, age)))
        for i, age in enumerate(THRESHOLDS)
    }
    grouped = (
        qs.annotate(group_path=path)
        .order_by()
        .values("group_path")
        .annotate(
            residents=Count("pk"),
            party_members=Count("pk", filter=Q(political_status__in=PARTY)),
            **born,
        )
    )
    rows = tuple(
        PathRow(
            g["group_path"],
            g["residents"],
            g["party_members"],
            tuple(g[f"b{i}"] for i in range(len(THRESHOLDS))),
        )
        for g in grouped
    )
    return Census(under, today, rows)
