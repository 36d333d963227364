"""Service positions (阵地): party-mass service centres, red-sail stations and the
compounds' deliberation spots; their facilities, rooms and room bookings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area

from ..choices import BookingStatus, PositionKind


class ServicePosition(ScopedModel):
    """A place where the community serves (党群服务中心, 红帆驿站, 聚邻廊, 议事亭).

    ``opening_hours`` maps ISO weekday numbers (``"1"`` Monday … ``"7"`` Sunday) to
    lists of ``["08:30", "12:00"]`` spans; a day missing is closed."""

    kind = models.CharField(_("类型"), max_length=16, choices=PositionKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="service_positions")
    address = models.CharField(_("地址"), max_length=200, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)
    opening_hours = models.JSONField(_("开放时间"), default=dict, blank=True)
    phone = models.CharField(_("服务电话"), max_length=20, blank=True)
    description = models.TextField(_("简介"), blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["area_path", "kind", "name"]
        indexes = [models.Index(fields=["kind", "area_path"])]
        verbose_name = _("服务阵地")
        verbose_name_plural = _("服务阵地")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.area.path


class Facility(ScopedModel):
    """A set of facilities at a position (设施): 健身器材, 图书角, 急救箱 …"""

    position = models.ForeignKey(
        ServicePosition, on_delete=models.CASCADE, related_name="facilities"
    )
    name = models.CharField(_("名称"), max_length=100)
    category = models.CharField(_("类别"), max_length=40, blank=True)
    quantity = models.PositiveIntegerField(_("数量"), default=1)
    condition = models.CharField(_("状况"), max_length=40, blank=True)

    class Meta:
        ordering = ["position_id", "name"]
        verbose_name = _("设施")
        verbose_name_plural = _("设施")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.position.area_path


class Room(ScopedModel):
    """A room of a position, used for many purposes at staggered times (一室多用、错时服务).
    ``opening_hours`` (same form as the position's) overrides the position's when set."""

    position = models.ForeignKey(ServicePosition, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(_("名称"), max_length=100)
    capacity = models.PositiveIntegerField(_("容纳人数"), default=20)
    purposes = models.JSONField(_("用途"), default=list, blank=True)
    opening_hours = models.JSONField(_("开放时间"), default=dict, blank=True)
    bookable = models.BooleanField(_("可预约"), default=True)

    class Meta:
        ordering = ["position_id", "name"]
        verbose_name = _("活动室")
        verbose_name_plural = _("活动室")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.position.area_path


class BookingSeries(ScopedModel):
    """A recurring booking (每周二下午 …): ``rule`` is an RFC 5545 RRULE; its bookings are
    written out as rows, each checked for conflicts like a single one."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="series")
    title = models.CharField(_("用途"), max_length=100)
    rule = models.CharField(_("重复规则"), max_length=200)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("周期预约")
        verbose_name_plural = _("周期预约")

    def __str__(self) -> str:
        return self.title

    def derive_area_path(self) -> str:
        return self.room.area_path


class Booking(ScopedModel):
    """One booking of a room for a span of time; confirmed bookings of a room never
    overlap (checked under a lock on the room, see ``community.rooms``)."""

    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="bookings")
    series = models.ForeignKey(
        BookingSeries, null=True, blank=True, on_delete=models.CASCADE, related_name="bookings"
    )
    title = models.CharField(_("用途"), max_length=100)
    organiser = models.CharField(_("组织方"), max_length=100, blank=True)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    attendees = models.PositiveIntegerField(_("预计人数"), default=0)
    status = models.CharField(
        _("状态"), max_length=12, choices=BookingStatus.choices, default=BookingStatus.CONFIRMED
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["room", "status", "starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="community_booking_ends_after_start",
            )
        ]
        verbose_name = _("预约")
        verbose_name_plural = _("预约")

    def __str__(self) -> str:
        return f"{self.title} {self.starts_at:%Y-%m-%d %H:%M}"

    def derive_area_path(self) -> str:
        return self.room.area_path
