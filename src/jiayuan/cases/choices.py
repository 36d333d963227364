"""Statuses, steps, levels and the other fixed vocabularies of the request loop."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    RECEIVED = "received", _("已受理")
    DISPATCHED = "dispatched", _("已派单")
    ACCEPTED = "accepted", _("已接单")
    IN_PROGRESS = "in_progress", _("办理中")
    SUSPENDED = "suspended", _("已挂起")
    HANDLED = "handled", _("待审核")
    REPLIED = "replied", _("待回访")
    CLOSED = "closed", _("已办结")
    REJECTED = "rejected", _("不予受理")
    MERGED = "merged", _("已合并")


OPEN_STATUSES = (
    Status.RECEIVED,
    Status.DISPATCHED,
    Status.ACCEPTED,
    Status.IN_PROGRESS,
    Status.SUSPENDED,
    Status.HANDLED,
    Status.REPLIED,
)
FINAL_STATUSES = (Status.CLOSED, Status.REJECTED, Status.MERGED)


class Step(models.TextChoices):
    """The six steps 问、派、转、办、审、回."""

    ASK = "ask", _("问")
    DISPATCH = "dispatch", _("派")
    TRANSFER = "transfer", _("转")
    HANDLE = "handle", _("办")
    REVIEW = "review", _("审")
    REPLY = "reply", _("回")


class SlaStage(models.TextChoices):
    """The stretches of a case that have their own time limit."""

    DISPATCH = "dispatch", _("派遣")
    ACCEPT = "accept", _("接单")
    HANDLE = "handle", _("办理")
    REVIEW = "review", _("审核")
    VISIT = "visit", _("回访")


STAGE_OF_STATUS = {
    Status.RECEIVED: SlaStage.DISPATCH,
    Status.DISPATCHED: SlaStage.ACCEPT,
    Status.ACCEPTED: SlaStage.HANDLE,
    Status.IN_PROGRESS: SlaStage.HANDLE,
    Status.SUSPENDED: SlaStage.HANDLE,
    Status.HANDLED: SlaStage.REVIEW,
    Status.REPLIED: SlaStage.VISIT,
}


class Level(models.TextChoices):
    GRID = "grid", _("网格")
    ZONE = "zone", _("小区")
    COMMUNITY = "community", _("社区")
    STREET = "street", _("街道")
    DEPARTMENT = "department", _("职能部门")


LEVEL_ORDER = [lv.value for lv in Level]


class Channel(models.TextChoices):
    HOTLINE = "hotline", _("12345热线")
    PATROL = "patrol", _("网格巡查")
    SNAPSHOT = "snapshot", _("随手拍")
    WECHAT = "wechat", _("微信群")
    DOOR = "door", _("敲门行动")
    DEVICE = "device", _("设备告警")
    CONSULTATION = "consultation", _("议事协商")
    OPEN311 = "open311", _("开放接口")
    ASSISTANT = "assistant", _("数字助理")


class Priority(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")
    CRITICAL = "critical", _("特急")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class Light(models.TextChoices):
    GREEN = "green", _("正常")
    YELLOW = "yellow", _("预警")
    RED = "red", _("超时")
