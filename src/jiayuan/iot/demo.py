"""The demo county's devices (演示设备): detectors in homes, access control on every unit
entrance, cameras on buildings, a face gate and an electronic fence per grid, and at
the county scale the door sensors, water meters and emergency buttons of elderly
people living alone (独居老人) — 10,000+ devices, as the programme counts them.

Devices sit at the point of their building (a few metres apart) or of their grid, so
the map shows them where they are. A day of gas readings gives the device pages a
chart, and a few alarms are active when the demo starts.

The tiny world (every test session seeds it) stays small and quiet: a couple of hundred
devices, no welfare devices, and only alarms that neither open cases nor escalate, so
the seed does not reach into the request loop's figures that other tests count.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from jiayuan.core import actions, bulk
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import PersonTag

from .choices import DeviceStatus
from .defaults import ensure_default_rules
from .devicetypes import ensure_device_types
from .models import AlarmRule, Device, DeviceType, Message

NOTE = "seed-demo"
ELDERLY_TAG = "独居老人"
# Serial prefixes: pinyin initials of the Chinese device names (烟感 → YG …).
PREFIX = {
    "smoke": "YG",
    "gas": "RQ",
    "access": "MJ",
    "face_gate": "RL",
    "fence": "WL",
    "camera": "SP",
    "water_meter": "SB",
    "door_sensor": "MC",
    "sos_button": "HJ",
}
VENDORS = {
    "smoke": ("海康威视", "泛海三江", "尼特"),
    "gas": ("汉威科技", "诺安"),
    "access": ("立方", "狄耐克"),
    "face_gate": ("海康威视", "大华"),
    "fence": ("大华", "宇视"),
    "camera": ("海康威视", "大华", "宇视"),
    "water_meter": ("三川智慧", "宁波水表"),
    "door_sensor": ("小米", "涂鸦"),
    "sos_button": ("小米", "涂鸦"),
}
# Share of dwellings with a smoke / gas detector, by scale.
DWELLING_SHARE = {"tiny": (0.6, 0.25), "county": (0.1, 0.04), "bench": (0.02, 0.01)}
CHART_DEVICES = {"tiny": 50, "county": 400, "bench": 100}
CHART_HOURS = 24
CHART_STEP_MIN = 30
JITTER = 0.00012  # about ten metres


def near(rng: random.Random, lat: float, lng: float, spread: float = JITTER) -> tuple[float, float]:
    return round(lat + rng.uniform(-spread, spread), 6), round(
        lng + rng.uniform(-spread, spread), 6
    )


class _Planner:
    """Builds the device rows in order; serials count per type."""

    def __init__(self, rng: random.Random, now: dt.datetime) -> None:
        self.rng = rng
        self.now = now
        self.types = {t.code: t for t in DeviceType.objects.all()}
        self.counters = dict.fromkeys(PREFIX, 0)
        self.devices: list[Device] = []

    def add(
        self,
        code: str,
        area: Area,
        point: tuple[float, float] | None,
        *,
        dwelling: Dwelling | None = None,
        name: str = "",
    ) -> None:
        rng = self.rng
        self.counters[code] += 1
        roll = rng.random()
        status = (
            DeviceStatus.OFFLINE
            if roll < 0.02
            else DeviceStatus.FAULT
            if roll < 0.025
            else DeviceStatus.ONLINE
        )
        quiet = dt.timedelta(
            hours=rng.uniform(2, 72) if status == DeviceStatus.OFFLINE else 0,
            seconds=rng.uniform(5, 300),
        )
        lat, lng = point if point is not None else (None, None)
        self.devices.append(
            bulk.build(
                Device,
                serial=f"{PREFIX[code]}{self.counters[code]:06d}",
                name=name,
                device_type=self.types[code],
                vendor=rng.choice(VENDORS[code]),
                area=area,
                dwelling=dwelling,
                lat=lat,
                lng=lng,
                status=status,
                last_seen_at=self.now - quiet,
                last_device_ts=self.now - quiet,
                battery=None if code in ("access", "face_gate", "camera", "fence")
                else rng.choice((rng.randint(60, 100), rng.randint(60, 100), rng.randint(8, 60))),
                installed_on=(self.now - dt.timedelta(days=rng.randint(30, 900))).date(),
            )
        )  # fmt: skip


def seed_devices(scale: str, rng: random.Random) -> dict[str, Any]:
    """Create the devices of ``scale`` in the seeded county (audited, actor the system),
    a day of gas readings and a few active alarms; returns the counts."""
    ensure_device_types()
    ensure_default_rules()
    now = timezone.now()
    plan = _Planner(rng, now)
    areas = {
        a.pk: a
        for a in Area.objects.filter(kind__in=(AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT))
    }
    smoke_share, gas_share = DWELLING_SHARE.get(scale, DWELLING_SHARE["county"])

    def building_point(building: Area | None) -> tuple[float, float] | None:
        if building is None or building.centroid_lat is None or building.centroid_lng is None:
            return None
        return near(rng, building.centroid_lat, building.centroid_lng)

    dwellings = list(Dwelling.objects.order_by("pk"))
    for d in dwellings:
        unit = areas.get(d.unit_id)
        building = areas.get(unit.parent_id) if unit is not None and unit.parent_id else None
        if unit is None:
            continue
        if rng.random() < smoke_share:
            plan.add("smoke", unit, building_point(building), dwelling=d, name=f"{d}烟感")
        if rng.random() < gas_share:
            plan.add("gas", unit, building_point(building), dwelling=d, name=f"{d}燃气")
    for area in sorted(areas.values(), key=lambda a: a.path):
        if area.kind == AreaKind.UNIT:
            building = areas.get(area.parent_id) if area.parent_id else None
            plan.add("access", area, building_point(building), name=f"{area.name}门禁")
        elif area.kind == AreaKind.BUILDING:
            plan.add("camera", area, building_point(area), name=f"{area.name}视频分析")
        elif area.kind == AreaKind.GRID and area.centroid_lat is not None:
            lat, lng = area.centroid_lat, area.centroid_lng or 0.0
            plan.add("face_gate", area, near(rng, lat, lng, 0.0008), name=f"{area.name}人脸闸机")
            plan.add("fence", area, near(rng, lat, lng, 0.0012), name=f"{area.name}电子围栏")
    elderly = _elderly_dwellings(dwellings)
    for d in elderly:
        unit = areas[d.unit_id]
        building = areas.get(unit.parent_id) if unit.parent_id else None
        point = building_point(building)
        plan.add("sos_button", unit, point, dwelling=d, name=f"{d}一键呼救")
        if scale != "tiny":
            plan.add("door_sensor", unit, point, dwelling=d, name=f"{d}门磁")
            plan.add("water_meter", unit, point, dwelling=d, name=f"{d}水表")
    devices = actions.bulk_create(Device, plan.devices, actor=None, note=NOTE)
    readings = _gas_readings(devices, rng, now, CHART_DEVICES.get(scale, 100))
    alarms = _demo_alarms(devices, rng, now, scale)
    by_type: dict[str, int] = {}
    for d in devices:
        by_type[d.device_type.code] = by_type.get(d.device_type.code, 0) + 1
    return {"devices": len(devices), "device_messages": readings, "alarms": alarms,
            "devices_by_type": by_type}  # fmt: skip


def _elderly_dwellings(dwellings: list[Dwelling]) -> list[Dwelling]:
    by_pk = {d.pk: d for d in dwellings}
    ids = set(
        PersonTag.objects.filter(tag__code=ELDERLY_TAG, person__death_date__isnull=True)
        .exclude(person__dwelling_id=None)
        .values_list("person__dwelling_id", flat=True)
    )
    return [by_pk[i] for i in sorted(ids) if i in by_pk]


def _gas_readings(
    devices: Iterable[Device], rng: random.Random, now: dt.datetime, limit: int
) -> int:
    """A day of %LEL readings for the first ``limit`` gas detectors (a kitchen's small
    peaks at meal times), stored as ingest stores telemetry."""
    rows = []
    gas = [d for d in devices if d.device_type.code == "gas"][:limit]
    steps = CHART_HOURS * 60 // CHART_STEP_MIN
    for device in gas:
        for i in range(steps):
            ts = now - dt.timedelta(minutes=CHART_STEP_MIN * (steps - i))
            hour = timezone.localtime(ts).hour
            cooking = 3.0 if hour in (7, 11, 12, 18, 19) else 0.0
            lel = round(max(0.0, rng.gauss(1.0 + cooking, 0.6)), 1)
            rows.append(
                bulk.build(
                    Message,
                    device=device,
                    message_id=f"demo-{device.serial}-{i}",
                    kind="telemetry",
                    device_ts=ts,
                    received_at=ts + dt.timedelta(milliseconds=rng.randint(20, 400)),
                    payload={"lel": lel, "battery": device.battery or 90},
                )
            )
    bulk.insert(Message, rows)
    return len(rows)


# rule code -> device type it is shown on (None: any device)
QUIET_ALARMS = ("tamper", "low_battery", "offline")
LOUD_ALARMS = ("smoke_alarm", "gas_alarm", "fence_intrusion", "access_forced", "sos", "camera_fall")


def _demo_alarms(devices: list[Device], rng: random.Random, now: dt.datetime, scale: str) -> int:
    """A few alarms active when the demo starts. Only the tiny world's quiet kinds at the
    tiny scale (no case, no escalation); the county also gets fires, intrusions and an
    emergency call, each opening its case as a real one would."""
    from .lifecycle import raise_alarm

    rules = {r.code: r for r in AlarmRule.objects.filter(enabled=True)}
    wanted = list(QUIET_ALARMS) + ([] if scale == "tiny" else list(LOUD_ALARMS) * 2)
    raised = 0
    used: set[int] = set()
    for code in wanted:
        rule = rules.get(code)
        if rule is None:
            continue
        pool = [
            d for d in devices
            if d.pk not in used
            and (rule.device_type_id is None or d.device_type_id == rule.device_type_id)
            and (code != "offline" or d.status == DeviceStatus.OFFLINE)
            and (code != "low_battery" or (d.battery is not None and d.battery < 15))
        ]  # fmt: skip
        if not pool:
            continue
        device = rng.choice(pool)
        used.add(device.pk)
        at = now - dt.timedelta(minutes=rng.randint(1, 90))
        detail: dict[str, Any] = {"event": code} if rule.kind == "event" else {}
        raise_alarm(device, rule, at=at, detail=detail)
        raised += 1
    return raised
