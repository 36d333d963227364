"""Public-welfare markets (公益集市): co-building units, the service catalogue (8 modules,
24 items), markets with their stalls and visitor counts."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core import pii
from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area

from ..choices import ActivityStatus, StallHolder, UnitKind
from .places import ServicePosition


class CoBuildingUnit(ScopedModel):
    """A co-building unit (共建单位) paired with a community: an agency, a company, a
    school … Its contact's phone is personal data: encrypted, indexed and masked."""

    audit_secret_fields = ("contact_phone_enc", "contact_phone_index")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=12, choices=UnitKind.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="cobuilding_units")
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone_enc = models.TextField(blank=True, editable=False)
    contact_phone_index = models.CharField(max_length=40, blank=True, editable=False)
    contact_phone_masked = models.CharField(
        _("联系电话"), max_length=20, blank=True, editable=False
    )

    class Meta:
        ordering = ["area_path", "name"]
        verbose_name = _("共建单位")
        verbose_name_plural = _("共建单位")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.area.path

    def set_contact_phone(self, value: str) -> None:
        self.contact_phone_enc = pii.encrypt(value)
        self.contact_phone_index = pii.blind_index(value, purpose="phone")
        self.contact_phone_masked = pii.mask_phone(value)


class ServiceModule(models.Model):
    """One of the markets' service modules (服务模块), e.g. 健康服务."""

    code = models.CharField(_("代码"), max_length=10, unique=True)
    name = models.CharField(_("名称"), max_length=40)

    class Meta:
        ordering = ["code"]
        verbose_name = _("服务模块")
        verbose_name_plural = _("服务模块")

    def __str__(self) -> str:
        return self.name


class ServiceItem(models.Model):
    """A service item of a module (服务项目), e.g. 量血压."""

    module = models.ForeignKey(ServiceModule, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(_("代码"), max_length=10, unique=True)
    name = models.CharField(_("名称"), max_length=40)

    class Meta:
        ordering = ["code"]
        verbose_name = _("服务项目")
        verbose_name_plural = _("服务项目")

    def __str__(self) -> str:
        return self.name


class Market(ScopedModel):
    """A public-welfare market (公益集市) held in a community."""

    title = models.CharField(_("名称"), max_length=120)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="markets")
    position = models.ForeignKey(
        ServicePosition, null=True, blank=True, on_delete=models.SET_NULL, related_name="markets"
    )
    place = models.CharField(_("地点"), max_length=200, blank=True)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    status = models.CharField(
        _("状态"), max_length=12, choices=ActivityStatus.choices, default=ActivityStatus.PLANNED
    )
    visitors = models.PositiveIntegerField(_("服务人次"), default=0)
    report = models.TextField(_("集市小结"), blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("公益集市")
        verbose_name_plural = _("公益集市")

    def __str__(self) -> str:
        return self.title

    def derive_area_path(self) -> str:
        return self.area.path


class Stall(models.Model):
    """A stall at a market (摊位), held by a co-building unit, a partner, a merchant or
    a volunteer team, offering catalogue items."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="stalls")
    holder_kind = models.CharField(_("摊主类型"), max_length=12, choices=StallHolder.choices)
    unit = models.ForeignKey(
        CoBuildingUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="stalls"
    )
    holder_name = models.CharField(_("摊主"), max_length=100)
    items = models.ManyToManyField(ServiceItem, related_name="stalls", blank=True)
    served = models.PositiveIntegerField(_("服务人次"), default=0)

    class Meta:
        ordering = ["market_id", "id"]
        verbose_name = _("摊位")
        verbose_name_plural = _("摊位")

    def __str__(self) -> str:
        return self.holder_name
