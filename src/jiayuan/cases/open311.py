"""Open311 GeoReport v2 (开放接口) at ``/open311/v2/``.

Plain Django views, because the specification wants ``.json``/``.xml`` suffixes, a
form-encoded POST and its own error format (``[{"code", "description"}]``,
``<errors><error>…``). Every resource is offered in both formats; XML is built with
ElementTree and follows the element names of the specification (``services/service``,
``service_definition/attributes/attribute/values/value``, ``service_requests/request``,
``discovery/endpoints/endpoint/formats/format``, ``errors/error``).

What is public: the categories marked public and the requests filed under them — their
place, description, status and timing. What never is: the reporter (name, phone, email,
device or account), private photos and staff identities. Free text written by reporters
or staff is scrubbed of phone numbers, ID numbers, e-mail addresses and the reporter's
name before it leaves, and a request located at a dwelling shows its building, not its
door. Creating a request needs an ``api_key`` issued by ``jiayuan open311-key create``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt

from jiayuan.core import audit
from jiayuan.core.context import acting
from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied
from jiayuan.core.models import AuditEntry
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling

from . import routing, services
from .choices import FINAL_STATUSES, OPEN_STATUSES, Channel, Level
from .models import Case, CaseEvent, Category, Open311Key

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Bump when the shape of the service list or of the service definitions changes.
CHANGESET = "2026-07-01 00:00"
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_TYPES = ("singlevaluelist", "multivaluelist")
MAX_RESULTS = 1000
WINDOW = dt.timedelta(days=90)
MAX_DESCRIPTION = 4000
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}
# XML element of each item of a list, by the list's element name.
ITEM_ELEMENT = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "errors": "error",
}
# Depth of each kind of area in a path: 370830/001/003/02/01/05/02/
DEPTH = {
    AreaKind.STREET: 2,
    AreaKind.COMMUNITY: 3,
    AreaKind.ZONE: 4,
    AreaKind.GRID: 5,
    AreaKind.BUILDING: 6,
    AreaKind.UNIT: 7,
}


# --- errors -------------------------------------------------------------------------------
class Open311Error(Exception):
    """One or more errors answered as the specification's ``errors`` array."""

    def __init__(self, status: int, *messages: tuple[str, str]):
        self.status = status
        self.messages = list(messages)
        super().__init__("; ".join(f"{zh} / {en}" for zh, en in messages))


def _status_of(exc: BilingualError) -> int:
    # The specification knows 403 (api_key), 404 (no such resource) and 400 (the rest).
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    return 400


# --- rendering ----------------------------------------------------------------------------
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _element(name: str, value: Any) -> ET.Element:
    """The XML element of ``value`` following the Spark convention backwards: dicts
    become child elements, lists repeat the list's item element, None is empty."""
    el = ET.Element(name)
    if isinstance(value, dict):
        for key, item in value.items():
            el.append(_element(key, item))
    elif isinstance(value, list):
        for item in value:
            el.append(_element(ITEM_ELEMENT[name], item))
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = _XML_ILLEGAL.sub("", str(value))
    return el


def render(fmt: str, root: str, data: Any, status: int = 200) -> HttpResponse:
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False)
    else:
        tree = ET.tostring(_element(root, data), encoding="unicode")
        body = f'<?xml version="1.0" encoding="utf-8"?>\n{tree}'
    return HttpResponse(body.encode(), status=status, content_type=CONTENT_TYPES[fmt])


def render_errors(fmt: str, status: int, messages: Iterable[tuple[str, str]]) -> HttpResponse:
    data = [{"code": status, "description": f"{zh} / {en}"} for zh, en in messages]
    return render(fmt, "errors", data, status=status)


@dataclass
class Reply:
    root: str
    data: Any
    status: int = 200


def open311_view(*methods: str) -> Callable[..., Callable[..., HttpResponse]]:
    """Answer a view's :class:`Reply` in the requested format and every error as the
    specification's error array."""

    def wrap(view: Callable[..., Reply]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def inner(request: HttpRequest, *args: Any, fmt: str, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = render_errors(
                    fmt,
                    405,
                    [(f"不支持 {request.method} 方法", f"method {request.method} not allowed")],
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                reply = view(request, *args, **kwargs)
            except Open311Error as exc:
                return render_errors(fmt, exc.status, exc.messages)
            except BilingualError as exc:
                return render_errors(fmt, _status_of(exc), [(exc.zh, exc.en)])
            return render(fmt, reply.root, reply.data, reply.status)

        return inner

    return wrap


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Anything else under /open311/v2/: a 404 in the spec's format."""
    fmt = "json" if request.path.endswith(".json") else "xml"
    return render_errors(
        fmt,
        404,
        [
            (
                "资源不存在；请使用 .json 或 .xml 结尾的地址",
                "no such resource; addresses end in .json or .xml",
            )
        ],
    )


def w3c(value: dt.datetime | None) -> str | None:
    """A W3C datetime with the local offset: ``2026-11-28T09:30:00+08:00``."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


# --- keys ---------------------------------------------------------------------------------
def key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_key(name: str) -> str:
    """Issue an Open311 api_key (签发密钥) for the client ``name``; returns the raw key,
    which is shown once — only its SHA-256 is stored."""
    name = name.strip()
    if not name or len(name) > 60:
        raise BilingualError("名称须为 1–60 个字符", "the name must have 1 to 60 characters")
    if Open311Key.objects.filter(name=name).exists():
        raise BilingualError(f"名称已存在：{name}", f"a key named {name!r} exists already")
    raw = f"o311_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = Open311Key.objects.create(name=name, digest=key_digest(raw))
        audit.record(AuditEntry.Action.CREATE, key, None, {"name": [None, name]}, "open311 key")
    return raw


def revoke_key(name: str) -> Open311Key:
    """Revoke (停用) the key of client ``name``: its requests are refused from now on."""
    key = Open311Key.objects.filter(name=name.strip()).first()
    if key is None:
        raise NotFound(f"没有名为 {name} 的密钥", f"no key named {name!r}")
    if key.revoked_at is not None:
        raise BilingualError(f"密钥 {name} 已停用", f"the key {name!r} is revoked already")
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            key,
            None,
            {"revoked_at": [None, key.revoked_at.isoformat()]},
            "open311 key revoked",
        )
    return key


def check_key(raw: str) -> Open311Key:
    """The active key for ``raw``, or a 403."""
    if not raw:
        raise Open311Error(403, ("缺少 api_key", "api_key is required to create a request"))
    key = Open311Key.objects.filter(digest=key_digest(raw), revoked_at__isnull=True).first()
    if key is None:
        raise Open311Error(
            403, ("api_key 无效或已停用", "invalid or revoked api_key — can't create the request")
        )
    return key


# --- privacy ------------------------------------------------------------------------------
_SCRUB = [
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),  # e-mail
    re.compile(r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}\d{7}[0-9Xx](?![0-9A-Za-z])"),  # ID
    re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)"),  # mobile
    re.compile(r"(?<!\d)1[3-9]\d\*{4}\d{4}(?!\d)"),  # masked mobile
    re.compile(r"(?<![\d-])0\d{2,3}-?\d{7,8}(?!\d)"),  # landline
]
HIDDEN = "***"


def scrub(text: str, names: Iterable[str] = ()) -> str:
    """``text`` without contact details, ID numbers or the given personal names."""
    for pattern in _SCRUB:
        text = pattern.sub(HIDDEN, text)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len)[::-1]:
        text = text.replace(name, HIDDEN)
    return text


def _personal_names(case: Case) -> list[str]:
    names = [case.reporter_name]
    if case.reporter_id is not None and case.reporter is not None:
        names.append(case.reporter.name)
    return names


# What the timeline may say in public for each action. Notes of these actions are
# generated with staff names or carry the resident's own words, so a fixed text is
# shown instead; other public notes are staff explanations and are shown scrubbed.
GENERIC_NOTES = {
    "receive": "已受理",
    "dispatch": "已派单，等待接单",
    "accept": "已接单",
    "start": "办理中",
    "resume": "恢复办理",
    "visit": "已回访",
    "reopen": "重新办理",
}


# --- places -------------------------------------------------------------------------------
def _prefix(path: str, depth: int) -> str:
    parts = path.rstrip("/").split("/")
    return "/".join(parts[:depth]) + "/" if len(parts) >= depth else ""


class Places:
    """Area names by path, fetched in one query for a page of requests."""

    def __init__(self) -> None:
        self.wanted: set[str] = set()
        self.names: dict[str, str] = {}

    def want(self, *paths: str) -> None:
        self.wanted.update(p for p in paths if p)

    def load(self) -> None:
        missing = self.wanted - self.names.keys()
        if missing:
            self.names.update(Area.objects.filter(path__in=missing).values_list("path", "name"))

    def join(self, *paths: str) -> str:
        return "".join(self.names.get(p, "") for p in paths if p)


def _address_paths(case: Case) -> list[str]:
    """The areas that name a request's place in public: community, zone, and the building
    of its dwelling (never the unit or the door) or else its grid."""
    if case.dwelling_id is not None and case.dwelling is not None:
        base = case.dwelling.area_path
        return [_prefix(base, d) for d in (3, 4, 6)]
    return [_prefix(case.grid.path, d) for d in (3, 4, 5)]


def _agency_paths(case: Case) -> list[str]:
    if case.level in (Level.GRID, Level.ZONE):
        return [_prefix(case.owner_area.path, 3), case.owner_area.path]
    return [case.owner_area.path]


# --- services -----------------------------------------------------------------------------
def public_categories() -> QuerySet[Category]:
    return Category.objects.filter(public=True).select_related("parent", "department")


def _category(code: str) -> Category:
    category = public_categories().filter(code=code).first()
    if category is None:
        raise Open311Error(404, (f"服务类型 {code} 不存在", f"service_code {code!r} not found"))
    return category


def _positive(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def definition(category: Category) -> list[dict[str, Any]]:
    """The category's attributes in the specification's shape, in their order."""
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(category.attributes or []):
        if not isinstance(raw, dict) or not raw.get("code"):
            continue
        datatype = raw.get("datatype") if raw.get("datatype") in DATATYPES else "string"
        values = []
        for v in raw.get("values") or []:
            if isinstance(v, dict):
                values.append({"key": str(v.get("key", "")), "name": str(v.get("name", ""))})
            else:
                values.append({"key": str(v), "name": str(v)})
        out.append(
            {
                "variable": bool(raw.get("variable", True)),
                "code": str(raw["code"]),
                "datatype": datatype,
                "required": bool(raw.get("required", False)),
                "datatype_description": raw.get("datatype_description") or None,
                "order": _positive(raw.get("order"), i + 1),
                "description": str(raw.get("description", "")),
                "values": values,
            }
        )
    return sorted(out, key=lambda a: a["order"])


def service_entry(category: Category) -> dict[str, Any]:
    group = category.parent.name if category.parent is not None else category.name
    keywords = [category.name, group]
    if category.department is not None:
        keywords.append(category.department.name)
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description or category.name,
        "metadata": bool(definition(category)),
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys(keywords)),
        "group": group,
    }


@open311_view("GET")
def discovery(request: HttpRequest) -> Reply:
    here = reverse("open311-discovery", kwargs={"fmt": "xml"})
    base = request.build_absolute_uri(here.removesuffix("/discovery.xml"))
    return Reply(
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": "家园社区治理平台管理员 / the Jiayuan platform administrator",
            "key_service": (
                "api_key 由平台管理员签发（jiayuan open311-key create 名称） / "
                "api keys are issued by the administrator (jiayuan open311-key create NAME)"
            ),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@open311_view("GET")
def service_list(request: HttpRequest) -> Reply:
    return Reply("services", [service_entry(c) for c in public_categories()])


@open311_view("GET")
def service_definition(request: HttpRequest, code: str) -> Reply:
    category = _category(code)
    return Reply(
        "service_definition", {"service_code": category.code, "attributes": definition(category)}
    )


# --- requests: reading --------------------------------------------------------------------
def public_cases() -> QuerySet[Case]:
    public_events = CaseEvent.objects.filter(public=True).order_by("at", "id")
    return (
        Case.objects.filter(category__public=True)
        .select_related(
            "category", "owner_area", "grid", "handler_department", "reporter", "dwelling"
        )
        .prefetch_related(Prefetch("events", queryset=public_events, to_attr="public_events"))
    )


def _status_notes(case: Case, names: list[str]) -> str | None:
    if case.public_note:
        return scrub(case.public_note, names)
    events = getattr(case, "public_events", None)
    if events is None:
        events = list(case.events.filter(public=True).order_by("at", "id"))
    for event in reversed(events):
        text = GENERIC_NOTES.get(event.action) or scrub(event.note, names)
        if text:
            return text
    return None


def service_notice(case: Case) -> str:
    if case.is_open and case.due_at is not None:
        due = timezone.localtime(case.due_at)
        return f"诉求编号 {case.number}，按工作日时限应于 {due:%Y-%m-%d %H:%M} 前办结"
    return f"诉求编号 {case.number}"


def request_entry(case: Case, places: Places) -> dict[str, Any]:
    """One request as the public sees it: no reporter, no private photo, no staff."""
    names = _personal_names(case)
    if case.handler_department is not None and case.level == Level.DEPARTMENT:
        agency = case.handler_department.name
    else:
        agency = places.join(*_agency_paths(case)) or case.owner_area.name
    address = places.join(*_address_paths(case))
    if case.address and case.dwelling_id is None:
        address = scrub(case.address, names)
    closed = not case.is_open
    return {
        "service_request_id": case.pk,
        "status": "closed" if closed else "open",
        "status_notes": _status_notes(case, names),
        "service_name": case.category.name,
        "service_code": case.category.code,
        "description": scrub(case.description, names),
        "agency_responsible": agency,
        "service_notice": service_notice(case),
        "requested_datetime": w3c(case.received_at),
        "updated_datetime": w3c(case.closed_at if closed and case.closed_at else case.updated_at),
        "expected_datetime": w3c(case.due_at),
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lng,
        # Photos are stored privately and may show people or homes: none is published.
        "media_url": None,
    }


def request_entries(cases: Iterable[Case]) -> list[dict[str, Any]]:
    rows = list(cases)
    places = Places()
    for case in rows:
        places.want(*_address_paths(case), *_agency_paths(case))
    places.load()
    return [request_entry(case, places) for case in rows]


def _ids_q(raw: str) -> Q:
    pks: list[int] = []
    numbers: list[str] = []
    for token in (t.strip() for t in raw.split(",")):
        if token.isdigit():
            pks.append(int(token))
        elif token:
            numbers.append(token)
    return Q(pk__in=pks) | Q(number__in=numbers)


_OFFSET_AFTER_PLUS_LOST = re.compile(r" (\d{2}:?\d{2})$")


def parse_w3c(raw: str, name: str) -> dt.datetime:
    """A W3C datetime (``2010-01-01T00:00:00Z``, ``…+08:00``) or a date; naive values are
    read as local time. A ``+`` of an offset left unencoded in a query string arrives as a
    space and is put back."""
    text = _OFFSET_AFTER_PLUS_LOST.sub(r"+\1", raw.strip())
    value: dt.datetime | None
    try:
        value = parse_datetime(text)
        if value is None:
            day = parse_date(text)
            value = dt.datetime.combine(day, dt.time()) if day else None
    except ValueError:
        value = None
    if value is None:
        raise Open311Error(
            400,
            (
                f"{name} 不是 W3C 日期时间（如 2026-01-01T00:00:00+08:00）",
                f"{name} is not a W3C datetime (e.g. 2026-01-01T00:00:00Z)",
            ),
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _window(params: Any) -> tuple[dt.datetime, dt.datetime]:
    start_raw = (params.get("start_date") or "").strip()
    end_raw = (params.get("end_date") or "").strip()
    if start_raw:
        start = parse_w3c(start_raw, "start_date")
        end = parse_w3c(end_raw, "end_date") if end_raw else start + WINDOW
    else:
        end = parse_w3c(end_raw, "end_date") if end_raw else timezone.now()
        start = end - WINDOW
    if end < start:
        raise Open311Error(400, ("end_date 早于 start_date", "end_date is earlier than start_date"))
    if end - start > WINDOW:
        raise Open311Error(
            400, ("查询时间范围不能超过 90 天", "start_date and end_date may not span over 90 days")
        )
    return start, end


def search(params: Any) -> QuerySet[Case]:
    """GET requests: by id (overriding the rest), or by service, status and date window
    (the last 90 days by default); the newest 1,000 at most."""
    qs = public_cases()
    ids = (params.get("service_request_id") or "").strip()
    if ids:
        return qs.filter(_ids_q(ids)).order_by("-received_at")[:MAX_RESULTS]
    codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
    if codes:
        qs = qs.filter(category__code__in=codes)
    statuses = {s.strip() for s in (params.get("status") or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(
            400, ("status 只能是 open 或 closed", "status must be open or closed (comma-separated)")
        )
    if statuses == {"open"}:
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif statuses == {"closed"}:
        qs = qs.filter(status__in=FINAL_STATUSES)
    start, end = _window(params)
    qs = qs.filter(received_at__gte=start, received_at__lte=end)
    return qs.order_by("-received_at")[:MAX_RESULTS]


def _one(request_id: str) -> Case:
    case = public_cases().filter(_ids_q(request_id)).first() if request_id.strip() else None
    if case is None:
        raise Open311Error(
            404,
            (f"诉求 {request_id} 不存在", f"service_request_id {request_id!r} not found"),
        )
    return case


@open311_view("GET")
def request_detail(request: HttpRequest, request_id: str) -> Reply:
    return Reply("service_requests", request_entries([_one(request_id)]))


@open311_view("GET")
def token_detail(request: HttpRequest, token: str) -> Reply:
    case = Case.objects.filter(tracking_token=token, category__public=True).first()
    if case is None:
        raise Open311Error(404, ("token 不存在", "token not found"))
    return Reply("service_requests", [{"service_request_id": case.pk, "token": token}])


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
