"""The shared geometry helpers: distances, boxes and the map pages' GeoJSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from jiayuan.core.geo import bbox_around, boundary_features, distance_m, geometry

# 汶上县 county seat, roughly
LAT, LNG = 35.7325, 116.4890


def test_distance_in_metres() -> None:
    assert distance_m(LAT, LNG, LAT, LNG) == 0
    # one thousandth of a degree of latitude is about 111 m everywhere
    assert distance_m(LAT, LNG, LAT + 0.001, LNG) == pytest.approx(111.2, abs=0.5)
    # a degree of longitude shrinks with cos(latitude)
    assert distance_m(LAT, LNG, LAT, LNG + 0.001) == pytest.approx(90.3, abs=0.5)


def test_bbox_holds_the_circle() -> None:
    south, north, west, east = bbox_around(LAT, LNG, 200)
    for lat, lng in [(north, LNG), (south, LNG), (LAT, east), (LAT, west)]:
        assert distance_m(LAT, LNG, lat, lng) >= 199


@dataclass
class _Area:
    name: str
    boundary: Any


def test_features_unwrap_stored_features_and_skip_unbounded() -> None:
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    areas = [
        _Area("a", poly),
        _Area("b", {"type": "Feature", "geometry": poly, "properties": {}}),
        _Area("c", None),
    ]
    assert geometry(areas[1].boundary) == poly
    features = boundary_features(areas, lambda a: {"name": a.name})
    assert [f["properties"]["name"] for f in features] == ["a", "b"]
    assert all(f["type"] == "Feature" and f["geometry"] == poly for f in features)
