"""JSON API of the community services: deliberation."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["社区服务"])
