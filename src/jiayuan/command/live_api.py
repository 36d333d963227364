"""The one screen's map layers as GeoJSON, one per kind."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["command"])
