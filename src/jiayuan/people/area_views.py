"""Area browser (区域) and the grid page (网格): the area tree, boundaries on a map, and
everything a grid worker needs about their grid on one page."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Case, Count, Prefetch, Q, QuerySet, When
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from jiayuan.core import geo
from jiayuan.core.scoping import path_allowed, scope_paths
from jiayuan.core.views import is_htmx, page, scoped_get_or_404
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling

from .choices import THREE_HEADS, PositionRole, Relation
from .models import (
    CentralHousehold,
    Force,
    Household,
    Person,
    PersonTag,
    Position,
)
from .overview import census, counts, held_on, labelled

RESIDENTS_PER_PAGE = 25
# Which counts to show for the children of an area of a given kind.
CHILD_COLUMNS: dict[str, list[str]] = {
    AreaKind.COUNTY: ["communities", "grids", "households", "residents"],
    AreaKind.STREET: ["grids", "households", "residents", "party_members"],
    AreaKind.COMMUNITY: ["grids", "households", "residents", "party_members"],
    AreaKind.ZONE: ["households", "residents", "party_members"],
    AreaKind.GRID: ["households", "residents"],
    AreaKind.BUILDING: ["households", "residents"],
    AreaKind.UNIT: [],
}
_BELOW_GRID = ["residents", "households", "dwellings", "party_members"]
_GRID_AND_BELOW = ["central_households", "three_heads", "forces", *_BELOW_GRID]
STAT_KEYS: dict[str, list[str]] = {
    AreaKind.COUNTY: ["streets", "communities", "party_branches", "grids", *_GRID_AND_BELOW],
    AreaKind.STREET: ["communities", "party_branches", "grids", *_GRID_AND_BELOW],
    AreaKind.COMMUNITY: ["party_branches", "grids", *_GRID_AND_BELOW],
    AreaKind.ZONE: ["grids", *_GRID_AND_BELOW],
    AreaKind.GRID: _GRID_AND_BELOW,
    AreaKind.BUILDING: _BELOW_GRID,
    AreaKind.UNIT: _BELOW_GRID,
}
COLUMN_LABELS = {
    "communities": "社区",
    "grids": "网格",
    "households": "户数",
    "residents": "居民",
    "party_members": "党员",
}


# Badge colours of tag categories; other categories get the default.
TAG_COLORS = {
    "党员": "bg-red-lt",
    "特殊人群": "bg-orange-lt",
    "优抚对象": "bg-purple-lt",
    "社会保障": "bg-teal-lt",
    "社会救助": "bg-yellow-lt",
    "计划生育": "bg-pink-lt",
}
DEFAULT_TAG_COLOR = "bg-azure-lt"


# --- helpers ------------------------------------------------------------------------------
def tag_css(category: str) -> str:
    return TAG_COLORS.get(category, DEFAULT_TAG_COLOR)


def mark_linkable(user: Any, person: Person) -> None:
    """Set ``person.linkable``: whether the user may open the person's page."""
    person.linkable = path_allowed(user, person.area_path)  # type: ignore[attr-defined]


def scope_roots(user: Any) -> QuerySet[Area]:
    """The top areas of ``user``'s scope: where their area browser starts."""
    paths = scope_paths(user)
    if "" in paths:
        return Area.objects.filter(parent__isnull=True)
    return Area.objects.filter(path__in=paths)


def map_features(current: Area | None, children: list[Area]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the current area and its children, for Leaflet; a
    child without a boundary shows as a point at its centroid."""
    features = []
    for area, role in [(current, "current")] + [(c, "child") for c in children]:
        if area is None:
            continue
        shape = geo.geometry(area.boundary)
        centre = area.centroid
        if shape is None and role == "child" and centre is not None:
            shape = geo.point(centre["lat"], centre["lng"])
        if shape is None:
            continue
        properties = {
            "name": area.name,
            "kind": area.get_kind_display(),
            "url": reverse("area", args=[area.pk]),
            "role": role,
        }
        features.append(geo.feature(shape, properties))
    return geo.feature_collection(features)


def breadcrumbs(user: Any, area: Area) -> list[tuple[Area, bool]]:
    """Ancestors of ``area`` with whether the user may open each (others show as text)."""
    return [(a, path_allowed(user, a.path)) for a in area.ancestors()]


def child_counts(
    user: Any, children: list[Area], columns: list[str], under: str = ""
) -> dict[int, dict[str, int]]:
    """Per-child counts: residents and party members summed from the request's census of
    living residents (``overview.census``, one query shared with the page's totals and
    age structure); households and areas in one grouped query per model."""
    result: dict[int, dict[str, int]] = {c.pk: {} for c in children}
    if not children or not columns:
        return result

    by_path = {c.path: c.pk for c in children}
    lengths = sorted({len(c.path) for c in children})

    def per_child(qs: QuerySet[Any], key: str, extra: Q | None = None) -> None:
        # Grouped by the child-length prefix of each row's path: one pass over the rows,
        # where a filtered count per child tested every row against every child's path.
        # Sibling paths end in "/", so none is a prefix of another.
        for c in children:
            result[c.pk][key] = 0
        for length in lengths:
            rows = (
                qs.filter(extra or Q())
                .annotate(prefix=Substr("area_path", 1, length))
                .order_by()
                .values("prefix")
                .annotate(n=Count("pk"))
                .values_list("prefix", "n")
            )
            for prefix, n in rows:
                if prefix in by_path:
                    result[by_path[prefix]][key] = n

    living = [key for key in ("residents", "party_members") if key in columns]
    if living:
        people = census(user, under)
        for c in children:
            result[c.pk].update(dict.fromkeys(living, 0))
        for length in lengths:
            for prefix, sums in people.per_prefix(length, under).items():
                if prefix in by_path:
                    result[by_path[prefix]].update({key: sums[key] for key in living})
    if "households" in columns:
        per_child(
            Household.objects.visible_to(user).filter(area_path__startswith=under),
            "households",
        )
    areas = Area.objects.visible_to(user).filter(area_path__startswith=under)
    if "grids" in columns:
        per_child(areas, "grids", Q(kind=AreaKind.GRID))
    if "communities" in columns:
        per_child(areas, "communities", Q(kind=AreaKind.COMMUNITY))
    return result


def stats_for(user: Any, area: Area) -> list[tuple[str, str, int]]:
    """The scope counts under ``area`` that say something at its level (a community
    page does not count "1 community")."""
    keys = STAT_KEYS.get(area.kind, [])
    return [item for item in labelled(counts(user, under=area.path)) if item[0] in keys]


def child_rows(
    user: Any, children: list[Area], columns: list[str], under: str = ""
) -> list[tuple[Area, list[int]]]:
    """``(child, [count per column])`` rows for a children table."""
    per_child = child_counts(user, children, columns, under)
    return [(c, [per_child[c.pk].get(col, 0) for col in columns]) for c in children]


# --- views --------------------------------------------------------------------------------
@page
def area_index(request: HttpRequest) -> HttpResponse:
    """区域: the top areas of the user's scope, on a map."""
    roots = list(scope_roots(request.user).order_by("path"))
    if len(roots) == 1:
        return redirect("area", roots[0].pk)
    columns = ["grids", "households", "residents"]
    context = {
        "roots": roots,
        "rows": child_rows(request.user, roots, columns),
        "columns": [(c, COLUMN_LABELS[c]) for c in columns],
        "features": map_features(None, roots),
    }
    return render(request, "org/area_index.html", context)


@page
def area_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One area: breadcrumbs, children with counts, boundaries on a map. A grid gets
    the grid page."""
    user = request.user
    area = scoped_get_or_404(Area.objects.visible_to(user), pk=pk)
    if area.kind == AreaKind.GRID:
        return grid_page(request, area)
    children = list(Area.objects.visible_to(user).filter(parent=area).order_by("code"))
    columns = CHILD_COLUMNS.get(area.kind, [])
    dwellings = None
    if area.kind in (AreaKind.BUILDING, AreaKind.UNIT):
        dwellings = dwelling_rows(user, area)
    context = {
        "area": area,
        "crumbs": breadcrumbs(user, area),
        "stats": stats_for(user, area),
        "children": child_rows(user, children, columns, under=area.path),
        "columns": [(c, COLUMN_LABELS[c]) for c in columns],
        "child_kind": children[0].get_kind_display() if children else "",
        "features": map_features(area, children),
        "dwellings": dwellings,
        "has_map": area.kind not in (AreaKind.BUILDING, AreaKind.UNIT),
    }
    return render(request, "org/area_detail.html", context)


def dwelling_rows(user: Any, area: Area) -> list[dict[str, Any]]:
    """Dwellings under ``area`` with their households and residents (for building and
    grid pages): three queries whatever the number of dwellings."""
    dwellings = list(
        Dwelling.objects.visible_to(user)
        .filter(area_path__startswith=area.path)
        .select_related("unit")
        .order_by("area_path", "floor", "number")
    )
    households: dict[int, list[Household]] = defaultdict(list)
    for h in Household.objects.visible_to(user).filter(
        area_path__startswith=area.path, dwelling__isnull=False
    ):
        households[h.dwelling_id].append(h)  # type: ignore[index]
    persons: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for p in (
        Person.objects.visible_to(user)
        .filter(area_path__startswith=area.path, dwelling__isnull=False, death_date__isnull=True)
        .order_by("household_id", "relation", "name")
        .values("pk", "name", "dwelling_id", "relation")
    ):
        persons[p["dwelling_id"]].append(p)
    return [
        {
            "dwelling": d,
            "households": households.get(d.pk, []),
            "persons": persons.get(d.pk, []),
        }
        for d in dwellings
    ]


def residents_page(request: HttpRequest, grid: Area) -> Any:
    queryset = (
        Person.objects.visible_to(request.user)
        .filter(area_path__startswith=grid.path, death_date__isnull=True)
        .select_related("dwelling__unit__parent", "household")
        .prefetch_related(
            Prefetch("tags", queryset=PersonTag.objects.select_related("tag").order_by("tag_id"))
        )
        # Household by household, the head first.
        .annotate(head_first=Case(When(relation=Relation.HEAD, then=0), default=1))
        .order_by("dwelling__unit__path", "dwelling__number", "household_id", "head_first", "pk")
    )
    paginator = Paginator(queryset, RESIDENTS_PER_PAGE)
    residents = paginator.get_page(request.GET.get("page"))
    for person in residents:
        for assignment in person.tags.all():
            assignment.css = tag_css(assignment.tag.category)  # type: ignore[attr-defined]
    return residents


def grid_page(request: HttpRequest, grid: Area) -> HttpResponse:
    """网格: buildings and units with dwellings, households and residents; positions,
    central households and forces. Residents are paginated (htmx swaps the list)."""
    user = request.user
    residents = residents_page(request, grid)
    if is_htmx(request) and request.headers.get("HX-Target") == "residents":
        return render(request, "org/partials/residents.html", {"residents": residents})

    buildings = list(
        Area.objects.visible_to(user).filter(parent=grid, kind=AreaKind.BUILDING).order_by("code")
    )
    units: dict[int, list[Area]] = defaultdict(list)
    for unit in (
        Area.objects.visible_to(user)
        .filter(parent__in=buildings, kind=AreaKind.UNIT)
        .order_by("code")
    ):
        units[unit.parent_id].append(unit)  # type: ignore[index]
    rows_by_unit: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in dwelling_rows(user, grid):
        rows_by_unit[row["dwelling"].unit_id].append(row)
    tree = []
    for b in buildings:
        unit_rows = [(u, rows_by_unit.get(u.pk, [])) for u in units.get(b.pk, [])]
        tree.append(
            {
                "building": b,
                "units": unit_rows,
                "dwellings": sum(len(r) for _, r in unit_rows),
                "residents": sum(len(d["persons"]) for _, r in unit_rows for d in r),
            }
        )

    positions = list(
        Position.objects.visible_to(user)
        .filter(held_on(timezone.localdate()), area_path__startswith=grid.path)
        .select_related("person", "area")
        .order_by("area__path", "role")
    )
    central = list(
        CentralHousehold.objects.visible_to(user)
        .filter(grid=grid)
        .select_related("person")
        .prefetch_related(
            Prefetch(
                "households",
                queryset=Household.objects.visible_to(user).select_related(
                    "head", "dwelling__unit__parent"
                ),
            )
        )
    )
    forces = list(
        Force.objects.visible_to(user)
        .filter(area_path__startswith=grid.path)
        .select_related("person")
        .order_by("kind", "person__name")
    )
    # Position holders may live outside the grid (and the user's scope): name them, but
    # link only those the user may open.
    for row in [*positions, *central, *forces]:
        mark_linkable(user, row.person)
    for c in central:
        for h in c.households.all():
            if h.head is not None:
                mark_linkable(user, h.head)
    workers = [
        p
        for p in positions
        if p.role in (PositionRole.GRID_WORKER, PositionRole.PART_TIME_GRID_WORKER)
    ]
    context = {
        "area": grid,
        "grid": grid,
        "crumbs": breadcrumbs(user, grid),
        "stats": stats_for(user, grid),
        "tree": tree,
        "residents": residents,
        "positions": positions,
        "workers": workers,
        "three_heads": [p for p in positions if p.role in THREE_HEADS],
        "central": central,
        "forces": forces,
        "features": map_features(grid, buildings),
    }
    return render(request, "org/grid.html", context)
