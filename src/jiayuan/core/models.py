"""Shared base model, the audit log, API tokens, the working-day calendar and the inbox."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .roles import Perm
from .scoping import scope_q


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows how to restrict itself to what a user may see."""

    def visible_to(self, user: Any, perm: str = Perm.VIEW) -> ScopedQuerySet:
        return self.filter(scope_q(user, perm, field=self.model.scope_field))


class ScopedModel(models.Model):
    """The base of every domain row that belongs somewhere in the area tree.

    ``area_path`` is the materialised path of the area the row belongs to; it is what
    scoping filters on, so it is stored on the row instead of joined.
    """

    scope_field: ClassVar[str] = "area_path"

    area_path = models.CharField(_("区域路径"), max_length=64, db_index=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    def derive_area_path(self) -> str:
        """Subclasses set ``area_path`` from their owning area."""
        return self.area_path

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.area_path = self.derive_area_path()
        super().save(*args, **kwargs)


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("the audit log is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit log is append-only")

    def visible_to(self, user: Any, perm: str = Perm.VIEW) -> AuditQuerySet:
        return self.filter(scope_q(user, perm))

    def for_object(self, obj: models.Model) -> AuditQuerySet:
        return self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))


class AuditEntry(models.Model):
    """One line of the append-only audit log (审计日志): who did what to which object."""

    class Action(models.TextChoices):
        CREATE = "create", _("新增")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("删除")
        REVEAL = "reveal", _("查看敏感信息")
        LOGIN = "login", _("登录")
        EXPORT = "export", _("导出")

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(_("操作人"), max_length=150, blank=True)
    channel = models.CharField(_("渠道"), max_length=16, blank=True)
    request_id = models.CharField(_("请求编号"), max_length=32, blank=True)
    client_address = models.CharField(_("来源地址"), max_length=64, blank=True)
    action = models.CharField(_("动作"), max_length=16, choices=Action.choices)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象编号"), max_length=64)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    area_path = models.CharField(_("区域路径"), max_length=64, blank=True, db_index=True)
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit log is append-only")


class ApiToken(models.Model):
    """A bearer token for the API; only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")

    def __str__(self) -> str:
        return f"{self.user} token {self.digest[:8]}"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user: Any, lifetime_days: int = 30) -> tuple[str, ApiToken]:
        """A new token: the raw value (shown once) and its stored row."""
        raw = secrets.token_urlsafe(32)
        row = cls.objects.create(
            user=user,
            digest=cls.hash(raw),
            expires_at=timezone.now() + dt.timedelta(days=lifetime_days),
        )
        return raw, row


class CalendarDay(models.Model):
    """A day an administrator declared: a holiday (休) or a make-up working day (班).

    These override the ``chinese-calendar`` package, and supply years it does not know
    yet (the State Council publishes each year's schedule late in the year before).
    """

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是否工作日"))
    name = models.CharField(_("名称"), max_length=50, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("节假日安排")
        verbose_name_plural = _("节假日安排")

    def __str__(self) -> str:
        return f"{self.date} {'班' if self.is_workday else '休'} {self.name}"


class JobRun(models.Model):
    """A record that a background job ran, and where: proof that a worker is alive."""

    name = models.CharField(max_length=100)
    token = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.name} {self.started_at:%Y-%m-%d %H:%M:%S}"


class Notification(models.Model):
    """A message in a staff member's in-app inbox (消息), from any app.

    Rows are written by :func:`jiayuan.core.notices.notify`. ``link`` is the page the
    notice opens and ``ref`` a short reference shown beside it (a case number, an alarm
    number); core knows neither cases nor alarms, so there is no foreign key to them.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("类型"), max_length=24)
    title = models.CharField(_("标题"), max_length=120)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(
        _("链接"), max_length=200, blank=True, help_text="page the notice opens"
    )
    ref = models.CharField(_("编号"), max_length=40, blank=True, db_index=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"], name="core_notice_user_unread")]
        verbose_name = _("消息")
        verbose_name_plural = _("消息")

    def __str__(self) -> str:
        return self.title
