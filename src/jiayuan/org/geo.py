"""Point lookup: the deepest area whose boundary contains a point.

Boundaries are loaded once per process into a shapely STRtree and reloaded when the
areas change anywhere (another process included): the cache key is the count and the
latest ``updated_at`` of bounded areas, one cheap query per lookup.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max
from shapely import STRtree
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from .choices import AREA_ORDER, BOUNDED_KINDS
from .models import Area


@dataclass
class _Index:
    key: tuple[Any, ...]
    tree: STRtree
    geoms: list[BaseGeometry]
    ids: list[int]
    depth: list[int]


_lock = threading.Lock()
_index: _Index | None = None


def _version() -> tuple[Any, ...]:
    agg = Area.objects.filter(kind__in=BOUNDED_KINDS).aggregate(n=Count("id"), t=Max("updated_at"))
    return (agg["n"], agg["t"])


def _build(key: tuple[Any, ...]) -> _Index:
    geoms: list[BaseGeometry] = []
    ids: list[int] = []
    depth: list[int] = []
    rows = Area.objects.filter(kind__in=BOUNDED_KINDS, boundary__isnull=False).values_list(
        "id", "kind", "boundary"
    )
    for pk, kind, boundary in rows:
        geoms.append(shape(boundary))
        ids.append(pk)
        depth.append(AREA_ORDER.index(kind))
    return _Index(key, STRtree(geoms), geoms, ids, depth)


def _current_index() -> _Index:
    global _index
    key = _version()
    with _lock:
        if _index is None or _index.key != key:
            _index = _build(key)
        return _index


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
    return Area.objects.get(pk=best[1])


def centroid(boundary: dict[str, Any]) -> tuple[float, float]:
    """(lat, lng) of a GeoJSON polygon's centroid."""
    geom = shape(boundary)
    if not isinstance(geom, Polygon):
        geom = geom.convex_hull
    c = geom.centroid
    return (round(c.y, 6), round(c.x, 6))
