"""Cases' side of the incident bridge (:mod:`jiayuan.core.incidents`).

A device alarm that must be handled by people arrives as ``incident_raised`` and becomes
a case on the ``device`` channel, routed to the grid the device sits in, with the alarm's
key as ``source_ref``. When the action that finishes such a case (approval's visit,
rejection, merging …) is performed, ``incident_closed`` tells the sender and the alarm
closes: that is an effect of the action (see :func:`jiayuan.cases.actions.apply`), not
of saving the row, so a later save of the finished case sends nothing. Connected in
:meth:`CasesConfig.ready`.
"""

from __future__ import annotations

from typing import Any

from jiayuan.core.errors import ValidationFailed
from jiayuan.core.incidents import incident_raised
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling
from jiayuan.org.paths import KIND_DEPTH, ancestor_path

from . import routing, services
from .choices import Channel, Priority
from .models import Case, Category


def _grid_of(area: Area | None, dwelling: Dwelling | None, lat: Any, lng: Any) -> Area:
    """The grid containing the incident: the area's own grid when it sits at or below a
    grid, else the dwelling's or the point's."""
    if area is not None:
        if area.kind == AreaKind.GRID:
            return area
        depth = KIND_DEPTH[AreaKind.GRID]
        if len(area.path.rstrip("/").split("/")) > depth:
            return Area.objects.get(path=ancestor_path(area.path, AreaKind.GRID))
    return routing.locate_grid(lat=lat, lng=lng, dwelling=dwelling)


def open_case_for_incident(
    sender: Any,
    *,
    key: str,
    category_code: str,
    title: str,
    description: str,
    area: Area | None = None,
    dwelling: Dwelling | None = None,
    lat: float | None = None,
    lng: float | None = None,
    priority: str = Priority.URGENT,
    **_: Any,
) -> str:
    """Open (or find, for a re-sent key) the case of an incident; returns its number."""
    existing = Case.objects.filter(source_ref=key, channel=Channel.DEVICE).first()
    if existing is not None:
        return existing.number
    category = Category.objects.filter(code=category_code).first()
    if category is None:
        raise ValidationFailed(
            f"工单类别 {category_code} 不存在", f"no case category {category_code}",
            field="case_category_code",
        )  # fmt: skip
    case = services.intake(
        actor=None,
        channel=Channel.DEVICE,
        category=category,
        title=title,
        description=description,
        lat=lat,
        lng=lng,
        dwelling=dwelling,
        grid=_grid_of(area, dwelling, lat, lng),
        priority=priority if priority in Priority.values else Priority.URGENT,
        source_ref=key,
    )
    return case.number


def connect() -> None:
    incident_raised.connect(open_case_for_incident, dispatch_uid="cases-open-incident")
