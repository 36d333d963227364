"""The one screen's JSON: the panels of a scope and its map layers."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["command"])
