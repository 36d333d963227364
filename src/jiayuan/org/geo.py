"""Point lookup: the deepest area whose boundary contains a point.

Boundaries are loaded once per process into a shapely STRtree, together with the
bounded areas themselves (county, streets, communities, zones, grids), so that case
intake locates a point and finds the areas above it without a query
(:func:`locate`, :func:`area_at`). The copy is a
:class:`~jiayuan.core.cache.ProcessCache`: a save of an area in this process is seen at
once; changes made elsewhere are noticed by a cheap version check (the count and latest
``updated_at`` of bounded areas), made at most every :data:`GEO_INDEX_TTL_S` seconds
instead of on every lookup.

Callers get copies of the cached areas: nothing they change leaks into the index.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max
from shapely import STRtree
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from jiayuan.core.cache import ProcessCache

from .choices import AREA_ORDER, BOUNDED_KINDS
from .models import Area

# How stale another process's copy of the boundaries may be. Boundaries are drawn once
# and edited rarely; half a minute is far below what a resident filing a case notices.
GEO_INDEX_TTL_S = 30.0


@dataclass
class _Index:
    tree: STRtree
    geoms: list[BaseGeometry]
    ids: list[int]
    depth: list[int]
    areas: dict[int, Area] = field(default_factory=dict)
    by_path: dict[str, Area] = field(default_factory=dict)


def _version() -> tuple[Any, ...]:
    agg = Area.objects.filter(kind__in=BOUNDED_KINDS).aggregate(n=Count("id"), t=Max("updated_at"))
    return (agg["n"], agg["t"])


def _build() -> _Index:
    geoms: list[BaseGeometry] = []
    ids: list[int] = []
    depth: list[int] = []
    areas: dict[int, Area] = {}
    for area in Area.objects.filter(kind__in=BOUNDED_KINDS).order_by():
        areas[area.pk] = area
        if area.boundary is None:
            continue
        geoms.append(shape(area.boundary))
        ids.append(area.pk)
        depth.append(AREA_ORDER.index(area.kind))
    by_path = {area.path: area for area in areas.values()}
    return _Index(STRtree(geoms), geoms, ids, depth, areas, by_path)


_index: ProcessCache[_Index] = ProcessCache(_build, ttl=GEO_INDEX_TTL_S, version=_version)
# buildings and units carry no boundary of their own: they are not in the index
_index.watch(Area, uid="geo.area", ignore=lambda kw: kw["instance"].kind not in BOUNDED_KINDS)


def _current_index() -> _Index:
    return _index.get()


def forget_index() -> None:
    """Drop this process's copy; the next lookup reads the areas again."""
    _index.forget()


def locate(lat: float, lng: float, kind: str | None = None) -> Area | None:
    """The deepest bounded area containing (lat, lng), or of ``kind`` if given."""
    index = _current_index()
    point = Point(lng, lat)
    best: tuple[int, int] | None = None
    for i in index.tree.query(point, predicate="intersects"):
        if kind is not None and AREA_ORDER[index.depth[i]] != kind:
            continue
        if best is None or index.depth[i] > best[0]:
            best = (index.depth[i], index.ids[i])
    if best is None:
        return None
    return copy.copy(index.areas[best[1]])


def area_at(path: str) -> Area | None:
    """The bounded area (county, street, community, zone or grid) at ``path``, from the
    index; ``None`` when there is none."""
    found = _current_index().by_path.get(path)
    return copy.copy(found) if found is not None else None


def centroid(boundary: dict[str, Any]) -> tuple[float, float]:
    """(lat, lng) of a GeoJSON polygon's centroid."""
    geom = shape(boundary)
    if not isinstance(geom, Polygon):
        geom = geom.convex_hull
    c = geom.centroid
    return (round(c.y, 6), round(c.x, 6))
