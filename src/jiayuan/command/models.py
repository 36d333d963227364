"""Forces on duty (上岗) and mobilisations (一键调度) of the command app.

A force's position is personal information (PIPL: minimum necessary): it is stored on
the duty shift only while the shift is open, wiped when the force goes off duty, and
purged by a periodic job after ``COMMAND_LOCATION_RETENTION_HOURS`` even while on duty.
A mobilisation's timeline is append-only (:class:`MobilisationEvent`); each member's
current step is derived from it and stored for querying.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area
from jiayuan.people.models import Force, Person


class Step(models.TextChoices):
    """A mobilised person's steps (notified → delivered → acknowledged → en route →
    checked in on site → released), and the two ways out (declined, timed out)."""

    NOTIFIED = "notified", _("已通知")
    DELIVERED = "delivered", _("已送达")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    EN_ROUTE = "en_route", _("在途")
    CHECKED_IN = "checked_in", _("已到场")
    RELEASED = "released", _("已解散")
    DECLINED = "declined", _("已拒绝")
    TIMED_OUT = "timed_out", _("超时未响应")


class MobilisationStatus(models.TextChoices):
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结束")


class Availability(ScopedModel):
    """When a force may be called (可调度时段): weekday spans such as
    ``[{"weekday": 0, "start": "08:00", "end": "18:00"}]`` (Monday is 0). No windows
    means always."""

    force = models.OneToOneField(Force, on_delete=models.CASCADE, related_name="availability")
    windows = models.JSONField(_("可调度时段"), default=list, blank=True)

    class Meta:
        verbose_name = _("可调度时段")
        verbose_name_plural = _("可调度时段")

    def __str__(self) -> str:
        return f"{self.force_id} {self.windows}"

    def derive_area_path(self) -> str:
        return self.force.area_path


class DutyShift(ScopedModel):
    """A force's time on duty (上岗 … 下岗), with the last reported position while open."""

    force = models.ForeignKey(Force, on_delete=models.CASCADE, related_name="shifts")
    started_at = models.DateTimeField(_("上岗时间"), default=timezone.now)
    ended_at = models.DateTimeField(_("下岗时间"), null=True, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)
    located_at = models.DateTimeField(_("定位时间"), null=True, blank=True)

    audit_secret_fields = ("lat", "lng")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["ended_at", "located_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["force"],
                condition=models.Q(ended_at__isnull=True),
                name="command_one_open_shift_per_force",
            )
        ]
        verbose_name = _("上岗记录")
        verbose_name_plural = _("上岗记录")

    def __str__(self) -> str:
        return f"{self.force_id} {self.started_at:%Y-%m-%d %H:%M}"

    def derive_area_path(self) -> str:
        return self.force.area_path


class Mobilisation(ScopedModel):
    """A one-click mobilisation (一键调度): a place, who is wanted, how many, a message."""

    number = models.CharField(_("编号"), max_length=24, unique=True)
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="mobilisations"
    )
    polygon = models.JSONField(_("范围"), null=True, blank=True, help_text="GeoJSON Polygon")
    lat = models.FloatField(_("集结点纬度"))
    lng = models.FloatField(_("集结点经度"))
    roles = models.JSONField(_("力量类别"), default=list, blank=True)
    skills = models.JSONField(_("技能"), default=list, blank=True)
    head_count = models.PositiveIntegerField(_("所需人数"))
    message = models.TextField(_("调度指令"))
    status = models.CharField(
        _("状态"), max_length=12, choices=MobilisationStatus.choices, default="open"
    )
    source = models.CharField(_("来源"), max_length=40, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(_("发起人"), max_length=150, blank=True)
    first_ack_at = models.DateTimeField(_("首次确认"), null=True, blank=True)
    head_count_at = models.DateTimeField(_("确认满员"), null=True, blank=True)
    assembled_at = models.DateTimeField(_("到场满员"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("调度")
        verbose_name_plural = _("调度")

    def __str__(self) -> str:
        return self.number


class Member(models.Model):
    """A force called by a mobilisation (被调度人员), with the step they have reached."""

    mobilisation = models.ForeignKey(Mobilisation, on_delete=models.CASCADE, related_name="members")
    force = models.ForeignKey(Force, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    rank = models.PositiveIntegerField(_("距离排名"))
    distance_m = models.FloatField(_("距离(米)"))
    step = models.CharField(_("当前环节"), max_length=16, choices=Step.choices)
    notified_at = models.DateTimeField(_("通知时间"))
    step_at = models.DateTimeField(_("环节时间"))
    escalation_level = models.PositiveSmallIntegerField(_("已提级"), default=0)
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("到场时间"), null=True, blank=True)
    checkin_lat = models.FloatField(_("到场纬度"), null=True, blank=True)
    checkin_lng = models.FloatField(_("到场经度"), null=True, blank=True)

    audit_secret_fields = ("checkin_lat", "checkin_lng")

    class Meta:
        ordering = ["rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["mobilisation", "force"], name="command_member_once")
        ]
        verbose_name = _("被调度人员")
        verbose_name_plural = _("被调度人员")

    def __str__(self) -> str:
        return f"{self.mobilisation_id} {self.person_id} {self.step}"

    @property
    def area_path(self) -> str:
        return self.mobilisation.area_path


class MobilisationEvent(models.Model):
    """One line of a mobilisation's append-only timeline."""

    class Kind(models.TextChoices):
        CREATED = "created", _("发起调度")
        STEP = "step", _("环节")
        ESCALATED = "escalated", _("提级提醒")
        TOPPED_UP = "topped_up", _("补充调度")
        HEAD_COUNT = "head_count", _("确认满员")
        ASSEMBLED = "assembled", _("到场满员")
        CLOSED = "closed", _("结束")

    mobilisation = models.ForeignKey(Mobilisation, on_delete=models.CASCADE, related_name="events")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    step = models.CharField(_("环节"), max_length=16, choices=Step.choices, blank=True)
    level = models.PositiveSmallIntegerField(_("提级层级"), default=0)
    actor_name = models.CharField(_("操作人"), max_length=150, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            # an escalation level fires once per member: the database says so too
            models.UniqueConstraint(
                fields=["member", "level"],
                condition=models.Q(kind="escalated"),
                name="command_escalation_once",
            )
        ]
        verbose_name = _("调度时间线")
        verbose_name_plural = _("调度时间线")

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind} {self.step}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("the timeline is append-only")
        super().save(*args, **kwargs)


class Outbox(models.Model):
    """A message for a channel that leaves Jiayuan (SMS, WeCom group robot). Without an
    endpoint configured it is recorded here only; with one it is sent when due
    (``send_after``: the WeCom robot's pacing) and marked sent."""

    channel = models.CharField(_("渠道"), max_length=12)
    recipient = models.CharField(_("接收方"), max_length=64, blank=True)
    body = models.TextField(_("内容"))
    ref = models.CharField(_("关联"), max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    send_after = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["send_after", "id"]
        verbose_name = _("外发消息")
        verbose_name_plural = _("外发消息")

    def __str__(self) -> str:
        return f"{self.channel} {self.recipient} {self.ref}"


class ChannelBucket(models.Model):
    """The token bucket of a paced channel, shared by every process through its row."""

    name = models.CharField(max_length=24, primary_key=True)
    tokens = models.FloatField()
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} {self.tokens:.1f}"
