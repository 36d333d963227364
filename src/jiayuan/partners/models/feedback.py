"""Residents' feedback on a project: the satisfaction mailbox on the phone page and the
grid workers' return visits. The rating is the resident's own, never a guess; a
negative one counts against the partner's credit only once the supervision group has
verified it."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.people.models import Person

from ..choices import FeedbackChannel
from .projects import Project
from .supervision import SupervisionGroup


class Feedback(ScopedModel):
    """One resident's rating (1–5) and words on a project. ``visited_by`` is the grid
    worker who recorded it on a return visit; ``verified_at``/``verified_by`` the
    supervision group's check of a negative one (``upheld`` whether it stood)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="feedback")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="partner_feedback"
    )
    channel = models.CharField(_("渠道"), max_length=14, choices=FeedbackChannel.choices)
    rating = models.PositiveSmallIntegerField(
        _("满意度"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    text = models.TextField(_("意见"), blank=True)
    submitted_at = models.DateTimeField(_("提交时间"))
    visited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_group = models.ForeignKey(
        SupervisionGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    upheld = models.BooleanField(_("核实属实"), null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "id"]
        indexes = [models.Index(fields=["project", "submitted_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="partners_rating_1_to_5"
            )
        ]
        verbose_name = _("居民评价")
        verbose_name_plural = _("居民评价")

    def __str__(self) -> str:
        return f"{self.project_id} {self.rating}"

    def derive_area_path(self) -> str:
        return self.project.area_path

    @property
    def negative(self) -> bool:
        return self.rating <= 2
