"""发包: a project's open call (公开招募), its scoring criteria with weights, the partners'
applications and the panel's scores. The selection is the application with the highest
weighted score unless the panel records reasons for another."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel

from ..choices import CallStatus
from .projects import Project, money
from .registry import Partner


class Call(ScopedModel):
    """An open call for a project. ``criteria`` lists ``{"key", "label", "weight"}``
    (weights sum to 100). ``panel`` are the users who score the applications.
    ``selected`` and ``reasons`` are the panel's selection; ``published_at`` the day the
    result was made public."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="calls")
    title = models.CharField(_("公告标题"), max_length=120)
    text = models.TextField(_("公告内容"), blank=True)
    criteria = models.JSONField(_("评分标准"), default=list)
    opens_at = models.DateTimeField(_("报名开始"))
    closes_at = models.DateTimeField(_("报名截止"))
    status = models.CharField(
        _("状态"), max_length=10, choices=CallStatus.choices, default=CallStatus.OPEN
    )
    selected = models.ForeignKey(
        "partners.Application", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    reasons = models.TextField(_("遴选理由"), blank=True)
    panel = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="partner_panels",
        verbose_name=_("评审组"),
    )  # fmt: skip
    published_at = models.DateTimeField(_("公示时间"), null=True, blank=True)

    class Meta:
        ordering = ["-opens_at", "id"]
        verbose_name = _("公开招募")
        verbose_name_plural = _("公开招募")

    def __str__(self) -> str:
        return self.title

    def derive_area_path(self) -> str:
        return self.project.area_path


class Application(ScopedModel):
    """A partner's application to a call, with the price it offers."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="applications")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="applications")
    plan = models.TextField(_("服务方案"))
    offered_price = money(_("报价(元)"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"))
    withdrawn = models.BooleanField(_("已撤回"), default=False)

    class Meta:
        ordering = ["submitted_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["call", "partner"], name="partners_one_application")
        ]
        verbose_name = _("报名")
        verbose_name_plural = _("报名")

    def __str__(self) -> str:
        return f"{self.call_id} {self.partner_id}"

    def derive_area_path(self) -> str:
        return self.call.area_path


class PanelScore(models.Model):
    """One panel member's score (0–100) of one application on one criterion."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="scores")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    criterion = models.CharField(_("评分项"), max_length=32)
    score = models.DecimalField(
        _("得分"), max_digits=5, decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )  # fmt: skip
    scored_at = models.DateTimeField(_("评分时间"))

    class Meta:
        ordering = ["application_id", "reviewer_id", "criterion"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "reviewer", "criterion"], name="partners_one_score"
            )
        ]
        verbose_name = _("评分")
        verbose_name_plural = _("评分")

    def __str__(self) -> str:
        return f"{self.application_id} {self.criterion} {self.score}"
