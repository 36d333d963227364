"""Pages of the service positions (阵地): the list with its map, a position with its
facilities, rooms and the week's bookings, a room's week with the booking form, the
rooms' usage, and the community's calendar of activities and bookings.

Views are thin: parse a form, call one action of :mod:`jiayuan.community.rooms`, render.
Every list starts from the user's scope; a position or room outside it is a 404.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, Conflict
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.core.views import page, scoped_get_or_404
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .. import calendar as cal
from .. import rooms as svc
from ..choices import PositionKind
from ..models import Room
from .places_forms import BookingForm, PlaceFilter, add_error, parse_day

PER_PAGE = 30
MAP_LIMIT = 500
USAGE_LIMIT = 300
KIND_CSS = {
    PositionKind.CENTRE: "bg-red-lt",
    PositionKind.STATION: "bg-orange-lt",
    PositionKind.CORRIDOR: "bg-green-lt",
    PositionKind.PAVILION: "bg-teal-lt",
}


def _kind_css(kind: str) -> str:
    return KIND_CSS.get(PositionKind(kind), "bg-secondary-lt") if kind else ""


# --- positions ----------------------------------------------------------------------------
@page
def place_index(request: HttpRequest) -> HttpResponse:
    """服务阵地: the positions in the user's scope, on a map and in a list."""
    user: Any = request.user
    form = PlaceFilter(request.GET or None)
    qs = svc.positions_visible_to(user)
    if form.is_valid():
        if form.cleaned_data["kind"]:
            qs = qs.filter(kind=form.cleaned_data["kind"])
        if form.cleaned_data["q"]:
            q = form.cleaned_data["q"]
            qs = qs.filter(Q(name__icontains=q) | Q(address__icontains=q))
    counts = dict(
        svc.positions_visible_to(user).order_by().values_list("kind").annotate(n=Count("pk"))
    )
    rows = qs.annotate(
        room_count=Count("rooms", distinct=True), facility_count=Count("facilities", distinct=True)
    ).order_by("area_path", "kind", "name", "pk")
    page_obj = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    for p in page_obj:
        p.kind_css = _kind_css(p.kind)  # type: ignore[attr-defined]
    points = [
        {
            "name": name,
            "kind": str(PositionKind(kind).label),
            "lat": lat,
            "lng": lng,
            "url": reverse("community:place", args=[pk]),
        }
        for pk, name, kind, lat, lng in qs.filter(lat__isnull=False, lng__isnull=False)
        .order_by("pk")
        .values_list("pk", "name", "kind", "lat", "lng")[:MAP_LIMIT]
    ]
    kinds = [(k.value, k.label, counts.get(k.value, 0), _kind_css(k.value)) for k in PositionKind]
    context = {"form": form, "positions": page_obj, "points": points, "kinds": kinds}
    return render(request, "community/places/index.html", context)


@page
def place_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A position: address, hours, facilities, rooms and this week's bookings."""
    user: Any = request.user
    position = scoped_get_or_404(svc.positions_visible_to(user), pk=pk)
    facilities = list(position.facilities.all())
    rooms = list(position.rooms.all())
    monday = svc.monday_of(parse_day(request.GET.get("week"), timezone.localdate()))
    start, end = svc.day_bounds(monday, monday + dt.timedelta(days=6))
    by_room: dict[int, list[Any]] = defaultdict(list)
    for booking in svc.bookings_between([r.pk for r in rooms], start, end):
        by_room[booking.room_id].append(booking)
    for room in rooms:
        room.position = position  # the rooms' own hours fall back to the position's
        room.week_bookings = by_room.get(room.pk, [])  # type: ignore[attr-defined]
        room.hours_lines = svc.hours_lines(room.opening_hours)  # type: ignore[attr-defined]
    context = {
        "position": position,
        "kind_css": _kind_css(position.kind),
        "hours": svc.hours_lines(position.opening_hours),
        "facilities": facilities,
        "rooms": rooms,
        "monday": monday,
        "sunday": monday + dt.timedelta(days=6),
        "previous": monday - dt.timedelta(days=7),
        "next": monday + dt.timedelta(days=7),
        "point": (
            [
                {
                    "name": position.name,
                    "kind": position.get_kind_display(),
                    "lat": position.lat,
                    "lng": position.lng,
                    "url": "",
                }
            ]
            if position.lat is not None and position.lng is not None
            else []
        ),
    }
    return render(request, "community/places/detail.html", context)


# --- rooms --------------------------------------------------------------------------------
def _room_page(
    request: HttpRequest, room: Room, form: BookingForm | None = None, status: int = 200
) -> HttpResponse:
    user: Any = request.user
    monday = svc.monday_of(parse_day(request.GET.get("week"), timezone.localdate()))
    days = svc.week(room, monday)
    may_book = room.bookable and path_allowed(user, room.area_path, Perm.SERVE)
    if form is None:
        form = BookingForm(initial={"day": max(monday, timezone.localdate()), "attendees": 0})
    context = {
        "room": room,
        "position": room.position,
        "days": days,
        "monday": monday,
        "sunday": monday + dt.timedelta(days=6),
        "previous": monday - dt.timedelta(days=7),
        "next": monday + dt.timedelta(days=7),
        "may_book": may_book,
        "now": timezone.now(),
        "form": form,
        "hours": svc.hours_lines(svc.effective_hours(room)),
    }
    return render(request, "community/places/room.html", context, status=status)


@page
def room_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A room's week (周视图) with its bookings, and the booking form."""
    room = scoped_get_or_404(svc.rooms_visible_to(request.user), pk=pk)
    return _room_page(request, room)


@require_POST
@page
def room_book(request: HttpRequest, pk: int) -> HttpResponse:
    """Book the room once or recurring; a refusal is shown on the form."""
    user: Any = request.user
    room = scoped_get_or_404(svc.rooms_visible_to(user), pk=pk)
    form = BookingForm(request.POST)
    if not form.is_valid():
        return _room_page(request, room, form, status=422)
    data = form.cleaned_data
    req = svc.BookingRequest(
        title=data["title"],
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        organiser=data.get("organiser") or "",
        attendees=data.get("attendees") or 0,
        rule=data.get("rule_text") or "",
    )
    try:
        made = (
            svc.book_series(room.pk, req, actor=user)
            if req.rule
            else [svc.book(room.pk, req, actor=user)]
        )
    except Conflict as exc:
        form.add_error(None, exc.zh)
        return _room_page(request, room, form, status=409)
    except BilingualError as exc:
        add_error(form, exc)
        return _room_page(request, room, form, status=exc.status)
    if len(made) > 1:
        messages.success(request, f"已预约“{req.title}”，共 {len(made)} 次。")
    else:
        messages.success(request, f"已预约“{req.title}”。")
    week = timezone.localtime(made[0].starts_at).date()
    return redirect(f"{reverse('community:room', args=[room.pk])}?week={week:%Y-%m-%d}")


@require_POST
@page
def booking_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel one booking, or (``series=1``) the rest of its series."""
    user: Any = request.user
    booking = svc.get_booking(user, pk)
    whole = request.POST.get("series") == "1"
    done = svc.cancel(booking.pk, actor=user, whole_series=whole)
    messages.success(request, f"已取消 {len(done)} 次预约，时段已释放。")
    week = timezone.localtime(booking.starts_at).date()
    return redirect(f"{reverse('community:room', args=[booking.room_id])}?week={week:%Y-%m-%d}")


@page
def room_usage(request: HttpRequest) -> HttpResponse:
    """活动室使用统计: hours booked and occupancy per room, by week or by month."""
    user: Any = request.user
    kind = "month" if request.GET.get("period") == "month" else "week"
    anchor = parse_day(request.GET.get("date"), timezone.localdate())
    first, last = svc.period(kind, anchor)
    qs = svc.rooms_visible_to(user).order_by("position__area_path", "position__name", "name")
    position_id = request.GET.get("position")
    if position_id and position_id.isdigit() and len(position_id) < 12:
        qs = qs.filter(position_id=int(position_id))
    rows = svc.usage(list(qs[:USAGE_LIMIT]), first, last)
    booked = round(sum(u.booked_hours for u in rows), 1)
    open_hours = round(sum(u.open_hours or 0 for u in rows if u.occupancy is not None), 1)
    booked_open = sum(u.booked_hours for u in rows if u.occupancy is not None)
    if kind == "month":
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        nxt = last + dt.timedelta(days=1)
    else:
        previous, nxt = first - dt.timedelta(days=7), first + dt.timedelta(days=7)
    context = {
        "rows": rows,
        "kind": kind,
        "first": first,
        "last": last,
        "previous": previous,
        "next": nxt,
        "booked": booked,
        "open_hours": open_hours,
        "occupancy": round(100 * booked_open / open_hours, 1) if open_hours else None,
        "cut": len(rows) >= USAGE_LIMIT,
        "position_id": position_id or "",
    }
    return render(request, "community/places/usage.html", context)


# --- the calendar -------------------------------------------------------------------------
@page
def calendar_page(request: HttpRequest) -> HttpResponse:
    """社区日历: activities and room bookings by month or week, by community or position."""
    user: Any = request.user
    view = "week" if request.GET.get("view") == "week" else "month"
    anchor = parse_day(request.GET.get("date"), timezone.localdate())
    communities = list(
        Area.objects.visible_to(user)
        .filter(kind=AreaKind.COMMUNITY)
        .order_by("path")
        .values_list("pk", "name", "path")[:200]
    )
    area_path = None
    community = request.GET.get("community") or ""
    if community.isdigit():
        area_path = next((path for pk, _n, path in communities if str(pk) == community), None)
        if area_path is None:  # a community outside the scope shows nothing of it
            area_path = "-"
    positions = list(
        svc.positions_visible_to(user)
        .filter(area_path__startswith=area_path or "")
        .order_by("area_path", "name")
        .values_list("pk", "name")[:300]
    )
    position = request.GET.get("position") or ""
    position_id = int(position) if position.isdigit() and len(position) < 12 else None
    calendar = cal.build(user, view, anchor, area_path=area_path, position_id=position_id)
    context = {
        "calendar": calendar,
        "communities": [(pk, name) for pk, name, _p in communities],
        "positions": positions,
        "community": community,
        "position": position,
        "today": timezone.localdate(),
        "weekdays": svc.WEEKDAYS,
    }
    return render(request, "community/calendar.html", context)
