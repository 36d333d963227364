"""Partners (红色合伙人): social organisations, community talents, honest merchants and
volunteer teams, with their legal identity, qualifications, contacts and credit."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jiayuan.core import pii
from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from ..choices import PartnerKind, PartnerStatus


class Partner(ScopedModel):
    """A red partner registered with an area (a community, or a street for partners
    serving several). ``uscc`` is the 18-character 统一社会信用代码 (GB 32100, check
    character verified); a community talent without one is linked to their person record.
    ``credit`` is the ledger's running balance (:mod:`jiayuan.partners.credit` keeps it
    equal to the sum of the partner's :class:`CreditEntry` rows)."""

    kind = models.CharField(_("类型"), max_length=16, choices=PartnerKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="partners")
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="partners"
    )
    legal_representative = models.CharField(_("法定代表人/负责人"), max_length=50, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    services = models.TextField(_("服务内容"), blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE
    )
    credit = models.IntegerField(_("信用分"), default=0)
    joined_on = models.DateField(_("加入日期"), null=True, blank=True)
    left_on = models.DateField(_("退出日期"), null=True, blank=True)

    class Meta:
        ordering = ["area_path", "name", "id"]
        indexes = [models.Index(fields=["kind", "area_path"]), models.Index(fields=["status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["uscc"], condition=~models.Q(uscc=""), name="partners_unique_uscc"
            )
        ]
        verbose_name = _("红色合伙人")
        verbose_name_plural = _("红色合伙人")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.area.path


class Qualification(ScopedModel):
    """A licence or certificate a partner holds (食品经营许可证, 健康证 …), with its expiry;
    ``reminded_on`` is the day the expiry reminder was last sent."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="qualifications")
    name = models.CharField(_("名称"), max_length=100)
    number = models.CharField(_("证书编号"), max_length=64, blank=True)
    issuer = models.CharField(_("发证机关"), max_length=100, blank=True)
    issued_on = models.DateField(_("发证日期"), null=True, blank=True)
    expires_on = models.DateField(_("有效期至"), null=True, blank=True)
    reminded_on = models.DateField(_("提醒日期"), null=True, blank=True)

    class Meta:
        ordering = ["expires_on", "id"]
        indexes = [models.Index(fields=["expires_on"])]
        verbose_name = _("资质")
        verbose_name_plural = _("资质")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.partner.area_path


class Contact(ScopedModel):
    """A partner's contact person. The phone is personal data: stored encrypted with a
    blind index and a masked copy, like a resident's (``jiayuan.core.pii``)."""

    audit_secret_fields = ("phone_enc", "phone_index")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("姓名"), max_length=50)
    role = models.CharField(_("职务"), max_length=50, blank=True)
    phone_enc = models.TextField(_("电话(密文)"), blank=True, editable=False)
    phone_index = models.CharField(max_length=40, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField(_("电话"), max_length=20, blank=True, editable=False)
    primary = models.BooleanField(_("主要联系人"), default=False)

    class Meta:
        ordering = ["-primary", "id"]
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.partner.area_path

    def set_phone(self, value: str) -> None:
        self.phone_enc = pii.encrypt(value)
        self.phone_index = pii.blind_index(value, purpose="phone")
        self.phone_masked = pii.mask_phone(value)
