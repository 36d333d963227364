"""Plane geometry every app shares: GeoJSON for the map pages, distances in metres.

Coordinates are WGS 84 degrees; GeoJSON orders them (lng, lat), the rest of Jiayuan
(lat, lng). Areas store their boundary either as a bare geometry or wrapped in a
``Feature``; :func:`geometry` accepts both. Nothing here touches the database: point
lookups over the area tree live in ``org.geo``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

EARTH_RADIUS_M = 6_371_000.0
# metres per degree of latitude (and of longitude at the equator), for bounding boxes
METRES_PER_DEGREE = 111_000.0

GeoJSON = dict[str, Any]


class Bounded(Protocol):
    """Anything with a GeoJSON ``boundary`` (an ``org.Area``)."""

    boundary: Any


_B = TypeVar("_B", bound=Bounded)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres between two points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def bbox_around(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """``(south, north, west, east)`` of a box holding every point within ``radius_m``.

    The box is a cheap index-friendly pre-filter (``lat__range``/``lng__range``); follow
    it with :func:`distance_m` for the exact circle. Near the poles the longitude span
    is capped as if at 84° so the box stays finite.
    """
    d_lat = radius_m / METRES_PER_DEGREE
    d_lng = d_lat / max(math.cos(math.radians(lat)), 0.1)
    return (lat - d_lat, lat + d_lat, lng - d_lng, lng + d_lng)


def geometry(shape: Mapping[str, Any] | None) -> GeoJSON | None:
    """The geometry of a stored boundary, whether it is a bare geometry or a Feature."""
    if not shape:
        return None
    if shape.get("type") == "Feature":
        inner = shape.get("geometry")
        return dict(inner) if inner else None
    return dict(shape)


def point(lat: float, lng: float) -> GeoJSON:
    """A GeoJSON point (note the (lng, lat) order)."""
    return {"type": "Point", "coordinates": [lng, lat]}


def rectangle(west: float, south: float, east: float, north: float) -> GeoJSON:
    """A GeoJSON polygon for a lat/lng box (counter-clockwise, closed)."""
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def feature(geom: GeoJSON, properties: Mapping[str, Any] | None = None) -> GeoJSON:
    """A GeoJSON Feature."""
    return {"type": "Feature", "geometry": geom, "properties": dict(properties or {})}


def feature_collection(features: Iterable[GeoJSON]) -> GeoJSON:
    """A GeoJSON FeatureCollection, what the Leaflet pages load."""
    return {"type": "FeatureCollection", "features": list(features)}


def boundary_features(
    areas: Iterable[_B], properties: Callable[[_B], Mapping[str, Any]]
) -> list[GeoJSON]:
    """One Feature per area that has a boundary, with ``properties(area)``; areas
    without one are left out."""
    return [feature(g, properties(a)) for a in areas if (g := geometry(a.boundary)) is not None]
