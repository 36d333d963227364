"""The request closed loop (嘟来办): categories, departments, cases and their timelines."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core import pii
from jiayuan.core.calendar import MINUTES_PER_WORKDAY
from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Person, Position

from .choices import Channel, Level, Light, Priority, Satisfaction, SlaStage, Status, Step

# Working minutes per stage when a category says nothing (7.5 h = one working day).
DEFAULT_LIMITS: dict[str, int] = {
    SlaStage.DISPATCH: 60,
    SlaStage.ACCEPT: 120,
    SlaStage.HANDLE: 3 * MINUTES_PER_WORKDAY,
    SlaStage.REVIEW: MINUTES_PER_WORKDAY,
    SlaStage.VISIT: 2 * MINUTES_PER_WORKDAY,
    "total": 5 * MINUTES_PER_WORKDAY,
}
PRIORITY_FACTOR: dict[str, float] = {
    Priority.NORMAL: 1.0,
    Priority.URGENT: 0.5,
    Priority.CRITICAL: 0.25,
}


class Department(models.Model):
    """A functional department (职能部门) cases can be handed to: 住建局, 城管局 …"""

    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="where it works; empty: the whole county",
    )  # fmt: skip
    phone = models.CharField(_("联系电话"), max_length=30, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("职能部门")
        verbose_name_plural = _("职能部门")

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """A category of request (诉求分类) in a tree: its default handling level, the
    responsible department, time limits per stage, and how duplicates are found."""

    code = models.CharField(_("代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    default_level = models.CharField(
        _("默认办理层级"), max_length=12, choices=Level.choices, default=Level.GRID
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="categories"
    )
    limits = models.JSONField(
        _("时限(工作分钟)"), default=dict, blank=True, help_text="{stage: minutes, 'total': …}"
    )
    duplicate_radius_m = models.PositiveIntegerField(_("重复判定半径(米)"), default=100)
    duplicate_window_hours = models.PositiveIntegerField(_("重复判定时间窗(小时)"), default=72)
    attributes = models.JSONField(_("补充字段"), default=list, blank=True)
    public = models.BooleanField(_("对外开放"), default=True)
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("诉求分类")
        verbose_name_plural = _("诉求分类")

    def __str__(self) -> str:
        return self.name

    def limit_minutes(self, stage: str, priority: str = Priority.NORMAL) -> float:
        """The working-minute limit of ``stage`` (or ``"total"``) at ``priority``."""
        own = self.limits.get(stage)
        base = own if own is not None else DEFAULT_LIMITS[stage]
        return float(base) * PRIORITY_FACTOR.get(priority, 1.0)


class Case(ScopedModel):
    """A resident request, patrol finding, hotline order or alarm (诉求案件) travelling
    the six steps 问、派、转、办、审、回 until the resident says it is done.

    ``area_path`` is the path of the level that currently owns the case: the grid while
    the grid handles it, the community's path once raised to the community, and so on,
    so that an escalated case becomes visible to the level above.
    """

    audit_secret_fields = ("reporter_phone_enc", "reporter_phone_index")

    number = models.CharField(_("编号"), max_length=20, unique=True)
    channel = models.CharField(_("来源渠道"), max_length=16, choices=Channel.choices)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases")
    title = models.CharField(_("标题"), max_length=100, blank=True)
    description = models.TextField(_("描述"))
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    priority = models.CharField(
        _("紧急程度"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    level = models.CharField(_("办理层级"), max_length=12, choices=Level.choices)
    # Where it happened: a point and the grid containing it, or a dwelling.
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    grid = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="cases")
    dwelling = models.ForeignKey(
        Dwelling, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    owner_area = models.ForeignKey(
        Area, on_delete=models.PROTECT, related_name="owned_cases", help_text="current level"
    )
    # Who reported it: a registered person, or a name and phone, or nobody.
    reporter = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    reporter_name = models.CharField(_("反映人"), max_length=50, blank=True)
    reporter_phone_enc = models.TextField(blank=True, editable=False)
    reporter_phone_index = models.CharField(max_length=40, blank=True, db_index=True)
    reporter_phone_masked = models.CharField(_("联系电话"), max_length=20, blank=True)
    anonymous = models.BooleanField(_("匿名"), default=False)
    # Who handles it now.
    handler_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="handled_cases",
    )  # fmt: skip
    handler_position = models.ForeignKey(
        Position, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handler_department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    # 红色代办: a party member or one of the 三长 files on the resident's behalf; the
    # resident is the reporter, the proxy is kept by account and by name.
    red_proxy = models.BooleanField(_("红色代办"), default=False)
    proxy_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="proxied_cases", verbose_name=_("代办人账号"),
    )  # fmt: skip
    proxy_name = models.CharField(_("代办人"), max_length=50, blank=True)
    escalated_help = models.BooleanField(_("提级帮办"), default=False)
    # Clocks (stored so lists can sort and filter by them).
    received_at = models.DateTimeField(_("受理时间"), default=timezone.now, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stage_started_at = models.DateTimeField(default=timezone.now)
    stage_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    due_at = models.DateTimeField(_("应办结时间"), null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    delay_minutes = models.PositiveIntegerField(default=0)
    delay_requested_minutes = models.PositiveIntegerField(default=0)
    escalations = models.PositiveSmallIntegerField(_("督办次数"), default=0)
    rework_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("重办次数"), default=0)
    transfer_count = models.PositiveSmallIntegerField(_("转办次数"), default=0)
    dispatched_on_time = models.BooleanField(null=True)
    closed_on_time = models.BooleanField(null=True)
    closed_level = models.CharField(max_length=12, choices=Level.choices, blank=True)
    # Working minutes from receipt to the (latest) reply, fixed when the reply is made so
    # that indicators average it in SQL instead of re-running the calendar per row.
    handling_minutes = models.FloatField(_("办理用时(工作分钟)"), null=True, blank=True)
    satisfaction = models.CharField(
        _("满意度"), max_length=12, choices=Satisfaction.choices, blank=True
    )
    result = models.TextField(_("办理结果"), blank=True)
    public_note = models.CharField(_("公开说明"), max_length=300, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    duplicate_of_hint = models.JSONField(default=list, blank=True)
    source_ref = models.CharField(_("来源编号"), max_length=40, blank=True, db_index=True)
    tracking_token = models.CharField(max_length=32, unique=True, editable=False)
    attributes = models.JSONField(_("补充信息"), default=dict, blank=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["status", "stage_due_at"]),
            models.Index(fields=["category", "received_at"]),
        ]
        verbose_name = _("诉求")
        verbose_name_plural = _("诉求")

    def __str__(self) -> str:
        return self.number

    def derive_area_path(self) -> str:
        return self.owner_area.path

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.tracking_token:
            self.tracking_token = secrets.token_urlsafe(18)
        super().save(*args, **kwargs)

    def set_reporter_phone(self, value: str) -> None:
        self.reporter_phone_enc = pii.encrypt(value)
        self.reporter_phone_index = pii.blind_index(value, purpose="phone")
        self.reporter_phone_masked = pii.mask_phone(value)

    def audit_extra(self) -> dict[str, Any]:
        return {"reporter_phone": self.reporter_phone_masked}

    @property
    def is_open(self) -> bool:
        return self.status not in (Status.CLOSED, Status.REJECTED, Status.MERGED)

    @property
    def reporter_display(self) -> str:
        if self.anonymous:
            return "匿名"
        if self.reporter_id is not None and self.reporter is not None:
            return self.reporter.name
        return self.reporter_name or "—"

    def light(self, now: Any = None) -> str:
        """Traffic light of the current stage: green < 80 %, yellow 80–100 %, red over."""
        from .sla import light_for

        return light_for(self, now)


class CaseEvent(models.Model):
    """One entry of a case's timeline (办理记录): a transition, a note, an escalation."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(_("动作"), max_length=24)
    step = models.CharField(_("环节"), max_length=10, choices=Step.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    note = models.TextField(_("说明"), blank=True)
    public = models.BooleanField(_("对反映人可见"), default=False)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("办理记录")
        verbose_name_plural = _("办理记录")

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"


class CasePhoto(models.Model):
    """A photo of the problem (report) or of the result; stored privately, GPS removed
    from the copy that is shown."""

    class Kind(models.TextChoices):
        REPORT = "report", _("问题照片")
        RESULT = "result", _("办理结果")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="photos")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REPORT)
    file = models.FileField(upload_to="cases/%Y/%m/")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class ReturnVisit(models.Model):
    """A return visit (回访): the reporter's verdict on the result."""

    class By(models.TextChoices):
        RESIDENT = "resident", _("居民评价")
        PHONE = "phone", _("电话回访")
        DOOR = "door", _("上门回访")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="visits")
    at = models.DateTimeField(default=timezone.now)
    by = models.CharField(max_length=10, choices=By.choices)
    satisfaction = models.CharField(max_length=12, choices=Satisfaction.choices)
    comment = models.TextField(blank=True)
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.satisfaction}"


class OutboundMessage(models.Model):
    """A message sent (or logged) through an outbound channel: SMS, WeCom, log."""

    channel = models.CharField(max_length=16)
    recipient = models.CharField(max_length=64, help_text="masked")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL)
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.channel} {self.recipient}"


class Open311Key(models.Model):
    """An api_key for Open311 GeoReport v2 clients; only its SHA-256 is stored."""

    name = models.CharField(max_length=60, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


__all__ = [
    "Case",
    "CaseEvent",
    "CasePhoto",
    "Category",
    "Department",
    "Light",
    "Open311Key",
    "OutboundMessage",
    "ReturnVisit",
    "Satisfaction",
]


class CaseSequence(models.Model):
    """The last case number issued on a day (``WS20261128-0001``)."""

    day = models.DateField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} {self.last}"
