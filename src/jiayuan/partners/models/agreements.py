"""协议: the agreement between the community and the selected partner — duration,
obligations, price caps, exit conditions and the credit thresholds at which the
community warns and may dismiss the partner."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel

from ..choices import AgreementStatus
from .projects import Project, money
from .registry import Partner


class Agreement(ScopedModel):
    """One agreement of a project with its partner. ``warning_threshold`` and
    ``dismissal_threshold`` are credit balances: falling to the first warns once, to the
    second proposes dismissal to the party committee once. ``renewal_reminded_on`` is the
    day the renewal reminder was sent. An ended agreement (``ended_on``, ``end_reason``)
    freed the project's space."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="agreements")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="agreements")
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("到期日期"))
    obligations = models.TextField(_("双方义务"))
    price_cap = money(_("限价(元)"), null=True, blank=True)
    exit_conditions = models.TextField(_("退出条件"))
    warning_threshold = models.IntegerField(_("预警信用分"))
    dismissal_threshold = models.IntegerField(_("清退信用分"))
    status = models.CharField(
        _("状态"), max_length=10, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT
    )
    signed_on = models.DateField(_("签订日期"), null=True, blank=True)
    renewal_reminded_on = models.DateField(_("续签提醒日期"), null=True, blank=True)
    ended_on = models.DateField(_("终止日期"), null=True, blank=True)
    end_reason = models.CharField(_("终止原因"), max_length=200, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on", "id"]
        indexes = [models.Index(fields=["status", "ends_on"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")),
                name="partners_agreement_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=["draft", "active"]),
                name="partners_one_live_agreement",
            ),
        ]
        verbose_name = _("合作协议")
        verbose_name_plural = _("合作协议")

    def __str__(self) -> str:
        return f"{self.project} {self.starts_on}–{self.ends_on}"

    def derive_area_path(self) -> str:
        return self.project.area_path
