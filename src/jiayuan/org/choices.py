from django.db import models
from django.utils.translation import gettext_lazy as _


class AreaKind(models.TextChoices):
    COUNTY = "county", _("县")
    STREET = "street", _("街道")
    COMMUNITY = "community", _("社区")
    ZONE = "zone", _("小区/片区")
    GRID = "grid", _("网格")
    BUILDING = "building", _("楼栋")
    UNIT = "unit", _("单元")


AREA_ORDER = [k.value for k in AreaKind]
# Kinds that have a drawn boundary on the map.
BOUNDED_KINDS = {AreaKind.COUNTY, AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID}


class PartyOrgKind(models.TextChoices):
    WORKING_COMMITTEE = "working_committee", _("街道党工委")
    COMMITTEE = "committee", _("社区党委")
    BRANCH = "branch", _("小区党支部")
    GROUP = "group", _("网格党小组")


PARTY_ORG_FOR_AREA = {
    AreaKind.STREET: PartyOrgKind.WORKING_COMMITTEE,
    AreaKind.COMMUNITY: PartyOrgKind.COMMITTEE,
    AreaKind.ZONE: PartyOrgKind.BRANCH,
    AreaKind.GRID: PartyOrgKind.GROUP,
}


class DwellingUse(models.TextChoices):
    RESIDENTIAL = "residential", _("住宅")
    COMMERCIAL = "commercial", _("商铺")
    RENTAL = "rental", _("出租房")
    VACANT = "vacant", _("空置")
    OFFICE = "office", _("办公")
