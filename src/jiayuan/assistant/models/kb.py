"""The knowledge base (知识库): entries staff own, each answer traced to its source.

County-wide reference data like the policy catalogue: every staff member reads it,
those who may change the catalogue edit it (``jiayuan.core.actions.may_change``)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.policies.models import Policy

from ..choices import Origin, SourceLevel, Topic


class Entry(models.Model):
    """One question residents ask and its answer.

    ``questions`` are the phrasings staff expect (question variants, a list of strings);
    ``answer`` is the text given, which may name a local figure as ``{name}``: each item
    of ``local_figures`` is ``{"name", "label", "value", "unit"}`` with ``value`` null
    when the county has not entered it — an answer that needs it abstains and sends the
    asker to ``office``, it never guesses. ``source`` and ``article`` cite the national
    or Shandong document the answer rests on. ``policy`` links an entry generated from
    (or about) a catalogue policy, for personal answers through the policy engine."""

    key = models.SlugField(_("编号"), max_length=60, unique=True)
    title = models.CharField(_("标题"), max_length=100)
    topic = models.CharField(_("类别"), max_length=20, choices=Topic.choices, default=Topic.OTHER)
    origin = models.CharField(
        _("来源"), max_length=10, choices=Origin.choices, default=Origin.STAFF
    )
    policy = models.ForeignKey(
        Policy, null=True, blank=True, on_delete=models.SET_NULL, related_name="kb_entries"
    )
    questions = models.JSONField(_("问法"), default=list, blank=True)
    answer = models.TextField(_("答复"))
    source = models.CharField(_("依据文件"), max_length=200)
    article = models.CharField(_("条款"), max_length=100, blank=True)
    source_level = models.CharField(
        _("发布层级"), max_length=10, choices=SourceLevel.choices, default=SourceLevel.NATIONAL
    )
    office = models.CharField(_("咨询办理部门"), max_length=100, blank=True)
    hours = models.CharField(_("办公时间"), max_length=100, blank=True)
    local_figures = models.JSONField(_("本地数额"), default=list, blank=True)
    valid_from = models.DateField(_("生效日期"), null=True, blank=True)
    valid_until = models.DateField(_("失效日期"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("负责人"),
    )  # fmt: skip
    enabled = models.BooleanField(_("启用"), default=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["topic", "key"]
        verbose_name = _("知识条目")
        verbose_name_plural = _("知识条目")

    def __str__(self) -> str:
        return self.title

    def valid_on(self, day: dt.date) -> bool:
        return (
            self.enabled
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_until is None or day < self.valid_until)
        )


class Synonym(models.Model):
    """A word residents use for a term of the knowledge base (新农合 → 城乡居民医保,
    老年卡 → 老年人优待证, 两补 → 两项补贴): questions are rewritten before retrieval."""

    term = models.CharField(_("说法"), max_length=30, unique=True)
    canonical = models.CharField(_("规范词"), max_length=30)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["canonical", "term"]
        verbose_name = _("同义词")
        verbose_name_plural = _("同义词")

    def __str__(self) -> str:
        return f"{self.term} → {self.canonical}"
