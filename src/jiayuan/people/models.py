"""Residents, households, tags, positions, central households and co-governance forces."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core import pii
from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area, Dwelling

from .choices import (
    Appointment,
    ForceKind,
    Gender,
    HukouType,
    PoliticalStatus,
    PositionRole,
    Relation,
    ResidenceStatus,
    TagScope,
    TagSource,
)


class Household(ScopedModel):
    """A household (户): the people registered together at one dwelling."""

    number = models.CharField(_("户号"), max_length=24, unique=True)
    dwelling = models.ForeignKey(
        Dwelling, null=True, blank=True, on_delete=models.PROTECT, related_name="households"
    )
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="households")
    head = models.ForeignKey(
        "Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["area_path", "number"]
        verbose_name = _("家庭户")
        verbose_name_plural = _("家庭户")

    def __str__(self) -> str:
        return self.number

    def derive_area_path(self) -> str:
        return self.area.path


class Person(ScopedModel):
    """A resident (居民). ID and phone numbers are stored encrypted, found through a
    keyed blind index and shown masked; birth date and gender come from the ID number."""

    audit_secret_fields = ("id_number_enc", "id_number_index", "phone_enc", "phone_index")

    name = models.CharField(_("姓名"), max_length=50, db_index=True)
    id_number_enc = models.TextField(_("身份证号(密文)"), blank=True, editable=False)
    id_number_index = models.CharField(max_length=40, blank=True, db_index=True, editable=False)
    id_number_masked = models.CharField(_("身份证号"), max_length=18, blank=True, editable=False)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True, db_index=True)
    gender = models.CharField(_("性别"), max_length=8, choices=Gender.choices, blank=True)
    phone_enc = models.TextField(_("电话(密文)"), blank=True, editable=False)
    phone_index = models.CharField(max_length=40, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField(_("电话"), max_length=20, blank=True, editable=False)
    ethnicity = models.CharField(_("民族"), max_length=20, default="汉族")
    political_status = models.CharField(
        _("政治面貌"),
        max_length=16,
        choices=PoliticalStatus.choices,
        default=PoliticalStatus.MASSES,
    )
    hukou_code = models.CharField(_("户籍地区划代码"), max_length=6, blank=True)
    hukou_type = models.CharField(
        _("户籍类型"), max_length=8, choices=HukouType.choices, default=HukouType.URBAN
    )
    residence_status = models.CharField(
        _("居住状态"),
        max_length=10,
        choices=ResidenceStatus.choices,
        default=ResidenceStatus.RESIDENT,
    )
    death_date = models.DateField(_("死亡日期"), null=True, blank=True)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="persons")
    dwelling = models.ForeignKey(
        Dwelling, null=True, blank=True, on_delete=models.SET_NULL, related_name="persons"
    )
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    relation = models.CharField(
        _("与户主关系"), max_length=10, choices=Relation.choices, default=Relation.HEAD
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
    )

    class Meta:
        ordering = ["area_path", "name", "id"]
        indexes = [
            models.Index(fields=["political_status"]),
            # the filtered person list: status, an area's subtree (LIKE 'path%', hence the
            # pattern opclass on PostgreSQL; SQLite ignores opclasses), an age range
            models.Index(
                fields=["political_status", "area_path", "birth_date"],
                name="people_person_list",
                opclasses=["text_ops", "varchar_pattern_ops", "date_ops"],
            ),
            # the nightly policy run reads who died, and who was added, since its last
            # run (policies.matching.Changes): a range each, not a scan of every resident
            models.Index(fields=["death_date"], name="people_person_death"),
            models.Index(fields=["created_at"], name="people_person_created"),
        ]
        permissions = [("reveal_pii", "Can reveal ID and phone numbers")]
        verbose_name = _("居民")
        verbose_name_plural = _("居民")

    def __str__(self) -> str:
        return self.name

    def derive_area_path(self) -> str:
        return self.area.path

    # --- protected personal data -------------------------------------------------------
    def set_id_number(self, value: str) -> None:
        """Store an already validated ID number: ciphertext, blind index and mask."""
        self.id_number_enc = pii.encrypt(value)
        self.id_number_index = pii.blind_index(value, purpose="id")
        self.id_number_masked = pii.mask_id_number(value)

    def set_phone(self, value: str) -> None:
        self.phone_enc = pii.encrypt(value)
        self.phone_index = pii.blind_index(value, purpose="phone")
        self.phone_masked = pii.mask_phone(value)

    def reveal_id_number(self) -> str:
        """The clear ID number; callers go through ``services.reveal`` so it is audited."""
        return pii.decrypt(self.id_number_enc)

    def reveal_phone(self) -> str:
        return pii.decrypt(self.phone_enc)

    def audit_extra(self) -> dict[str, Any]:
        return {"id_number": self.id_number_masked, "phone": self.phone_masked}

    def age_on(self, day: dt.date) -> int | None:
        """Age in whole years on ``day`` (for the dead: on the day of death)."""
        if self.birth_date is None:
            return None
        if self.death_date is not None and self.death_date < day:
            day = self.death_date
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))

    @property
    def age(self) -> int | None:
        return self.age_on(timezone.localdate())

    @property
    def is_party_member(self) -> bool:
        return self.political_status in (
            PoliticalStatus.PARTY_MEMBER,
            PoliticalStatus.PROBATIONARY,
        )


class Residence(ScopedModel):
    """A person's tie to a dwelling and household over time (居住记录)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="residences")
    dwelling = models.ForeignKey(Dwelling, on_delete=models.PROTECT, related_name="residences")
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="residences"
    )
    relation = models.CharField(
        _("关系"), max_length=10, choices=Relation.choices, default=Relation.HEAD
    )
    since = models.DateField(_("起始日期"), null=True, blank=True)
    until = models.DateField(_("截止日期"), null=True, blank=True)

    class Meta:
        ordering = ["-since"]
        verbose_name = _("居住记录")
        verbose_name_plural = _("居住记录")

    def __str__(self) -> str:
        return f"{self.person_id} @ {self.dwelling_id}"

    def derive_area_path(self) -> str:
        return self.dwelling.area_path


class Tag(models.Model):
    """A kind of label on a person or household (标签): 高龄老人, 残疾人, 低保 …

    ``attributes`` names the attributes a tag carries (e.g. 残疾人: category, grade);
    ``rule`` is the rule-language expression for computed tags (see
    :mod:`jiayuan.people.tagging`); ``rule_version`` counts its changes, so the evidence
    of a computed assignment names the exact rule that gave it.
    """

    code = models.CharField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=40)
    category = models.CharField(_("类别"), max_length=20)
    scope = models.CharField(
        _("对象"), max_length=10, choices=TagScope.choices, default=TagScope.PERSON
    )
    attributes = models.JSONField(_("属性"), default=list, blank=True)
    rule = models.TextField(_("计算规则"), blank=True)
    rule_version = models.PositiveIntegerField(_("规则版本"), default=0, editable=False)
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["category", "code"]
        verbose_name = _("标签")
        verbose_name_plural = _("标签")

    def __str__(self) -> str:
        return self.name

    @property
    def computed(self) -> bool:
        """Held by whoever the rule matches, never handed out by hand."""
        return bool(self.rule.strip())

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A changed rule takes the next version (API, admin and scripts alike)."""
        self.rule = self.rule.strip()
        if self.pk is None or self._state.adding:
            if self.rule and not self.rule_version:
                self.rule_version = 1
        else:
            stored = Tag.objects.filter(pk=self.pk).values_list("rule", flat=True).first()
            if stored is not None and stored != self.rule:
                self.rule_version += 1
                if kwargs.get("update_fields") is not None:
                    kwargs["update_fields"] = {*kwargs["update_fields"], "rule_version"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Refuse a rule that does not compile (admin form, ``full_clean``), with the
        rule error's position; the API refuses it through the same check."""
        from django.core.exceptions import ValidationError

        from jiayuan.core.errors import BilingualError

        from .tagging import check_rule  # the registry imports this module

        try:
            check_rule(self.rule, self.scope)
        except BilingualError as exc:
            raise ValidationError({"rule": exc.message}) from exc


class TagAssignment(ScopedModel):
    """Common fields of a tag held by someone, with validity, source and evidence."""

    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")
    attributes = models.JSONField(_("属性值"), default=dict, blank=True)
    valid_from = models.DateField(_("生效日期"), null=True, blank=True)
    valid_until = models.DateField(_("失效日期"), null=True, blank=True)
    source = models.CharField(
        _("来源"), max_length=10, choices=TagSource.choices, default=TagSource.MANUAL
    )
    evidence = models.JSONField(_("依据"), default=dict, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(_("标注时间"), default=timezone.now, editable=False)

    class Meta:
        abstract = True


class PersonTag(TagAssignment):
    """A tag held by a person (个人标签).

    A person holds a tag at most once at a time: one open row (no ``valid_until``) per
    person and tag. A computed tag that stops holding is ended, not deleted, so when it
    holds again a new row starts and the history stays.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="tags")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "tag"],
                condition=models.Q(valid_until__isnull=True),
                name="people_person_tag_open_unique",
            )
        ]
        # (person, tag): what every rule's has_tag()/tag() subquery looks up; the unique
        # constraint above is partial (open rows only), so SQLite cannot use it for that.
        indexes = [
            models.Index(fields=["tag", "source", "valid_until"]),
            models.Index(fields=["person", "tag"], name="people_persontag_person_tag"),
        ]
        verbose_name = _("个人标签")
        verbose_name_plural = _("个人标签")

    def __str__(self) -> str:
        return f"{self.person_id}:{self.tag_id}"

    def derive_area_path(self) -> str:
        return self.person.area_path


class HouseholdTag(TagAssignment):
    """A tag held by a household (家庭标签): 低保, 特困, 低收入."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="tags")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["household", "tag"], name="people_household_tag_unique")
        ]
        verbose_name = _("家庭标签")
        verbose_name_plural = _("家庭标签")

    def __str__(self) -> str:
        return f"{self.household_id}:{self.tag_id}"

    def derive_area_path(self) -> str:
        return self.household.area_path


class Position(ScopedModel):
    """A person holding a role at an area node (职务): 书记 of a community, 网格员 of a
    grid, 楼栋长 of a building, with dates and how they were appointed."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="positions")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="positions")
    role = models.CharField(_("职务"), max_length=24, choices=PositionRole.choices)
    appointed = models.CharField(
        _("产生方式"), max_length=12, choices=Appointment.choices, blank=True
    )
    start = models.DateField(_("任职日期"), null=True, blank=True)
    end = models.DateField(_("离任日期"), null=True, blank=True)

    class Meta:
        ordering = ["area_path", "role"]
        indexes = [models.Index(fields=["role", "end"])]
        verbose_name = _("职务")
        verbose_name_plural = _("职务")

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.person_id}"

    def derive_area_path(self) -> str:
        return self.area.path


class CentralHousehold(ScopedModel):
    """A party-member central household (党员中心户): a party member in a grid who looks
    after about ten neighbouring households."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    grid = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="central_households")
    households = models.ManyToManyField(Household, related_name="central_households", blank=True)
    since = models.DateField(_("起始日期"), null=True, blank=True)

    class Meta:
        ordering = ["area_path"]
        verbose_name = _("党员中心户")
        verbose_name_plural = _("党员中心户")

    def __str__(self) -> str:
        return f"党员中心户 {self.person_id}"

    def derive_area_path(self) -> str:
        return self.grid.path


class Force(ScopedModel):
    """A co-governance force (共治力量): someone who can be called on in an area."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="forces")
    kind = models.CharField(_("类别"), max_length=24, choices=ForceKind.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="forces")
    skills = models.JSONField(_("技能"), default=list, blank=True)
    on_duty = models.BooleanField(_("在岗"), default=True)
    organisation = models.CharField(_("所在单位"), max_length=100, blank=True)

    class Meta:
        ordering = ["area_path", "kind"]
        verbose_name = _("共治力量")
        verbose_name_plural = _("共治力量")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.person_id}"

    def derive_area_path(self) -> str:
        return self.area.path
