"""The fixed vocabularies of red partners (红色合伙人) and their projects."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PartnerKind(models.TextChoices):
    SOCIAL_ORG = "social_org", _("社会组织")
    TALENT = "talent", _("社区能人")
    MERCHANT = "merchant", _("诚信商户")
    VOLUNTEER_TEAM = "volunteer_team", _("志愿团队")


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", _("合作中")
    WARNED = "warned", _("已预警")
    DISMISSED = "dismissed", _("已清退")
    WITHDRAWN = "withdrawn", _("已退出")


class DocumentKind(models.TextChoices):
    LICENSE = "license", _("营业执照/登记证书")
    QUALIFICATION = "qualification", _("资质证书")
    PROPOSAL = "proposal", _("项目申报书")
    APPROVAL = "approval", _("党委审批意见")
    CALL = "call", _("招募公告")
    APPLICATION = "application", _("申请材料")
    RESULT = "result", _("遴选结果公示")
    AGREEMENT = "agreement", _("合作协议")
    INSPECTION = "inspection", _("监管记录")
    EVALUATION = "evaluation", _("评估报告")
    OTHER = "other", _("其他")


class PriceClass(models.TextChoices):
    FREE = "free", _("免费")
    LOW_COST = "low_cost", _("低偿")
    SMALL_PROFIT = "small_profit", _("微利")


class Stage(models.TextChoices):
    """The five stages every project goes through, in this order."""

    PROPOSAL = "proposal", _("立项")
    CALL = "call", _("发包")
    AGREEMENT = "agreement", _("协议")
    SUPERVISION = "supervision", _("监管")
    EVALUATION = "evaluation", _("评估")


STAGE_ORDER = [s.value for s in Stage]


class ProjectStatus(models.TextChoices):
    OPEN = "open", _("进行中")
    REJECTED = "rejected", _("未通过")
    ENDED = "ended", _("已结束")
    DISMISSED = "dismissed", _("已清退终止")


class Decision(models.TextChoices):
    APPROVED = "approved", _("通过")
    REJECTED = "rejected", _("不通过")


class CallStatus(models.TextChoices):
    OPEN = "open", _("报名中")
    CLOSED = "closed", _("评审中")
    PUBLISHED = "published", _("已公示")


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("待签订")
    ACTIVE = "active", _("履行中")
    EXPIRED = "expired", _("已到期")
    ENDED = "ended", _("已终止")


class Severity(models.TextChoices):
    MINOR = "minor", _("一般")
    MAJOR = "major", _("较重")
    SEVERE = "severe", _("严重")


class FeedbackChannel(models.TextChoices):
    MAILBOX = "mailbox", _("满意度信箱")
    RETURN_VISIT = "return_visit", _("网格员回访")
    SUPERVISION = "supervision", _("监督团")


class Dimension(models.TextChoices):
    """The quarterly evaluation's four dimensions."""

    OPERATIONS = "operations", _("运营成效")
    FINANCE = "finance", _("财务可持续")
    SOCIAL = "social", _("社会效益")
    QUALITY = "quality", _("服务质量")


class Grade(models.TextChoices):
    EXCELLENT = "excellent", _("优")
    GOOD = "good", _("良")
    FAIR = "fair", _("中")
    POOR = "poor", _("差")


class CreditReason(models.TextChoices):
    OPENING = "opening", _("初始信用")
    NEGATIVE_FEEDBACK = "negative_feedback", _("差评经监督团核实")
    EXCELLENT_QUARTER = "excellent_quarter", _("季度评估为优")
    MISSED_RECTIFICATION = "missed_rectification", _("逾期未整改")
    ADJUSTMENT = "adjustment", _("党委调整")


class DismissalStatus(models.TextChoices):
    PROPOSED = "proposed", _("待党委决定")
    DECIDED = "decided", _("决定清退")
    REJECTED = "rejected", _("决定保留")
