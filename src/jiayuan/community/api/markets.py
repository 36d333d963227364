"""JSON API of the community services: markets."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["社区服务"])
