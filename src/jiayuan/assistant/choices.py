"""Choices of the assistant's models."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# Incident key kind of a hand-off's case (``"ask:<id>"``, :mod:`jiayuan.core.incidents`).
HANDOFF_KEY_KIND = "ask"


class Topic(models.TextChoices):
    MEDICAL_INSURANCE = "medical_insurance", _("医疗保险")
    MEDICAL_AID = "medical_aid", _("医疗救助")
    PENSION = "pension", _("养老保险")
    ELDERLY = "elderly", _("老年人优待")
    DISABILITY = "disability", _("残疾人")
    ASSISTANCE = "assistance", _("社会救助")
    VETERANS = "veterans", _("退役军人")
    FAMILY_PLANNING = "family_planning", _("计划生育")
    SERVICE = "service", _("办事指南")
    OTHER = "other", _("其他")


class Origin(models.TextChoices):
    CATALOGUE = "catalogue", _("政策目录生成")
    SHIPPED = "shipped", _("随系统发布")
    STAFF = "staff", _("工作人员编写")


class SourceLevel(models.TextChoices):
    NATIONAL = "national", _("国家")
    PROVINCE = "province", _("山东省")
    CITY = "city", _("市")
    COUNTY = "county", _("县")


class Channel(models.TextChoices):
    WEB = "web", _("网页")
    PHONE = "phone", _("手机")
    DESK = "desk", _("工作台")
    API = "api", _("接口")
    WECOM = "wecom", _("企业微信群")


class Abstention(models.TextChoices):
    """Why the assistant did not answer (empty when it did)."""

    LOW_SCORE = "low_score", _("知识库中没有足够相符的条目")
    UNKNOWN_FIGURE = "unknown_figure", _("所需的本地数额或日期未知")
    EXPIRED = "expired", _("相关条目已过有效期")
    EMPTY = "empty", _("问题为空或无法识别")
    OUT_OF_SCOPE = "out_of_scope", _("不在数字助理的服务范围内")


class BroadcastKind(models.TextChoices):
    TEXT = "text", _("文本")
    MARKDOWN = "markdown", _("Markdown")
    TEMPLATE_CARD = "template_card", _("模板卡片")


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SCHEDULED = "scheduled", _("已排期")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    CANCELLED = "cancelled", _("已取消")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已送达")
    FAILED = "failed", _("失败")
