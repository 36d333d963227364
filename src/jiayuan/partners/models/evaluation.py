"""评估: the quarterly evaluation of a project on four dimensions (运营成效, 财务可持续,
社会效益, 服务质量) with weights and evidence, the quarter's feedback among it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel

from ..choices import Dimension, Grade
from .projects import Project


def score_field(label: Any) -> Any:
    """A score from 0 to 100 with two decimals."""
    return models.DecimalField(
        label, max_digits=5, decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )  # fmt: skip


class Evaluation(ScopedModel):
    """One quarter's evaluation (``quarter`` like ``2026Q3``). ``total`` is the weighted
    sum of its :class:`DimensionScore` rows, ``grade`` follows from it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="evaluations")
    quarter = models.CharField(_("季度"), max_length=6)
    total = score_field(_("总分"))
    grade = models.CharField(_("等级"), max_length=10, choices=Grade.choices)
    feedback_count = models.PositiveIntegerField(_("评价数"), default=0)
    feedback_average = models.DecimalField(
        _("平均满意度"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    summary = models.TextField(_("评估意见"), blank=True)
    evaluated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evaluated_at = models.DateTimeField(_("评估时间"))

    class Meta:
        ordering = ["project_id", "quarter"]
        constraints = [
            models.UniqueConstraint(fields=["project", "quarter"], name="partners_one_evaluation")
        ]
        verbose_name = _("季度评估")
        verbose_name_plural = _("季度评估")

    def __str__(self) -> str:
        return f"{self.project} {self.quarter}"

    def derive_area_path(self) -> str:
        return self.project.area_path


class DimensionScore(models.Model):
    """One dimension of an evaluation: its weight (the four sum to 100), score and the
    evidence it rests on."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="scores")
    dimension = models.CharField(_("维度"), max_length=12, choices=Dimension.choices)
    weight = models.PositiveSmallIntegerField(
        _("权重"), validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    score = score_field(_("得分"))
    evidence = models.TextField(_("依据"), blank=True)

    class Meta:
        ordering = ["evaluation_id", "dimension"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "dimension"], name="partners_one_dimension_score"
            )
        ]
        verbose_name = _("维度得分")
        verbose_name_plural = _("维度得分")

    def __str__(self) -> str:
        return f"{self.dimension} {self.score}"
