"""Policies (政策), their dated parameters and rule versions, benefits received,
matching runs and matches, whose door-to-door task is the match itself.

A match keeps its explanation durable: the rule version it was found by, the parameter
values in force on the run's date and the inputs the matching query read (see
:mod:`jiayuan.core.rules.inputs`); the trace is derived from those stored values only.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.people.models import Person

from .choices import (
    OPEN_STATUSES,
    BenefitSource,
    CloseReason,
    IssuingLevel,
    MatchKind,
    MatchStatus,
    RunStatus,
)


class Policy(models.Model):
    """A welfare policy residents may qualify for. County-wide reference data: every
    staff member may read it, administrators edit it."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    summary = models.CharField(_("简介"), max_length=200, blank=True)
    level = models.CharField(_("发布层级"), max_length=10, choices=IssuingLevel.choices)
    legal_basis = models.CharField(_("政策依据"), max_length=200)
    article = models.CharField(_("条款"), max_length=60, blank=True)
    benefit = models.TextField(_("待遇内容"))
    materials = models.JSONField(_("申请材料"), default=list, blank=True)
    office = models.CharField(_("受理部门"), max_length=100, blank=True)
    active_from = models.DateField(_("执行日期"), null=True, blank=True)
    active_until = models.DateField(_("停止日期"), null=True, blank=True)
    rule = models.TextField(_("资格规则"))
    version = models.PositiveIntegerField(_("规则版本"), default=1)
    lookahead_days = models.PositiveSmallIntegerField(_("提前发现天数"), default=30)
    visit_days = models.PositiveSmallIntegerField(_("上门期限（天）"), default=10)
    recheck_days = models.PositiveSmallIntegerField(
        _("复查间隔（天）"),
        default=365,
        help_text=_("核实不符合或本人放弃后，间隔多少天才再次推送"),
    )
    enabled = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("政策")
        verbose_name_plural = _("政策")

    def __str__(self) -> str:
        return self.name

    def active_on(self, day: dt.date) -> bool:
        return (
            self.enabled
            and (self.active_from is None or self.active_from <= day)
            and (self.active_until is None or day < self.active_until)
        )


class RuleVersion(models.Model):
    """Every rule a policy has had (immutable): matches point at the one that found them."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="rule_versions")
    version = models.PositiveIntegerField(_("版本"))
    rule = models.TextField(_("资格规则"))
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["policy", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policies_rule_version")
        ]
        verbose_name = _("规则版本")
        verbose_name_plural = _("规则版本")

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.version}"


class Parameter(models.Model):
    """A dated parameter (参数) of a policy: one value per period, from ``start`` until
    the next period starts. ``value`` may be unknown (null): the figure is set by the
    county bureau and Jiayuan never invents it; ``note`` says so."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="parameters")
    name = models.CharField(_("参数"), max_length=40)
    label = models.CharField(_("名称"), max_length=60)
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    start = models.DateField(_("起始日期"))
    value = models.DecimalField(_("取值"), max_digits=12, decimal_places=2, null=True, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["policy", "name", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "name", "start"], name="policies_parameter_period"
            )
        ]
        verbose_name = _("政策参数")
        verbose_name_plural = _("政策参数")

    def __str__(self) -> str:
        return f"{self.label} {self.start}"


class ReceivedBenefit(ScopedModel):
    """A benefit a person receives (享受待遇): person × policy × since/until. Imported,
    entered by hand, or recorded when a door visit ends with the benefit granted."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="benefits")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="benefits")
    since = models.DateField(_("起始日期"), null=True, blank=True)
    until = models.DateField(_("终止日期"), null=True, blank=True)
    persons = models.PositiveSmallIntegerField(_("保障人数"), null=True, blank=True)
    monthly_amount = models.DecimalField(
        _("月保障金额"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    source = models.CharField(
        _("来源"), max_length=10, choices=BenefitSource.choices, default=BenefitSource.MANUAL
    )
    match = models.ForeignKey(
        "Match", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["policy", "person"]),
            # the benefit list's order: newest first, without sorting every row in scope
            models.Index(fields=["-recorded_at", "-id"], name="policies_benefit_recent"),
        ]
        verbose_name = _("享受待遇")
        verbose_name_plural = _("享受待遇")

    def __str__(self) -> str:
        return f"{self.person_id}:{self.policy_id}"

    def derive_area_path(self) -> str:
        return self.person.area_path


class MatchRun(models.Model):
    """One matching run (政策找人): every active policy over the whole population."""

    ref_date = models.DateField(_("匹配日期"))
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.JSONField(_("结果"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    # Changes to residents from this instant on are the next run's to read: the
    # incremental run re-evaluates only what changed since its baseline's watermark.
    watermark = models.DateTimeField(_("数据截止时间"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("匹配批次")
        verbose_name_plural = _("匹配批次")

    def __str__(self) -> str:
        return f"{self.ref_date} #{self.pk}"


class Match(ScopedModel):
    """A person found by a policy, and the door-to-door task it becomes for the grid
    worker of the person's grid. At most one open match per person and policy."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="matches")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="matches")
    rule_version = models.ForeignKey(RuleVersion, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(
        MatchRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="matches"
    )
    kind = models.CharField(_("类型"), max_length=10, choices=MatchKind.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=MatchStatus.choices, default=MatchStatus.PENDING
    )
    ref_date = models.DateField(_("匹配日期"))
    eligible_on = models.DateField(_("符合条件日期"))
    due_on = models.DateField(_("应上门日期"), null=True, blank=True, db_index=True)
    inputs = models.JSONField(_("规则输入"), default=dict)
    parameters = models.JSONField(_("参数取值"), default=dict, blank=True)
    check_items = models.JSONField(_("核实事项"), default=list, blank=True)
    failed_item = models.CharField(_("不符合事项"), max_length=200, blank=True)
    close_reason = models.CharField(
        _("关闭原因"), max_length=20, choices=CloseReason.choices, blank=True
    )
    remark = models.TextField(_("走访备注"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    visited_at = models.DateTimeField(_("上门时间"), null=True, blank=True)
    visited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "person"],
                condition=Q(status__in=OPEN_STATUSES),
                name="policies_one_open_match",
            )
        ]
        indexes = [models.Index(fields=["policy", "status"])]
        verbose_name = _("匹配")
        verbose_name_plural = _("匹配")

    def __str__(self) -> str:
        return f"{self.policy_id}:{self.person_id} {self.status}"

    def derive_area_path(self) -> str:
        return self.person.area_path

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class PersonChange(models.Model):
    """A change log row (居民变更记录): a person's or a household's data that matching
    rules read was updated or deleted. Written by database triggers on the people and
    benefit tables (see migration 0003), so every path is seen: the action layer,
    ``QuerySet.update()``, the bulk path and raw SQL alike. New rows need no log: their
    ``created_at`` says when they came. The nightly run reads the rows after its
    baseline's watermark and prunes the old ones."""

    person_id = models.BigIntegerField(null=True, blank=True)
    household_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # what changed (jiayuan.policies.reads): a person's column, "tag" or "benefit" (ref_id
    # the tag's or the policy's id), a household's "members" or "tag"; "" = anything
    changed = models.CharField(max_length=24, blank=True, default="")
    ref_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("居民变更记录")
        verbose_name_plural = _("居民变更记录")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} p{self.person_id} h{self.household_id}"


class MatchEvent(models.Model):
    """The match's timeline (append-only): found, visited, granted, closed …"""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("时间"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(_("状态"), max_length=10, choices=MatchStatus.choices)
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        # incremental runs read the matches finalised or closed since their baseline
        indexes = [models.Index(fields=["at"], name="policies_matchevent_at")]
        verbose_name = _("匹配记录")
        verbose_name_plural = _("匹配记录")

    def __str__(self) -> str:
        return f"{self.match_id} {self.status}"
