"""Micro-wishes (微心愿): collected, claimed, fulfilled with a photo, thanked — each step
an event of the wish's append-only timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from ..choices import ClaimerKind, WishCategory, WishChannel, WishStatus


class Wish(ScopedModel):
    """A resident's small wish (微心愿), located at the compound or grid it comes from.

    ``target_groups`` are the 一老一小 tags of the person it is for (高龄, 独居, 空巢,
    留守儿童 …), read from their tags when the wish is collected."""

    number = models.CharField(_("编号"), max_length=20, unique=True)
    title = models.CharField(_("心愿"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    category = models.CharField(_("类别"), max_length=12, choices=WishCategory.choices)
    channel = models.CharField(_("收集渠道"), max_length=12, choices=WishChannel.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="wishes")
    beneficiary = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="wishes"
    )
    target_groups = models.JSONField(_("服务对象"), default=list, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=WishStatus.choices, default=WishStatus.COLLECTED
    )
    claimer_kind = models.CharField(
        _("认领方类型"), max_length=20, choices=ClaimerKind.choices, blank=True
    )
    claimer = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_wishes"
    )
    claimer_name = models.CharField(_("认领方"), max_length=100, blank=True)
    claimed_at = models.DateTimeField(_("认领时间"), null=True, blank=True)
    due_on = models.DateField(_("承诺完成日期"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("最近提醒"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("实现时间"), null=True, blank=True)
    thanked_at = models.DateTimeField(_("致谢时间"), null=True, blank=True)
    thanks = models.CharField(_("感谢语"), max_length=200, blank=True)
    case_number = models.CharField(_("诉求编号"), max_length=32, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "area_path"]),
            models.Index(fields=["status", "claimed_at"]),
        ]
        verbose_name = _("微心愿")
        verbose_name_plural = _("微心愿")

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def derive_area_path(self) -> str:
        return self.area.path


class WishEvent(models.Model):
    """One step of a wish's timeline (append-only)."""

    wish = models.ForeignKey(Wish, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("时间"), default=timezone.now)
    kind = models.CharField(_("环节"), max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(_("操作人"), max_length=100, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("心愿进展")
        verbose_name_plural = _("心愿进展")

    def __str__(self) -> str:
        return f"{self.wish_id} {self.kind}"


class Photo(ScopedModel):
    """A photo of the community services (a fulfilled wish, an activity, a market), kept
    privately like a case's photos and served only after a scope check."""

    wish = models.ForeignKey(
        Wish, null=True, blank=True, on_delete=models.CASCADE, related_name="photos"
    )
    activity = models.ForeignKey(
        "community.Activity", null=True, blank=True, on_delete=models.CASCADE,
        related_name="photos",
    )  # fmt: skip
    market = models.ForeignKey(
        "community.Market", null=True, blank=True, on_delete=models.CASCADE, related_name="photos"
    )
    file = models.FileField(upload_to="community/%Y/%m/")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    caption = models.CharField(_("说明"), max_length=100, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("照片")
        verbose_name_plural = _("照片")

    def __str__(self) -> str:
        return self.caption or self.file.name
