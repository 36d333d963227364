"""The JSON API of the partners app's registry part."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["红色合伙人"])
