"""Questions asked and what the assistant answered: the log staff review, and the
hand-off of an unanswered question to the asker's grid worker."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.people.models import Person

from ..choices import Abstention, Channel


class Ask(models.Model):
    """One question and its answer. ``question`` is stored with ID and phone numbers
    masked (:func:`jiayuan.core.pii` masking); ``citations`` is the list of
    ``{"entry", "title", "source"}`` the answer cited (empty for an abstention);
    ``case_number`` is the hand-off's case, opened through ``core.incidents`` with the
    key ``ask:<id>``. ``area_path`` is the asker's home grid when known (scoping of the
    log for staff), else empty."""

    created_at = models.DateTimeField(_("提问时间"), default=timezone.now, db_index=True)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    area_path = models.CharField(_("区域路径"), max_length=64, blank=True, db_index=True)
    question = models.CharField(_("问题"), max_length=500)
    answer = models.TextField(_("答复"), blank=True)
    abstained = models.BooleanField(_("未能回答"), default=False)
    reason = models.CharField(_("未答原因"), max_length=20, choices=Abstention.choices, blank=True)
    personal = models.BooleanField(_("个人答复"), default=False)
    citations = models.JSONField(_("引用"), default=list, blank=True)
    score = models.FloatField(_("匹配分"), default=0.0)
    case_number = models.CharField(_("转办诉求"), max_length=32, blank=True)
    handed_off_at = models.DateTimeField(_("转办时间"), null=True, blank=True)
    millis = models.FloatField(_("用时（毫秒）"), default=0.0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("提问")
        verbose_name_plural = _("提问")
        indexes = [models.Index(fields=["abstained", "created_at"])]

    def __str__(self) -> str:
        return self.question[:30]
