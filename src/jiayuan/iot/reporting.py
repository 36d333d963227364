"""The one table's datasets over safety devices and their alarms (设备, 告警): by area,
device type, status, alarm level and month. Registered on import from
:class:`~jiayuan.iot.apps.IotConfig` (see ``core.reporting``)."""

from __future__ import annotations

from django.db.models import F, Q

from jiayuan.core import reporting
from jiayuan.core.reporting import Dimension, Measure, choices_dimension, month_dimension
from jiayuan.people.reporting import area_dimensions

from .choices import AlarmStatus, DeviceStatus, Severity
from .models import Alarm, Device, DeviceType


def type_names(codes: list[str]) -> dict[str, str]:
    return dict(DeviceType.objects.filter(code__in=codes).values_list("code", "name"))


def device_dataset() -> reporting.Dataset:
    return reporting.Dataset(
        code="devices",
        label="智能设备",
        queryset=lambda ctx: Device.objects.all(),
        dimensions=[
            *area_dimensions(),
            Dimension("device_type", "设备类型", lambda ctx: F("device_type__code"),
                      labels=type_names),
            choices_dimension("status", "设备状态", "status", DeviceStatus),
        ],
        measures=[
            Measure("devices", "设备数"),
            Measure("online", "在线数", "count_if",
                    condition=lambda ctx: Q(status=DeviceStatus.ONLINE)),
            Measure("offline", "离线数", "count_if",
                    condition=lambda ctx: Q(status=DeviceStatus.OFFLINE)),
        ],
        registry=lambda: reporting.simple_registry("设备", [
            ("status", "设备状态", "status", DeviceStatus),
            ("device_type", "设备类型编码", "device_type__code", None),
            ("area", "所在区域", "area_path", None),
        ]),
    )  # fmt: skip


def alarm_dataset() -> reporting.Dataset:
    return reporting.Dataset(
        code="alarms",
        label="设备告警",
        queryset=lambda ctx: Alarm.objects.all(),
        dimensions=[
            *area_dimensions(),
            Dimension("device_type", "设备类型", lambda ctx: F("device__device_type__code"),
                      labels=type_names),
            choices_dimension("severity", "告警级别", "severity", Severity),
            choices_dimension("status", "告警状态", "status", AlarmStatus),
            month_dimension("month", "首次告警月份", "first_at"),
        ],
        measures=[
            Measure("alarms", "告警数"),
            Measure("false_alarms", "误报数", "count_if",
                    condition=lambda ctx: Q(false_alarm=True)),
            Measure("repeats", "触发次数", "sum", expression=lambda ctx: F("count")),
        ],
        registry=lambda: reporting.simple_registry("告警", [
            ("severity", "告警级别", "severity", Severity),
            ("status", "告警状态", "status", AlarmStatus),
            ("device_type", "设备类型编码", "device__device_type__code", None),
            ("area", "所在区域", "area_path", None),
        ]),
    )  # fmt: skip


reporting.register(device_dataset(), alarm_dataset())
