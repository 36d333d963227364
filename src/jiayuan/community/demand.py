"""The demand list (需求清单) of a compound: its open micro-wishes and, through the
registry in :mod:`jiayuan.core.demands`, the open matters of other apps (the request
loop's open cases) — one list for the branch secretary and the community to work from.
``community`` never reads another app's tables: each source answers for itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse

from jiayuan.core import demands
from jiayuan.core.errors import NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import scope_paths, scope_q
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.org.paths import ancestor_path

from .choices import OPEN_WISH_STATUSES, WishStatus
from .residents import home_path, may_see_compound
from .wishes import visible_wishes

LABELS = dict(WishStatus.choices)


def open_wishes(user: Any, zone_path: str) -> list[demands.DemandItem]:
    """The compound's wishes still waiting (collected or claimed) that ``user`` may see."""
    rows = (
        visible_wishes(user)
        .filter(area_path__startswith=zone_path, status__in=OPEN_WISH_STATUSES)
        .order_by("-created_at", "-pk")
        .values_list("pk", "number", "title", "status", "area_path", "created_at")[: demands.LIMIT]
    )
    return [
        demands.DemandItem(
            source="wishes",
            kind="微心愿",
            ref=number,
            title=title,
            status=status,
            status_label=str(LABELS.get(status, status)),
            area_path=area_path,
            created_at=created_at,
            link=reverse("community:wish_detail", args=[pk]),
        )
        for pk, number, title, status, area_path, created_at in rows
    ]


@dataclass
class DemandList:
    compound: Area
    items: list[demands.DemandItem]

    def count(self, source: str) -> int:
        return sum(1 for item in self.items if item.source == source)


def _zone_paths_below(user: Any) -> set[str]:
    """The compounds holding a part of the user's scope (a grid worker's grid …)."""
    out = set()
    for path in scope_paths(user, Perm.VIEW):
        try:
            out.add(ancestor_path(path, AreaKind.ZONE))
        except ValueError:
            continue
    return out


def compounds_of(user: Any) -> QuerySet[Area]:
    """The compounds whose demand list ``user`` may open: inside their scope, holding a
    part of it (a grid worker's grid), or the one they live in."""
    q = scope_q(user, Perm.VIEW, field="path") | Q(path__in=_zone_paths_below(user))
    home = home_path(user)
    if home is not None:
        q |= Q(path=home)
    return Area.objects.filter(q, kind=AreaKind.ZONE).order_by("path")


def compound_for(user: Any, area_id: int) -> Area:
    """The compound ``area_id`` if ``user`` may see (a part of) its services, else 404."""
    zone = Area.objects.filter(pk=min(area_id, 2**63 - 1), kind=AreaKind.ZONE).first()
    if zone is None:
        raise NotFound()
    if not (may_see_compound(user, zone.path) or zone.path in _zone_paths_below(user)):
        raise NotFound()
    return zone


def demand_list(user: Any, area_id: int) -> DemandList:
    """需求清单: every open matter of the compound ``area_id`` that ``user`` may see."""
    zone = compound_for(user, area_id)
    return DemandList(zone, demands.collect(user, zone.path))


def connect() -> None:
    demands.register("wishes", open_wishes)
