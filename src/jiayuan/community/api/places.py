"""JSON API of the community services: service positions (阵地), their facilities and
rooms, room bookings and the rooms' usage.

``POST /rooms/{id}/bookings`` answers 201 with the booking, or 409 whose ``detail``
names the booking already holding the time (``detail.conflict``: id, title, starts_at,
ends_at; for a recurring booking also ``detail.occurrence``, the occurrence refused).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Prefetch
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import NotFound
from jiayuan.core.schemas import Page, PageParams

from .. import rooms as svc
from ..choices import BookingStatus, PositionKind
from ..models import Booking, Facility, Room, ServicePosition

router = Router(tags=["社区服务"])
TAGS = ["service positions"]


# --- schemas ------------------------------------------------------------------------------
class FacilityOut(Schema):
    """A set of facilities at a position (设施)."""

    id: int
    position: int = Field(alias="position_id")
    name: str
    category: str
    quantity: int
    condition: str


class RoomOut(Schema):
    """A room of a position (活动室), with the opening hours it keeps (its own, else its
    position's)."""

    id: int
    position: int = Field(alias="position_id")
    position_name: str
    name: str
    capacity: int
    purposes: list[Any]
    opening_hours: dict[str, Any]
    bookable: bool

    @staticmethod
    def resolve_position_name(obj: Room) -> str:
        return obj.position.name

    @staticmethod
    def resolve_opening_hours(obj: Room) -> Any:
        return svc.effective_hours(obj)


class PositionOut(Schema):
    """A service position (党群服务中心, 红帆驿站, 聚邻廊, 议事亭)."""

    id: int
    kind: PositionKind
    kind_label: str
    name: str
    area: int = Field(alias="area_id")
    area_name: str
    address: str
    lat: float | None
    lng: float | None
    phone: str
    opening_hours: dict[str, Any]
    active: bool
    rooms: int
    facilities: int

    @staticmethod
    def resolve_kind_label(obj: ServicePosition) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_area_name(obj: ServicePosition) -> str:
        return obj.area.name

    @staticmethod
    def resolve_rooms(obj: Any) -> int:
        return int(getattr(obj, "room_count", 0))

    @staticmethod
    def resolve_facilities(obj: Any) -> int:
        return int(getattr(obj, "facility_count", 0))


class PositionDetail(PositionOut):
    """A position with its description, facilities and rooms."""

    description: str
    facility_list: list[FacilityOut]
    room_list: list[RoomOut]

    @staticmethod
    def resolve_facility_list(obj: ServicePosition) -> list[Facility]:
        return list(obj.facilities.all())

    @staticmethod
    def resolve_room_list(obj: ServicePosition) -> list[Room]:
        return list(obj.rooms.all())


class BookingOut(Schema):
    """A booking of a room (预约); ``series`` is its recurring booking, if any."""

    id: int
    room: int = Field(alias="room_id")
    series: int | None = Field(alias="series_id")
    title: str
    organiser: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    attendees: int
    status: BookingStatus

    @staticmethod
    def resolve_starts_at(obj: Booking) -> dt.datetime:
        return timezone.localtime(obj.starts_at)

    @staticmethod
    def resolve_ends_at(obj: Booking) -> dt.datetime:
        return timezone.localtime(obj.ends_at)


class BookingCreated(BookingOut):
    """The booking made; for a recurring one, its first occurrence and how many there are."""

    occurrences: int = 1


class BookingIn(Schema):
    title: str = Field(..., max_length=100, description="用途 / what the room is for")
    starts_at: dt.datetime
    ends_at: dt.datetime
    organiser: str = Field("", max_length=100, description="组织方 / organiser")
    attendees: int = Field(0, ge=0, le=100_000, description="预计人数 / expected attendees")
    rule: str = Field(
        "",
        max_length=200,
        description="RFC 5545 重复规则，如 FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301 "
        "(须有 COUNT 或 UNTIL，最多200次、一年内) / a recurrence rule",
    )


class CancelOut(Schema):
    cancelled: list[int]


class PositionFilters(Schema):
    kind: PositionKind | None = None
    area: int | None = Field(None, description="区域(含下级) / in this area or below")


class RoomFilters(Schema):
    position: int | None = None


class FacilityFilters(Schema):
    position: int | None = None


class WindowParams(Schema):
    start: dt.date | None = Field(None, alias="from", description="起始日期(含) / first day")
    end: dt.date | None = Field(None, alias="to", description="截止日期(含) / last day")


class UsageParams(Schema):
    period: str = Field("week", pattern="^(week|month)$", description="week 或 month")
    date: dt.date | None = Field(None, description="所在周/月的任一天 / a day of the period")
    position: int | None = None


class UsageOut(Schema):
    """A room's use over a week or a month: hours booked, hours open, occupancy (%)."""

    room: int
    room_name: str
    position_name: str
    first: dt.date
    last: dt.date
    bookings: int
    booked_hours: float
    open_hours: float | None
    occupancy: float | None


# --- helpers ------------------------------------------------------------------------------
def _area_path(user: Any, area_id: int | None) -> str | None:
    if area_id is None:
        return None
    from jiayuan.org.models import Area

    area = Area.objects.visible_to(user).filter(pk=area_id).values_list("path", flat=True).first()
    if area is None:
        raise NotFound("区域不存在", "area not found")
    return area


def position_queryset(user: Any) -> Any:
    return (
        svc.positions_visible_to(user)
        .annotate(
            room_count=Count("rooms", distinct=True),
            facility_count=Count("facilities", distinct=True),
        )
        .order_by("area_path", "kind", "name", "pk")
    )


# --- positions ----------------------------------------------------------------------------
@router.get("/service-positions", response=responses(Page[PositionOut]), tags=TAGS)
def list_service_positions(
    request: HttpRequest, filters: Query[PositionFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Service positions in the user's scope: centres, stations and deliberation spots."""
    user = acting_user(request)
    qs = position_queryset(user)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    path = _area_path(user, filters.area)
    if path:
        qs = qs.filter(area_path__startswith=path)
    return paginate(qs, page)


@router.get("/service-positions/{position_id}", response=responses(PositionDetail), tags=TAGS)
def get_service_position(request: HttpRequest, position_id: int) -> ServicePosition:
    """One position with its facilities and rooms (404 outside the scope)."""
    obj = (
        position_queryset(acting_user(request))
        .prefetch_related("facilities", Prefetch("rooms", Room.objects.select_related("position")))
        .filter(pk=position_id)
        .first()
    )
    if obj is None:
        raise NotFound("服务阵地不存在", "position not found")
    return obj  # type: ignore[no-any-return]


@router.get("/facilities", response=responses(Page[FacilityOut]), tags=TAGS)
def list_facilities(
    request: HttpRequest, filters: Query[FacilityFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """The facility inventory (设施台账) of the positions in the user's scope."""
    qs = Facility.objects.visible_to(acting_user(request))
    if filters.position is not None:
        qs = qs.filter(position_id=filters.position)
    return paginate(qs, page)


# --- rooms and bookings -------------------------------------------------------------------
@router.get("/rooms", response=responses(Page[RoomOut]), tags=TAGS)
def list_rooms(
    request: HttpRequest, filters: Query[RoomFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Rooms of the positions in the user's scope."""
    qs = svc.rooms_visible_to(acting_user(request))
    if filters.position is not None:
        qs = qs.filter(position_id=filters.position)
    return paginate(qs, page)


@router.get("/rooms/{room_id}/bookings", response=responses(list[BookingOut]), tags=TAGS)
def list_room_bookings(
    request: HttpRequest, room_id: int, window: Query[WindowParams]
) -> list[Booking]:
    """A room's confirmed bookings meeting ``from``–``to`` (both days included; default
    this week; at most a year)."""
    room = svc.get_room(acting_user(request), room_id)
    first, last = svc.check_window(window.start, window.end)
    start, end = svc.day_bounds(first, last)
    return list(svc.bookings_between([room.pk], start, end))


@router.post("/rooms/{room_id}/bookings", response=responses(BookingCreated, 201), tags=TAGS)
def create_room_booking(request: HttpRequest, room_id: int, body: BookingIn) -> Status[Any]:
    """Book a room, once or by a recurring rule: 201 with the booking (the first of a
    series), 409 naming the booking that holds the time, 422 outside the opening hours."""
    req = svc.BookingRequest(
        title=body.title,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        organiser=body.organiser,
        attendees=body.attendees,
        rule=body.rule,
    )
    if body.rule:
        made = svc.book_series(room_id, req, actor=acting_user(request))
        first = made[0]
        first.occurrences = len(made)  # type: ignore[attr-defined]
        return Status(201, first)
    return Status(201, svc.book(room_id, req, actor=acting_user(request)))


@router.delete("/bookings/{booking_id}", response=responses(CancelOut), tags=TAGS)
def cancel_booking(request: HttpRequest, booking_id: int, series: bool = False) -> dict[str, Any]:
    """Cancel a booking (``series=true``: every booking of its series not yet ended); the
    time is free at once."""
    done = svc.cancel(booking_id, actor=acting_user(request), whole_series=series)
    return {"cancelled": [b.pk for b in done]}


@router.get("/room-usage", response=responses(list[UsageOut]), tags=TAGS)
def room_usage(request: HttpRequest, params: Query[UsageParams]) -> list[dict[str, Any]]:
    """Hours booked per room over a week or a month, and the share of its opening hours
    they fill (occupancy %, absent for rooms without declared hours)."""
    qs = svc.rooms_visible_to(acting_user(request))
    if params.position is not None:
        qs = qs.filter(position_id=params.position)
    first, last = svc.period(params.period, params.date or timezone.localdate())
    return [
        {
            "room": u.room.pk,
            "room_name": u.room.name,
            "position_name": u.room.position.name,
            "first": first,
            "last": last,
            "bookings": u.bookings,
            "booked_hours": u.booked_hours,
            "open_hours": u.open_hours,
            "occupancy": u.occupancy,
        }
        for u in svc.usage(list(qs[:500]), first, last)
    ]
