"""Fixed vocabularies of the device side: statuses, message kinds, rule kinds, severities."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DeviceStatus(models.TextChoices):
    ONLINE = "online", _("在线")
    OFFLINE = "offline", _("离线")
    FAULT = "fault", _("故障")
    DECOMMISSIONED = "decommissioned", _("已停用")


class MessageKind(models.TextChoices):
    """The last segment of the MQTT topic ``jiayuan/v1/{serial}/{kind}``."""

    TELEMETRY = "telemetry", _("遥测")
    EVENT = "event", _("事件")
    HEARTBEAT = "heartbeat", _("心跳")


class RuleKind(models.TextChoices):
    EVENT = "event", _("事件告警")
    THRESHOLD = "threshold", _("阈值持续")
    REPEAT = "repeat", _("窗口内重复")
    OFFLINE = "offline", _("离线")
    # Many devices of one area silent together: one alarm for the area (a gateway or a
    # power failure) instead of one per device; raised by the offline job.
    AREA_OFFLINE = "area_offline", _("区域集中离线")
    WELFARE = "welfare", _("独居老人关怀")


class Severity(models.TextChoices):
    CRITICAL = "critical", _("紧急")
    MAJOR = "major", _("重要")
    MINOR = "minor", _("次要")
    WARNING = "warning", _("提示")


# Most urgent first, for sorting and for "worst of" questions.
SEVERITY_ORDER = [s.value for s in Severity]


class AlarmStatus(models.TextChoices):
    ACTIVE = "active", _("未确认")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    CLEARED = "cleared", _("已解除")
    CLOSED = "closed", _("已关闭")


# While an alarm is in one of these, a repeat of its rule on its device updates it
# instead of raising a new one (one alarm per device and rule while active).
OPEN_ALARM_STATUSES = (AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED)


class AlarmEventKind(models.TextChoices):
    RAISED = "raised", _("触发")
    REPEATED = "repeated", _("重复触发")
    ACKNOWLEDGED = "acknowledged", _("确认")
    CLEARED = "cleared", _("解除")
    FALSE_ALARM = "false_alarm", _("误报")
    ESCALATED = "escalated", _("升级")
    CASE_OPENED = "case_opened", _("生成工单")
    CLOSED = "closed", _("关闭")


class EscalationLevel(models.IntegerChoices):
    """Who is expected to act on an unacknowledged alarm: grid worker → community → street."""

    GRID = 0, _("网格员")
    COMMUNITY = 1, _("社区")
    STREET = 2, _("街道")


class IngestSource(models.TextChoices):
    MQTT = "mqtt", "MQTT"
    HTTP = "http", "HTTP"
    # The demo's keep-alive simulator, fed straight into the pipeline (no broker, no web).
    SIMULATOR = "sim", _("模拟器")
