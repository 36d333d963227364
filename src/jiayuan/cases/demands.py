"""Cases' source of the demand list (:mod:`jiayuan.core.demands`): a compound's open
cases that the user may see, registered in :meth:`CasesConfig.ready`."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from jiayuan.core import demands

from .choices import OPEN_STATUSES, Status
from .queries import visible_cases

LABELS = dict(Status.choices)


def open_cases(user: Any, zone_path: str) -> list[demands.DemandItem]:
    """The open cases located in the compound at ``zone_path`` (by their grid)."""
    rows = (
        visible_cases(user)
        .filter(grid__path__startswith=zone_path, status__in=OPEN_STATUSES)
        .order_by("-received_at", "-pk")
        .values_list("pk", "number", "title", "status", "area_path", "received_at")[: demands.LIMIT]
    )
    return [
        demands.DemandItem(
            source="cases",
            kind="诉求",
            ref=number,
            title=title,
            status=status,
            status_label=str(LABELS.get(status, status)),
            area_path=area_path,
            created_at=received_at,
            link=reverse("cases:detail", args=[pk]),
        )
        for pk, number, title, status, area_path, received_at in rows
    ]


def connect() -> None:
    demands.register("cases", open_cases)
