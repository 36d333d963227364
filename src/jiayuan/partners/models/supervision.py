"""监管: supervision groups (e.g. 永续社区's 食堂监督团), their inspections of a project,
and the findings with rectification deadlines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from ..choices import Severity
from .projects import Project


class SupervisionGroup(ScopedModel):
    """A group of residents and cadres who supervise the projects of a community."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="supervision_groups")
    name = models.CharField(_("名称"), max_length=100)
    members = models.ManyToManyField(Person, blank=True, related_name="supervision_groups")
    projects = models.ManyToManyField(Project, blank=True, related_name="supervision_groups")

    class Meta:
        ordering = ["area_path", "name"]
        verbose_name = _("监督团")
        verbose_name_plural = _("监督团")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.area.path


class Inspection(ScopedModel):
    """One inspection of a project by a supervision group."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="inspections")
    group = models.ForeignKey(
        SupervisionGroup, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="inspections",
    )  # fmt: skip
    inspected_at = models.DateTimeField(_("检查时间"))
    summary = models.TextField(_("检查情况"))
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-inspected_at", "id"]
        verbose_name = _("监管检查")
        verbose_name_plural = _("监管检查")

    def __str__(self) -> str:
        return f"{self.project} {self.inspected_at:%Y-%m-%d}"

    def derive_area_path(self) -> str:
        return self.project.area_path


class Finding(ScopedModel):
    """A problem found in an inspection (or an incident reported between inspections,
    ``inspection`` empty), to be rectified by ``rectify_by``. A finding past its deadline
    and not rectified costs the partner credit once (``penalised``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="findings")
    inspection = models.ForeignKey(
        Inspection, null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    text = models.TextField(_("问题"))
    severity = models.CharField(_("程度"), max_length=8, choices=Severity.choices)
    rectify_by = models.DateField(_("整改期限"))
    rectified_at = models.DateTimeField(_("整改完成"), null=True, blank=True)
    rectification = models.TextField(_("整改情况"), blank=True)
    penalised = models.BooleanField(_("已扣分"), default=False)
    photo = models.FileField(upload_to="partners/findings/%Y/%m/", blank=True)

    class Meta:
        ordering = ["rectify_by", "id"]
        indexes = [models.Index(fields=["rectified_at", "rectify_by"])]
        verbose_name = _("问题整改")
        verbose_name_plural = _("问题整改")

    def __str__(self) -> str:
        return self.text[:30]

    def derive_area_path(self) -> str:
        return self.project.area_path
