from django.db import models
from django.utils.translation import gettext_lazy as _


class Gender(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class PoliticalStatus(models.TextChoices):
    PARTY_MEMBER = "party_member", _("中共党员")
    PROBATIONARY = "probationary", _("中共预备党员")
    LEAGUE_MEMBER = "league_member", _("共青团员")
    MASSES = "masses", _("群众")


PARTY = (PoliticalStatus.PARTY_MEMBER, PoliticalStatus.PROBATIONARY)


class HukouType(models.TextChoices):
    URBAN = "urban", _("城镇")
    RURAL = "rural", _("农村")


class ResidenceStatus(models.TextChoices):
    RESIDENT = "resident", _("常住")
    FLOATING = "floating", _("流动")
    AWAY = "away", _("外出")


class Relation(models.TextChoices):
    HEAD = "head", _("户主")
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    PARENT = "parent", _("父母")
    TENANT = "tenant", _("租户")
    OTHER = "other", _("其他")


class TagScope(models.TextChoices):
    PERSON = "person", _("个人")
    HOUSEHOLD = "household", _("家庭")


class TagSource(models.TextChoices):
    MANUAL = "manual", _("人工")
    RULE = "rule", _("规则计算")
    IMPORT = "import", _("导入")


class ForceKind(models.TextChoices):
    COMMUNITY_WORKER = "community_worker", _("社区工作者")
    GRID_WORKER = "grid_worker", _("专职网格员")
    PART_TIME_GRID_WORKER = "part_time_grid_worker", _("兼职网格员")
    IN_SERVICE_MEMBER = "in_service_member", _("在职党员")
    THREE_HEAD = "three_head", _("三长")
    VOLUNTEER = "volunteer", _("志愿者")
    PROPERTY_STAFF = "property_staff", _("物业人员")


class PositionRole(models.TextChoices):
    SECRETARY = "secretary", _("书记")
    COMMITTEE_MEMBER = "committee_member", _("委员")
    GRID_WORKER = "grid_worker", _("专职网格员")
    PART_TIME_GRID_WORKER = "part_time_grid_worker", _("兼职网格员")
    ZONE_HEAD = "zone_head", _("小区长")
    BUILDING_HEAD = "building_head", _("楼栋长")
    UNIT_HEAD = "unit_head", _("单元长")
    CENTRAL_HOUSEHOLD = "central_household", _("党员中心户")
    PROPERTY_MANAGER = "property_manager", _("物业项目经理")
    OWNERS_COMMITTEE = "owners_committee", _("业委会成员")
    RESIDENT_REP = "resident_rep", _("居民代表")


THREE_HEADS = (PositionRole.ZONE_HEAD, PositionRole.BUILDING_HEAD, PositionRole.UNIT_HEAD)


class Appointment(models.TextChoices):
    CONCURRENT = "concurrent", _("兼任")
    ELECTED = "elected", _("推选")
    SECONDED = "seconded", _("派驻")
    SELF = "self", _("自荐")
    RECOMMENDED = "recommended", _("推荐")
