"""Reading service requests: the public cases, the list with its filters and window,
one request by id or by the reporter's token."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ..choices import FINAL_STATUSES, OPEN_STATUSES, Level
from ..models import Case, CaseEvent
from .formats import Open311Error, Reply, open311_view, w3c
from .privacy import GENERIC_NOTES, Places, _address_paths, _agency_paths, _personal_names, scrub

MAX_RESULTS = 1000
WINDOW = dt.timedelta(days=90)


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
