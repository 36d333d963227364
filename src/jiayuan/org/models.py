"""The area tree, dwellings, party organisations and user memberships."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.core.roles import Role

from .choices import AreaKind, DwellingUse, PartyOrgKind


class Area(ScopedModel):
    """A node of the one area tree (区域): county → street (街道) → community (社区) →
    zone (小区/片区) → grid (网格) → building (楼栋) → unit (单元).

    ``path`` is the materialised code path, ``370830/001/003/02/01/``; a row's
    ``area_path`` is its own path, so an area is visible to whoever sees inside it.
    """

    kind = models.CharField(_("类型"), max_length=16, choices=AreaKind.choices, db_index=True)
    code = models.CharField(_("编码"), max_length=12)
    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("路径"), max_length=64, unique=True)
    depth = models.PositiveSmallIntegerField(_("层级"), default=0)
    boundary = models.JSONField(_("边界"), null=True, blank=True, help_text="GeoJSON Polygon")
    centroid_lat = models.FloatField(_("中心纬度"), null=True, blank=True)
    centroid_lng = models.FloatField(_("中心经度"), null=True, blank=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "code"], name="org_area_unique_code")
        ]
        verbose_name = _("区域")
        verbose_name_plural = _("区域")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        if self.parent_id is not None and not self.path:
            parent = Area.objects.get(pk=self.parent_id) if self.parent is None else self.parent
            self.path = f"{parent.path}{self.code}/"
            self.depth = parent.depth + 1
        elif not self.path:
            self.path = f"{self.code}/"
        return self.path

    @property
    def full_code(self) -> str:
        """The path as one string of digits (``370830001003``), for statistics."""
        return self.path.replace("/", "")

    @property
    def centroid(self) -> dict[str, float] | None:
        if self.centroid_lat is None or self.centroid_lng is None:
            return None
        return {"lat": self.centroid_lat, "lng": self.centroid_lng}

    def ancestors(self) -> models.QuerySet[Area]:
        parts = self.path.rstrip("/").split("/")
        prefixes = ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]
        return Area.objects.filter(path__in=prefixes).order_by("depth")

    def descendants(self, kind: str | None = None) -> models.QuerySet[Area]:
        qs = Area.objects.filter(path__startswith=self.path).exclude(pk=self.pk)
        return qs.filter(kind=kind) if kind else qs


class Dwelling(ScopedModel):
    """A dwelling (房屋) in a building unit: the place where households live."""

    unit = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="dwellings")
    number = models.CharField(_("门牌号"), max_length=20)
    floor = models.SmallIntegerField(_("楼层"), default=1)
    floor_area = models.DecimalField(_("面积(㎡)"), max_digits=7, decimal_places=2, null=True)
    use = models.CharField(
        _("用途"), max_length=16, choices=DwellingUse.choices, default=DwellingUse.RESIDENTIAL
    )

    class Meta:
        ordering = ["area_path", "number"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "number"], name="org_dwelling_unique_number")
        ]
        verbose_name = _("房屋")
        verbose_name_plural = _("房屋")

    def __str__(self) -> str:
        return f"{self.number}室"

    def derive_area_path(self) -> str:
        return self.unit.path


class PartyOrganization(ScopedModel):
    """A party organisation at one level of the five-level structure: 街道党工委, 社区党委,
    小区党支部 (one per zone), 网格党小组 (one per grid)."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="party_orgs")
    kind = models.CharField(_("层级"), max_length=24, choices=PartyOrgKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    founded_on = models.DateField(_("成立日期"), null=True, blank=True)

    class Meta:
        ordering = ["area_path"]
        constraints = [
            models.UniqueConstraint(fields=["area", "kind"], name="org_party_org_one_per_level")
        ]
        verbose_name = _("党组织")
        verbose_name_plural = _("党组织")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.area.path


class Membership(models.Model):
    """A user's role at an area node (user × area × role): what scoping reads."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="memberships")
    area_path = models.CharField(max_length=64, editable=False)
    role = models.CharField(_("角色"), max_length=24, choices=Role.choices)
    active = models.BooleanField(_("有效"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "area", "role"], name="org_membership_unique")
        ]
        verbose_name = _("账号角色")
        verbose_name_plural = _("账号角色")

    def __str__(self) -> str:
        return f"{self.user} {self.get_role_display()} @ {self.area}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.area_path = self.area.path
        super().save(*args, **kwargs)
