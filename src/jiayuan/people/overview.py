"""Scope summary (概览): the counts a user sees on the home page and ``GET /api/v1/overview``.

One function so the page and the API can never disagree. Every count starts from
``visible_to(user)``, optionally narrowed to one area's subtree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from jiayuan.core.rules.age import years_before
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
    """Living residents per age band, in one query: ``[{"label", "count"}, …]``."""
    today = today or timezone.localdate()
    aggregates = {}
    for i, (_, low, high) in enumerate(AGE_BANDS):
        cond = Q(birth_date__lte=years_before(today, low))
        if high is not None:
            # Aged at most ``high``: born after this day ``high + 1`` years ago.
            cond &= Q(birth_date__gt=years_before(today, high + 1))
        aggregates[f"b{i}"] = Count("pk", filter=cond)
    qs = Person.objects.visible_to(user).filter(death_date__isnull=True)
    if under:
        qs = qs.filter(area_path__startswith=under)
    row = qs.aggregate(**aggregates)
    return [{"label": label, "count": row[f"b{i}"]} for i, (label, _, _) in enumerate(AGE_BANDS)]
