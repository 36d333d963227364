"""Community projects run by partners (项目+市场) and the decisions that move a project
through its five stages 立项 → 发包 → 协议 → 监管 → 评估."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.community.models import Room, ServicePosition
from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area

from ..choices import Decision, PriceClass, ProjectStatus, Stage
from .registry import Partner


def money(label: Any, **options: Any) -> Any:
    """An amount in yuan (元), never negative."""
    return models.DecimalField(
        label, max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal(0))],
        **options,
    )  # fmt: skip


class Fund(ScopedModel):
    """A yearly fund projects draw on (社区公益金, 党组织服务群众经费 …)."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="partner_funds")
    year = models.PositiveSmallIntegerField(_("年度"))
    name = models.CharField(_("名称"), max_length=100)
    amount = money(_("总额(元)"))

    class Meta:
        ordering = ["-year", "area_path", "name"]
        constraints = [
            models.UniqueConstraint(fields=["area", "year", "name"], name="partners_unique_fund")
        ]
        verbose_name = _("年度资金")
        verbose_name_plural = _("年度资金")

    def __str__(self) -> str:
        return f"{self.year} {self.name}"

    def derive_area_path(self) -> str:
        return self.area.path


class Project(ScopedModel):
    """A project in a community space, given free or at low cost in exchange for free,
    low-cost or small-profit services. ``stage`` is the stage the project is in; it
    moves on only through an approved :class:`StageDecision` of the stage before it
    (``jiayuan.partners.stages``). ``partner`` is set when the open call's selection is
    approved. ``price_cap`` bounds every price of a low-cost or small-profit service;
    ``target_groups`` are 一老一小 labels (people tags) the services are for."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="partner_projects")
    name = models.CharField(_("项目名称"), max_length=100)
    content = models.TextField(_("服务内容"))
    position = models.ForeignKey(
        ServicePosition, null=True, blank=True, on_delete=models.PROTECT,
        related_name="partner_projects", verbose_name=_("阵地"),
    )  # fmt: skip
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="partner_projects",
        verbose_name=_("场地"),
    )  # fmt: skip
    hours = models.JSONField(_("使用时段"), default=dict, blank=True)
    price_class = models.CharField(_("价格类别"), max_length=14, choices=PriceClass.choices)
    price_cap = money(_("限价(元)"), null=True, blank=True)
    target_groups = models.JSONField(_("服务对象"), default=list, blank=True)
    budget = money(_("预算(元)"), default=Decimal(0))
    fund = models.ForeignKey(
        Fund, null=True, blank=True, on_delete=models.PROTECT, related_name="projects"
    )
    stage = models.CharField(
        _("阶段"), max_length=12, choices=Stage.choices, default=Stage.PROPOSAL
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=ProjectStatus.choices, default=ProjectStatus.OPEN
    )
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="projects"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["area_path", "name", "id"]
        indexes = [models.Index(fields=["stage", "status", "area_path"])]
        verbose_name = _("合伙项目")
        verbose_name_plural = _("合伙项目")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.area.path


class StageDecision(ScopedModel):
    """The community party committee's decision closing a stage of a project (立项审批,
    遴选结果审定, 协议审定, 监管报告, 评估审定). Append-only: a rejected stage may be
    decided again; the project moves on with the first approval."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="decisions")
    stage = models.CharField(_("阶段"), max_length=12, choices=Stage.choices)
    decision = models.CharField(_("决定"), max_length=10, choices=Decision.choices)
    reasons = models.TextField(_("理由"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("决定时间"))

    class Meta:
        ordering = ["decided_at", "id"]
        indexes = [models.Index(fields=["project", "stage"])]
        verbose_name = _("阶段决定")
        verbose_name_plural = _("阶段决定")

    def __str__(self) -> str:
        return f"{self.project_id} {self.stage} {self.decision}"

    def derive_area_path(self) -> str:
        return self.project.area_path
