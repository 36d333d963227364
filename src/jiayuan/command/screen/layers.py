"""The one screen's map layers (图层): one GeoJSON FeatureCollection per kind for a scope
area (a county, street or community the user may see).

=========  ==========================================================================
kind       what the layer holds
=========  ==========================================================================
grids      the scope's outline, its communities (on a county or street screen) and
           its grids, drawn from ``org.Area.boundary``
cases      open cases with a place, their status and traffic light (cases.sla)
alarms     open alarms (active or acknowledged) at their device's point, by severity
devices    devices at their point with their status; above :data:`DEVICE_POINTS_MAX`
           devices (a street or the county: 10,000+) one point per grid instead, with
           the counts per status, so the payload stays small
positions  the community's service positions (阵地) with their number of facilities
forces     forces on duty at their shift's last position (personal information): only
           for staff who may supervise the area, and every fetch is audited
=========  ==========================================================================

Every row is cut twice: to the user's scope (``visible_to``) and to the scope area's
path. Names (areas, places, devices, case titles) are user text; the page puts them
into the map as text nodes. Coordinates are rounded to six decimals (~0.1 m).

The forces layer follows the rule of the position page (``command.views.force_position``
and ``duty.position_of``): a position is shown only while the shift is open and within
the retention; the look is written to the audit log as one entry per fetch naming the
area and the number of positions shown — never the coordinates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Avg, Count, F, Max, Min
from django.db.models.functions import Length, Substr
from django.urls import reverse
from django.utils import timezone

from jiayuan.cases.choices import OPEN_STATUSES, Light
from jiayuan.cases.choices import Status as CaseStatus
from jiayuan.cases.models import Case
from jiayuan.cases.queries import with_lights
from jiayuan.community.choices import PositionKind
from jiayuan.community.models import ServicePosition
from jiayuan.core import audit, geo
from jiayuan.core.errors import NotFound, PermissionDenied, ValidationFailed, row_id
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.iot.choices import OPEN_ALARM_STATUSES, DeviceStatus, Severity
from jiayuan.iot.models import Alarm, Device
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.org.paths import ancestor_path
from jiayuan.people.choices import ForceKind

from .. import duty
from ..models import DutyShift
from .panels import SCREEN_KINDS

#: The layers in the order of the map's layer control, with their labels and whether
#: they are shown when the screen opens.
KINDS: dict[str, tuple[str, bool]] = {
    "grids": ("网格", True),
    "cases": ("诉求", False),
    "alarms": ("告警", True),
    "devices": ("设备", False),
    "positions": ("阵地", False),
    "forces": ("在岗力量", False),
}

# Above this many devices the devices layer answers one point per grid: 27,000 county
# devices as single features would be some 3 MB of JSON for a layer nobody reads dot
# by dot at that zoom.
DEVICE_POINTS_MAX = 2000
# Caps of the other point layers (newest first): far above a county's open cases,
# open alarms or forces on duty; a runaway table cannot make the screen fetch megabytes.
CASES_MAX = 3000
ALARMS_MAX = 2000
FORCES_MAX = 6000
POSITIONS_MAX = 3000

# Traffic lights and severities the page colours (it also prints the label: colour is
# never the only signal).
LIGHT_LABELS = {str(v): str(label) for v, label in Light.choices}
SEVERITY_RANK = {str(s): i for i, s in enumerate(Severity)}


def screen_area(user: Any, area_id: Any) -> Area:
    """The county, street or community ``area_id`` if ``user`` may see it; else 404
    (absent, another kind, or outside the scope look the same)."""
    area = (
        Area.objects.visible_to(user)
        .filter(pk=row_id(area_id), kind__in=SCREEN_KINDS)
        .only("pk", "name", "kind", "path", "area_path", "boundary")
        .first()
    )
    if area is None or not path_allowed(user, area.path, Perm.VIEW):
        raise NotFound("区域不存在", "area not found")
    return area


def may_see_forces(user: Any, area: Area) -> bool:
    """Forces' positions are for staff who supervise the area (who could mobilise them)."""
    return path_allowed(user, area.path, Perm.SUPERVISE)


def offered(user: Any, area: Area) -> list[dict[str, Any]]:
    """The layers this user's map offers on ``area``'s screen: ``kind``, ``label``,
    ``on`` (shown at first)."""
    return [
        {"kind": kind, "label": label, "on": on}
        for kind, (label, on) in KINDS.items()
        if kind != "forces" or may_see_forces(user, area)
    ]


def layer(user: Any, area: Area, kind: str) -> geo.GeoJSON:
    """The FeatureCollection of ``kind`` on ``area``'s screen (``area`` from
    :func:`screen_area`). An unknown kind is a 422; the forces layer without the right
    to supervise the area is a 403."""
    build = BUILDERS.get(kind)
    if build is None:
        raise ValidationFailed(
            f"未知图层：{kind[:40]}（可选 {'、'.join(KINDS)}）",
            f"unknown layer {kind[:40]!r}; one of {', '.join(KINDS)}",
            field="kind",
        )
    collection = build(user, area)
    collection["kind"] = kind
    return collection


def _round(value: float) -> float:
    return round(value, 6)


def _point(lat: float, lng: float) -> geo.GeoJSON:
    return geo.point(_round(lat), _round(lng))


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%m-%d %H:%M") if value else ""


def _collection(features: Iterable[geo.GeoJSON], **members: Any) -> geo.GeoJSON:
    """A FeatureCollection with foreign members (``link``: the address of a feature's
    page with ``0`` in place of its id; ``limited``: the cap cut the list)."""
    collection = geo.feature_collection(features)
    collection.update(members)
    return collection


# --- grids ------------------------------------------------------------------------------
def grids(user: Any, area: Area) -> geo.GeoJSON:
    """The scope's outline, its communities (county and street screens) and its grids."""
    kinds = (
        [AreaKind.GRID] if area.kind == AreaKind.COMMUNITY else [AreaKind.COMMUNITY, AreaKind.GRID]
    )
    areas = list(
        Area.objects.visible_to(user)
        .filter(path__startswith=area.path, kind__in=kinds)
        .only("pk", "name", "kind", "path", "boundary")
        .order_by("path")
    )
    labels = dict(AreaKind.choices)

    def props(a: Area) -> dict[str, Any]:
        role = "scope" if a.pk == area.pk else str(a.kind)
        return {"id": a.pk, "name": a.name, "kind": str(labels[a.kind]), "role": role}

    return _collection(geo.boundary_features([area, *areas], props), link=reverse("area", args=[0]))


# --- cases ------------------------------------------------------------------------------
def cases(user: Any, area: Area) -> geo.GeoJSON:
    """Open cases with a place, owned in the area (the level that handles them now lies
    in it), newest first, with status and traffic light."""
    rows = list(
        Case.objects.visible_to(user)
        .filter(area_path__startswith=area.path, status__in=OPEN_STATUSES)
        .filter(lat__isnull=False, lng__isnull=False)
        .only(
            "pk",
            "number",
            "title",
            "status",
            "lat",
            "lng",
            "received_at",
            "stage_started_at",
            "stage_due_at",
            "suspended_at",
        )
        .order_by("-received_at", "-pk")[: CASES_MAX + 1]
    )
    limited = len(rows) > CASES_MAX
    rows = with_lights(rows[:CASES_MAX])
    statuses = dict(CaseStatus.choices)
    features = [case_feature(c, c._light, statuses) for c in rows]  # type: ignore[attr-defined]
    return _collection(features, link=reverse("cases:detail", args=[0]), limited=limited)


def case_feature(case: Case, light: str, statuses: dict[str, Any] | None = None) -> geo.GeoJSON:
    """One placed case as a map feature with its traffic ``light`` (also what the live
    stream sends for a case's intake or step)."""
    labels = statuses or dict(CaseStatus.choices)
    return geo.feature(
        _point(case.lat, case.lng),  # type: ignore[arg-type]
        {
            "id": case.pk,
            "number": case.number,
            "title": case.title,
            "status": case.status,
            "status_label": str(labels.get(case.status, case.status)),
            "light": light,
            "light_label": LIGHT_LABELS.get(light, ""),
            "at": _when(case.received_at),
        },
    )


# --- alarms -----------------------------------------------------------------------------
def alarms(user: Any, area: Area) -> geo.GeoJSON:
    """Open alarms at their device's point, the most severe drawn last (on top)."""
    rows = list(
        Alarm.objects.visible_to(user)
        .filter(area_path__startswith=area.path, status__in=OPEN_ALARM_STATUSES)
        .filter(device__lat__isnull=False, device__lng__isnull=False)
        .select_related("device")
        .only(
            "pk",
            "title",
            "severity",
            "status",
            "first_at",
            "last_at",
            "count",
            "device__name",
            "device__serial",
            "device__lat",
            "device__lng",
        )
        .order_by("-last_at", "-pk")[: ALARMS_MAX + 1]
    )
    limited = len(rows) > ALARMS_MAX
    rows = sorted(rows[:ALARMS_MAX], key=lambda a: -SEVERITY_RANK.get(a.severity, 0))
    severities = dict(Severity.choices)
    features = [alarm_feature(a, severities) for a in rows]
    return _collection(features, link=reverse("iot:alarm", args=[0]), limited=limited)


def alarm_feature(alarm: Alarm, severities: dict[str, Any] | None = None) -> geo.GeoJSON:
    """One alarm as a map feature (also what the live stream sends for a new alarm)."""
    labels = severities or dict(Severity.choices)
    device = alarm.device
    geometry = (
        _point(device.lat, device.lng)
        if device.lat is not None and device.lng is not None
        else None
    )
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "id": alarm.pk,
            "title": alarm.title,
            "severity": alarm.severity,
            "severity_label": str(labels.get(alarm.severity, alarm.severity)),
            "status": alarm.status,
            "device": device.name or device.serial,
            "at": _when(alarm.first_at),
        },
    }


# --- devices ----------------------------------------------------------------------------
def devices(user: Any, area: Area) -> geo.GeoJSON:
    """Devices in service at their point, or one point per grid above
    :data:`DEVICE_POINTS_MAX` (see the module docstring)."""
    placed = (
        Device.objects.visible_to(user)
        .filter(area_path__startswith=area.path, lat__isnull=False, lng__isnull=False)
        .exclude(status=DeviceStatus.DECOMMISSIONED)
    )
    statuses = {str(s): str(s.label) for s in DeviceStatus if s != DeviceStatus.DECOMMISSIONED}
    # How many, up to one past the cap (a count over a LIMIT: no rows fetched).
    if placed.order_by()[: DEVICE_POINTS_MAX + 1].count() > DEVICE_POINTS_MAX:
        return _collection(_device_clusters(placed, area), statuses=statuses, clustered=True)
    rows = placed.order_by("pk").values_list("pk", "name", "serial", "status", "lat", "lng")
    features = [
        geo.feature(_point(lat, lng), {"id": pk, "name": name or serial, "status": status})
        for pk, name, serial, status, lat, lng in rows
    ]
    return _collection(
        features, link=reverse("iot:device", args=[0]), statuses=statuses, clustered=False
    )


def _device_clusters(placed: Any, area: Area) -> list[geo.GeoJSON]:
    """One feature per grid: the mean point of its devices and their count per status.

    Codes of one level have one width in the demo county and in the national division
    codes, so a grid's path is the first ``len(grid path)`` characters of the paths
    below it and the database groups by that prefix (a few hundred groups at county
    scale). Where the grids' paths differ in length the database groups by each
    device's own area and the groups are folded into their grids here."""
    lengths = Area.objects.filter(kind=AreaKind.GRID, path__startswith=area.path).aggregate(
        low=Min(Length("path")), high=Max(Length("path"))
    )
    if lengths["low"] is not None and lengths["low"] == lengths["high"]:
        key: Any = Substr("area_path", 1, lengths["low"])
    else:
        key = F("area_path")
    groups = (
        placed.order_by()
        .annotate(cluster=key)
        .values_list("cluster", "status")
        .annotate(n=Count("pk"), lat=Avg("lat"), lng=Avg("lng"))
    )
    folded: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "lat": 0.0, "lng": 0.0, "by": defaultdict(int)}
    )
    for path, status, n, lat, lng in groups:
        try:
            grid = ancestor_path(path, AreaKind.GRID)
        except ValueError:  # a device placed above any grid stays with its own area
            grid = path
        cluster = folded[grid]
        cluster["n"] += n
        cluster["lat"] += lat * n
        cluster["lng"] += lng * n
        cluster["by"][status] += n
    names = dict(Area.objects.filter(path__in=list(folded)).values_list("path", "name"))
    return [
        geo.feature(
            _point(c["lat"] / c["n"], c["lng"] / c["n"]),
            {"name": names.get(grid, ""), "count": c["n"], "by_status": dict(c["by"])},
        )
        for grid, c in sorted(folded.items())
    ]


# --- positions --------------------------------------------------------------------------
def positions(user: Any, area: Area) -> geo.GeoJSON:
    """Active service positions (党群服务中心, 红帆驿站 …) with their facilities' count."""
    rows = (
        ServicePosition.objects.visible_to(user)
        .filter(area_path__startswith=area.path, active=True)
        .filter(lat__isnull=False, lng__isnull=False)
        .annotate(facility_count=Count("facilities"))
        .order_by("area_path", "kind", "pk")
        .values_list("pk", "name", "kind", "lat", "lng", "facility_count")[:POSITIONS_MAX]
    )
    kinds = dict(PositionKind.choices)
    features = [
        geo.feature(
            _point(lat, lng),
            {"id": pk, "name": name, "kind": str(kinds.get(kind, kind)), "facilities": n},
        )
        for pk, name, kind, lat, lng, n in rows
    ]
    return _collection(features, link=reverse("community:place", args=[0]))


# --- forces -----------------------------------------------------------------------------
def forces(user: Any, area: Area) -> geo.GeoJSON:
    """Forces on duty at their shift's last position within the retention: personal
    information, so only for staff supervising the area, and audited (one entry per
    fetch with the count, no coordinates)."""
    if not may_see_forces(user, area):
        raise PermissionDenied(
            "无权查看在岗力量位置", "you may not see the positions of forces on duty"
        )
    since = timezone.now() - duty.retention()
    rows = list(
        DutyShift.objects.visible_to(user)
        .filter(area_path__startswith=area.path, ended_at__isnull=True)
        .filter(lat__isnull=False, lng__isnull=False, located_at__gte=since)
        .order_by("-located_at", "-pk")
        .values_list("force_id", "force__kind", "force__person__name", "lat", "lng", "located_at")[
            :FORCES_MAX
        ]
    )
    kinds = dict(ForceKind.choices)
    features = [
        geo.feature(
            _point(lat, lng),
            {"id": force_id, "name": name, "kind": str(kinds.get(kind, kind)), "at": _when(at)},
        )
        for force_id, kind, name, lat, lng, at in rows
    ]
    audit.record(
        AuditEntry.Action.REVEAL,
        area,
        user,
        {"layer": "forces", "count": len(features)},
        "大屏查看在岗力量位置",
    )
    return _collection(features, link=reverse("command:position", args=[0]))


BUILDERS: dict[str, Callable[[Any, Area], geo.GeoJSON]] = {
    "grids": grids,
    "cases": cases,
    "alarms": alarms,
    "devices": devices,
    "positions": positions,
    "forces": forces,
}
