"""Documents of partners and projects (证照、申报书、审批意见、协议 …), kept privately and
served only after a scope check."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel

from ..choices import DocumentKind, Stage
from .projects import Project
from .registry import Partner


class Document(ScopedModel):
    """A file of a partner (``partner``) or of a project's stage (``project`` and
    ``stage``). ``sha256`` identifies the content (a signed agreement can be checked
    against the copy the partner holds)."""

    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    stage = models.CharField(_("阶段"), max_length=12, choices=Stage.choices, blank=True)
    kind = models.CharField(_("类别"), max_length=16, choices=DocumentKind.choices)
    title = models.CharField(_("标题"), max_length=120)
    file = models.FileField(upload_to="partners/%Y/%m/")
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["project", "stage", "kind"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(partner__isnull=False) | models.Q(project__isnull=False),
                name="partners_document_has_owner",
            )
        ]
        verbose_name = _("文件")
        verbose_name_plural = _("文件")

    def __str__(self) -> str:
        return self.title

    def derive_area_path(self) -> str:
        owner = self.project if self.project_id else self.partner
        return owner.area_path if owner is not None else ""
