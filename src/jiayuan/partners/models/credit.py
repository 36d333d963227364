"""The credit ledger (信用积分): append-only entries, each with its reason, evidence and
who decided; and the dismissal proposals a threshold crossing sends to the community
party committee."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel

from ..choices import CreditReason, DismissalStatus
from .agreements import Agreement
from .registry import Partner


class CreditEntry(ScopedModel):
    """One change of a partner's credit. ``balance`` is the balance after it, so the
    ledger can be checked row by row; ``evidence`` names what it rests on
    (``feedback:12``, ``evaluation:3``, ``finding:7``). Never updated or deleted."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="credit_entries")
    delta = models.IntegerField(_("变动"))
    balance = models.IntegerField(_("余额"))
    reason = models.CharField(_("原因"), max_length=24, choices=CreditReason.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    evidence = models.CharField(_("依据"), max_length=40, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["partner_id", "id"]
        indexes = [models.Index(fields=["partner", "id"])]
        constraints = [
            # the same evidence never counts twice for the same reason
            models.UniqueConstraint(
                fields=["partner", "reason", "evidence"],
                condition=~models.Q(evidence=""),
                name="partners_credit_once_per_evidence",
            )
        ]
        verbose_name = _("信用记录")
        verbose_name_plural = _("信用记录")

    def __str__(self) -> str:
        return f"{self.partner_id} {self.delta:+d} → {self.balance}"

    def derive_area_path(self) -> str:
        return self.partner.area_path


class Dismissal(ScopedModel):
    """A proposal to dismiss a partner under an agreement (its credit reached the
    agreement's dismissal threshold), and the party committee's decision."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="dismissals")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="dismissals")
    balance = models.IntegerField(_("提议时信用分"))
    status = models.CharField(
        _("状态"), max_length=10, choices=DismissalStatus.choices, default=DismissalStatus.PROPOSED
    )
    reasons = models.TextField(_("理由"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement"],
                condition=models.Q(status="proposed"),
                name="partners_one_open_dismissal",
            )
        ]
        verbose_name = _("清退提议")
        verbose_name_plural = _("清退提议")

    def __str__(self) -> str:
        return f"{self.partner} {self.get_status_display()}"

    def derive_area_path(self) -> str:
        return self.partner.area_path
