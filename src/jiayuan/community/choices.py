"""Choices of the community services: wishes, deliberation, volunteers, markets, places."""

from django.db import models
from django.utils.translation import gettext_lazy as _


# --- micro-wishes (微心愿) ------------------------------------------------------------------
class WishCategory(models.TextChoices):
    DAILY = "daily", _("生活物资")
    CARE = "care", _("关爱陪伴")
    STUDY = "study", _("学习用品")
    REPAIR = "repair", _("维修帮办")
    HEALTH = "health", _("医疗健康")
    SKILL = "skill", _("技能培训")
    OTHER = "other", _("其他")


class WishChannel(models.TextChoices):
    DOOR = "door", _("敲门行动")
    WECHAT = "wechat", _("微信群")
    RESIDENT = "resident", _("居民自助")
    STAFF = "staff", _("工作人员录入")


class WishStatus(models.TextChoices):
    COLLECTED = "collected", _("已收集")
    CLAIMED = "claimed", _("已认领")
    FULFILLED = "fulfilled", _("已实现")
    THANKED = "thanked", _("已致谢")
    ESCALATED = "escalated", _("提级帮办")
    CANCELLED = "cancelled", _("已撤销")


OPEN_WISH_STATUSES = (WishStatus.COLLECTED, WishStatus.CLAIMED)


class ClaimerKind(models.TextChoices):
    PARTY_MEMBER = "party_member", _("党员")
    CENTRAL_HOUSEHOLD = "central_household", _("党员中心户")
    PARTNER = "partner", _("红色合伙人")
    UNIT = "unit", _("共建单位")
    VOLUNTEER = "volunteer", _("志愿者")


# --- compound deliberation (小区事大家议) ----------------------------------------------------
class CensusBasis(models.TextChoices):
    HOUSEHOLDS = "households", _("按户")
    OWNERS = "owners", _("按业主(专有部分)")


class TopicStatus(models.TextChoices):
    PROPOSED = "proposed", _("议题征集")
    DISCUSSING = "discussing", _("协商讨论")
    SCHEDULED = "scheduled", _("会议已排")
    VOTING = "voting", _("表决中")
    PASSED = "passed", _("表决通过")
    REJECTED = "rejected", _("未通过")
    ESCALATED = "escalated", _("提级帮办")
    CLOSED = "closed", _("已办结")


class RosterGroup(models.TextChoices):
    """The 1+3+N of a compound's deliberation."""

    BRANCH = "branch", _("小区党支部(1)")
    PROPERTY = "property", _("物业服务企业(3)")
    OWNERS_COMMITTEE = "owners_committee", _("业主委员会(3)")
    RESIDENT_REP = "resident_rep", _("居民代表(3)")
    IN_SERVICE_MEMBER = "in_service_member", _("在职党员(N)")
    DEPUTY = "deputy", _("两代表一委员(N)")
    SOCIAL_ORG = "social_org", _("社会组织(N)")


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", _("已安排")
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结束")
    CANCELLED = "cancelled", _("已取消")


class VoteChoice(models.TextChoices):
    YES = "yes", _("同意")
    NO = "no", _("反对")
    ABSTAIN = "abstain", _("弃权")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("未开始")
    DOING = "doing", _("推进中")
    DONE = "done", _("已完成")


# --- volunteers (五色一彩) -------------------------------------------------------------------
class TeamColour(models.TextChoices):
    RED = "red", _("党旗红")
    GOLD = "gold", _("余晖金")
    BLUE = "blue", _("活力蓝")
    GREEN = "green", _("希望绿")
    ORANGE = "orange", _("专业橙")
    RAINBOW = "rainbow", _("绚丽彩")


class ActivityKind(models.TextChoices):
    CLASS = "class", _("公益课堂")
    MEDIATION = "mediation", _("邻里调解")
    CARE = "care", _("关爱帮扶")
    CLINIC = "clinic", _("健康义诊")
    CLEANUP = "cleanup", _("环境整治")
    CULTURE = "culture", _("文体活动")
    SAFETY = "safety", _("安全宣传")


class ActivityStatus(models.TextChoices):
    PLANNED = "planned", _("报名中")
    DONE = "done", _("已结束")
    CANCELLED = "cancelled", _("已取消")


# --- public-welfare markets (公益集市) ----------------------------------------------------------
class UnitKind(models.TextChoices):
    AGENCY = "agency", _("机关单位")
    ENTERPRISE = "enterprise", _("企业")
    SCHOOL = "school", _("学校")
    HOSPITAL = "hospital", _("医疗机构")
    SOCIAL_ORG = "social_org", _("社会组织")


class StallHolder(models.TextChoices):
    UNIT = "unit", _("共建单位")
    PARTNER = "partner", _("红色合伙人")
    MERCHANT = "merchant", _("诚信商户")
    TEAM = "team", _("志愿服务队")


# --- service positions (阵地) ------------------------------------------------------------------
class PositionKind(models.TextChoices):
    CENTRE = "centre", _("党群服务中心")
    STATION = "station", _("红帆驿站")
    CORRIDOR = "corridor", _("聚邻廊")
    PAVILION = "pavilion", _("议事亭")


class BookingStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("已预约")
    CANCELLED = "cancelled", _("已取消")
