"""Volunteer teams of the six colours (五色一彩), volunteers, activities with sign-up and
check-in, and the append-only hours ledger (志愿时长)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel, ScopedQuerySet
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from ..choices import ActivityKind, ActivityStatus, TeamColour
from .places import Booking, ServicePosition


class Team(ScopedModel):
    """A volunteer team (志愿服务队) of one of the six colours, based in a community."""

    name = models.CharField(_("名称"), max_length=100)
    colour = models.CharField(_("色系"), max_length=10, choices=TeamColour.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="volunteer_teams")
    leader = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.TextField(_("简介"), blank=True)

    class Meta:
        ordering = ["area_path", "colour", "name"]
        verbose_name = _("志愿服务队")
        verbose_name_plural = _("志愿服务队")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.area.path


class Volunteer(ScopedModel):
    """A registered volunteer (志愿者), aged 4–75; a minor's guardian is recorded.
    The ID number and phone are the person's own, masked as everywhere."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="volunteer")
    teams = models.ManyToManyField(Team, related_name="volunteers", blank=True)
    guardian = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    skills = models.JSONField(_("技能"), default=list, blank=True)
    availability = models.JSONField(_("可服务时间"), default=list, blank=True)
    joined_on = models.DateField(_("注册日期"), default=timezone.localdate)
    active = models.BooleanField(_("在册"), default=True)

    class Meta:
        ordering = ["area_path", "id"]
        verbose_name = _("志愿者")
        verbose_name_plural = _("志愿者")

    def __str__(self) -> str:
        return f"志愿者 {self.person_id}"

    def derive_area_path(self) -> str:
        return self.person.area_path

    @property
    def balance(self) -> Decimal:
        """The hours balance, to the tenth: the sum annotated by
        ``volunteering.with_balance`` (lists read it in their one query), else read now.
        SQLite sums decimals as floats, so the sum is rounded here, not trusted as is."""
        raw = self.__dict__.get("balance_sum")
        if raw is None:
            raw = self.hours_entries.aggregate(total=models.Sum("hours"))["total"] or 0
        return Decimal(str(raw)).quantize(Decimal("0.1"))


class Activity(ScopedModel):
    """A service activity (公益课堂, 邻里调解, 关爱帮扶, 健康义诊 …) with sign-up,
    check-in by QR code on the phone page, and the hours it credits."""

    title = models.CharField(_("活动"), max_length=120)
    kind = models.CharField(_("类型"), max_length=12, choices=ActivityKind.choices)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="activities")
    position = models.ForeignKey(
        ServicePosition, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="activities",
    )  # fmt: skip
    booking = models.ForeignKey(
        Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    place = models.CharField(_("地点"), max_length=200, blank=True)
    target_groups = models.JSONField(_("服务对象"), default=list, blank=True)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    capacity = models.PositiveIntegerField(_("名额"), default=30)
    hours = models.DecimalField(_("志愿时长(小时)"), max_digits=5, decimal_places=1, default=2)
    status = models.CharField(
        _("状态"), max_length=12, choices=ActivityStatus.choices, default=ActivityStatus.PLANNED
    )
    checkin_token = models.CharField(_("签到码"), max_length=32, blank=True, editable=False)
    participations = models.PositiveIntegerField(_("参与人次"), default=0)
    report = models.TextField(_("活动小结"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["status", "starts_at"])]
        verbose_name = _("服务活动")
        verbose_name_plural = _("服务活动")

    def __str__(self) -> str:
        return self.title

    def derive_area_path(self) -> str:
        return self.area.path


class SignUp(models.Model):
    """A person's sign-up for an activity (报名), and their check-in (签到)."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="signups")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="signups")
    signed_up_at = models.DateTimeField(_("报名时间"), default=timezone.now)
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)

    class Meta:
        ordering = ["signed_up_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["activity", "person"], name="community_signup_once")
        ]
        verbose_name = _("报名")
        verbose_name_plural = _("报名")

    def __str__(self) -> str:
        return f"{self.activity_id}:{self.person_id}"


class HoursQuerySet(ScopedQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("the hours ledger is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("the hours ledger is append-only")


class HoursEntry(ScopedModel):
    """One line of the append-only hours ledger; a correction is a new (negative) line.
    A volunteer's balance is the sum of their entries."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="hours_entries")
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.PROTECT, related_name="hours_entries"
    )
    hours = models.DecimalField(_("时长(小时)"), max_digits=6, decimal_places=1)
    reason = models.CharField(_("事由"), max_length=200)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = HoursQuerySet.as_manager()  # type: ignore[misc]  # the append-only manager

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # an activity credits a volunteer once; corrections carry no activity
            models.UniqueConstraint(
                fields=["volunteer", "activity"],
                condition=models.Q(activity__isnull=False),
                name="community_hours_once_per_activity",
            )
        ]
        verbose_name = _("志愿时长")
        verbose_name_plural = _("志愿时长")

    def __str__(self) -> str:
        return f"{self.volunteer_id} {self.hours}h"

    def derive_area_path(self) -> str:
        return self.volunteer.area_path

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("the hours ledger is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("the hours ledger is append-only")
