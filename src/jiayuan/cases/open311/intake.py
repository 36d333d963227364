"""Creating service requests (POST): location, attributes and reporter as the
specification says, taken in through the one intake action (channel 开放接口); and the
``requests`` view that answers both the list and the creation."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.views.decorators.csrf import csrf_exempt

from jiayuan.core.context import acting
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling

from .. import routing, services
from ..attributes import LIST_TYPES
from ..choices import Channel
from ..models import Case, Category, Open311Key
from .discovery import _category, definition
from .formats import Open311Error, Reply, open311_view, w3c
from .keys import check_key
from .privacy import DEPTH, _prefix
from .reading import parse_w3c, request_entries, search, service_notice

MAX_DESCRIPTION = 4000


# --- requests: creating -------------------------------------------------------------------
@dataclass
class Location:
    grid: Area | None = None
    dwelling: Dwelling | None = None
    lat: float | None = None
    lng: float | None = None
    trail: list[str] = field(default_factory=list)


def _coordinate(raw: str, name: str, limit: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        raise Open311Error(
            400, (f"{name} 不是有效的 WGS84 坐标", f"{name} is not a valid WGS84 coordinate")
        )
    return value


def _name_at(text: str, name: str) -> int:
    """Where ``name`` occurs in ``text`` as a whole: '3号楼' is not inside '13号楼'."""
    start = 0
    while (i := text.find(name, start)) >= 0:
        if not (name[:1].isdigit() and i > 0 and text[i - 1].isdigit()):
            return i
        start = i + 1
    return -1


def resolve_address(address: str) -> Location:
    """Match an address string to the area tree: a street, community or zone named in it,
    then the grid, building and unit under it, then a dwelling's door number. The result
    must pin down one grid, else it is a 400 that asks for more."""
    text = re.sub(r"\s+", "", address)
    anchors = [
        a
        for a in Area.objects.filter(
            kind__in=(AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.ZONE)
        ).only("id", "name", "path", "depth", "kind")
        if a.name and _name_at(text, a.name) >= 0
    ]
    if not anchors:
        raise Open311Error(
            400,
            (
                f"无法识别地址「{address[:40]}」，请写明社区或小区名称，或提供 lat 与 long",
                "address_string names no street, community or estate of the county; "
                "send lat and long instead",
            ),
        )
    named = {a.path for a in anchors}

    def support(a: Area) -> tuple[int, int, int]:
        # deepest first, then the one whose named ancestors agree, then the longest name
        agree = sum(1 for p in named if a.path.startswith(p))
        return (a.depth, agree, len(a.name))

    anchors.sort(key=support, reverse=True)
    if len(anchors) > 1 and support(anchors[0]) == support(anchors[1]):
        raise Open311Error(
            400,
            (
                f"地址「{address[:40]}」对应多个地方，请写明社区名称",
                "address_string matches several places; add the community",
            ),
        )
    current: Area = anchors[0]
    location = Location(trail=[current.name])
    below = list(
        Area.objects.filter(
            path__startswith=current.path,
            kind__in=(AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT),
        ).only("id", "name", "path", "depth", "kind", "centroid_lat", "centroid_lng")
    )
    while True:
        found = [
            a
            for a in below
            if a.path.startswith(current.path) and a.depth > current.depth
            and _name_at(text, a.name) >= 0
        ]  # fmt: skip
        if not found:
            break
        shallowest = min(a.depth for a in found)
        level = [a for a in found if a.depth == shallowest]
        if len(level) > 1:
            break
        current = level[0]
        location.trail.append(current.name)
    if current.kind == AreaKind.UNIT:
        tail = text[_name_at(text, current.name) + len(current.name) :]
        doors = re.findall(r"\d+", tail)
        if doors:
            location.dwelling = Dwelling.objects.filter(unit=current, number__in=doors).first()
    if current.kind == AreaKind.ZONE:
        grids = [a for a in below if a.kind == AreaKind.GRID]
        if len(grids) == 1:
            current = grids[0]
    if current.kind not in (AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT):
        raise Open311Error(
            400,
            (
                f"地址只能定位到「{''.join(location.trail)}」，"
                "请补充网格或楼栋号，或提供 lat 与 long",
                "address_string does not pin down a grid; add the building, or send lat and long",
            ),
        )
    location.grid = Area.objects.get(path=_prefix(current.path, DEPTH[AreaKind.GRID]))
    building_path = _prefix(current.path, DEPTH[AreaKind.BUILDING])
    building = next((a for a in below if a.path == building_path), None)
    spot = building if building is not None and building.centroid_lat else location.grid
    location.lat, location.lng = spot.centroid_lat, spot.centroid_lng
    return location


def _location(data: Any) -> Location:
    lat_raw = (data.get("lat") or "").strip()
    lng_raw = (data.get("long") or "").strip()
    address = (data.get("address_string") or "").strip()
    if lat_raw or lng_raw:
        if not (lat_raw and lng_raw):
            raise Open311Error(
                400, ("lat 与 long 须同时提供", "lat and long must be sent together")
            )
        lat = _coordinate(lat_raw, "lat", 90)
        lng = _coordinate(lng_raw, "long", 180)
        return Location(grid=routing.locate_grid(lat=lat, lng=lng), lat=lat, lng=lng)
    if address:
        return resolve_address(address)
    raise Open311Error(
        400,
        (
            "请提供位置：lat 与 long，或 address_string",
            "a location is required: lat and long, or address_string",
        ),
    )


def _submitted_attributes(data: Any) -> dict[str, list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v1&attribute[code][]=v2``."""
    out: dict[str, list[str]] = {}
    for key, values in data.lists():
        match = re.fullmatch(r"attribute\[([^\]]+)\](\[\])?", key)
        if match:
            out.setdefault(match.group(1), []).extend(v.strip() for v in values if v.strip())
    return out


def validate_attributes(category: Category, data: Any) -> dict[str, Any]:
    """The submitted attribute values checked against the service definition: required
    ones present, numbers numeric, datetimes W3C, list values among the keys."""
    given = _submitted_attributes(data)
    errors: list[tuple[str, str]] = []
    clean: dict[str, Any] = {}
    for attr in definition(category):
        if not attr["variable"]:
            continue
        code, label = attr["code"], attr["description"] or attr["code"]
        values = given.get(code, [])
        if not values:
            if attr["required"]:
                errors.append(
                    (f"缺少必填补充信息 {code}（{label}）", f"required attribute {code} is missing")
                )
            continue
        datatype = attr["datatype"]
        keys = {v["key"] for v in attr["values"]}
        bad = False
        if datatype in LIST_TYPES:
            bad = any(v not in keys for v in values) or (
                datatype == "singlevaluelist" and len(values) > 1
            )
        elif datatype == "number":
            try:
                bad = not all(math.isfinite(float(v)) for v in values)
            except ValueError:
                bad = True
        elif datatype == "datetime":
            try:
                values = [w3c(parse_w3c(v, code)) or v for v in values]
            except Open311Error:
                bad = True
        elif datatype == "string":
            bad = any("\n" in v or "\r" in v for v in values)
        if bad:
            errors.append(
                (f"补充信息 {code}（{label}）的值无效", f"attribute {code} has an invalid value")
            )
            continue
        clean[code] = values if datatype == "multivaluelist" else values[0]
    if errors:
        raise Open311Error(400, *errors)
    return clean


def _reporter_name(data: Any) -> str:
    first = (data.get("first_name") or "").strip()
    last = (data.get("last_name") or "").strip()
    if (first + last).isascii():
        return f"{first} {last}".strip()[:50]
    return f"{last}{first}"[:50]  # 姓在前


def create(data: Any, key: Open311Key) -> Case:
    """POST requests: validate the form as the specification says and take the request
    in through the one intake action (channel 开放接口)."""
    code = (data.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, ("缺少 service_code", "service_code is required"))
    category = _category(code)
    description = (data.get("description") or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(
            400, ("描述不能超过 4000 字", "description is limited to 4,000 characters")
        )
    location = _location(data)
    attributes = validate_attributes(category, data)
    media_url = (data.get("media_url") or "").strip()
    if media_url and re.match(r"^https?://\S+$", media_url) and len(media_url) <= 500:
        # kept for staff; not republished (see request_entry)
        attributes["media_url"] = media_url
    name = _reporter_name(data)
    phone = (data.get("phone") or "").strip()
    return services.intake(
        actor=None,
        channel=Channel.OPEN311,
        category=category,
        description=description or category.name,
        lat=location.lat,
        lng=location.lng,
        grid=location.grid,
        dwelling=location.dwelling,
        address=(data.get("address_string") or "").strip()[:200],
        reporter_name=name,
        reporter_phone=phone,
        anonymous=not (name or phone),
        source_ref=f"open311:{key.name}"[:40],
        attributes=attributes,
    )


@csrf_exempt
@open311_view("GET", "POST")
def requests(request: HttpRequest) -> Reply:
    if request.method == "POST":
        key = check_key(request.POST.get("api_key") or request.GET.get("api_key") or "")
        address = request.META.get("REMOTE_ADDR", "")
        with acting("api", address, getattr(request, "request_id", "")):
            case = create(request.POST, key)
        return Reply(
            "service_requests",
            [
                {
                    "service_request_id": case.pk,
                    "service_notice": service_notice(case),
                    "account_id": None,
                }
            ],
        )
    return Reply("service_requests", request_entries(search(request.GET)))
