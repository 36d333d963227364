"""The shipped category tree and departments (诉求分类, 职能部门).

Limits are working minutes per stage (one working day is ``MINUTES_PER_WORKDAY``, 450
minutes); a category may override any of them. Installed by a data migration and
idempotent, so an administrator's edits of names or limits survive (only missing codes
are added).
"""

from __future__ import annotations

from typing import Any

from jiayuan.core.calendar import MINUTES_PER_WORKDAY

DAY = MINUTES_PER_WORKDAY

DEPARTMENTS: list[tuple[str, str, str]] = [
    ("zjj", "县住房和城乡建设局", "0537-7212345"),
    ("cgj", "县综合行政执法局（城管）", "0537-7223456"),
    ("gdgs", "国网汶上县供电公司", "95598"),
    ("swj", "县水务局", "0537-7234567"),
    ("xfjy", "县消防救援大队", "119"),
    ("gaj", "县公安局中都派出所", "110"),
    ("mzj", "县民政局", "0537-7245678"),
    ("scjgj", "县市场监督管理局", "12315"),
]

# code, name, parent code, default level, department, limits, extra
CATEGORIES: list[tuple[str, str, str | None, str, str | None, dict[str, int], dict[str, Any]]] = [
    ("01", "物业服务", None, "zone", None, {}, {}),
    ("0101", "物业收费", "01", "zone", None, {"handle": 5 * DAY}, {}),
    ("0102", "电梯故障", "01", "zone", None, {"dispatch": 30, "accept": 60, "handle": DAY}, {
        "attributes": [{"code": "building", "datatype": "string", "required": True,
                        "description": "楼栋号"}]}),
    ("0103", "公共区域保洁", "01", "zone", None, {"handle": 2 * DAY}, {}),
    ("0104", "门禁与停车管理", "01", "zone", None, {"handle": 3 * DAY}, {}),
    ("0105", "绿化养护", "01", "zone", None, {"handle": 5 * DAY}, {}),
    ("02", "环境卫生", None, "grid", None, {"handle": 2 * DAY}, {}),
    ("0201", "垃圾清运", "02", "grid", None, {"handle": DAY}, {"duplicate_radius_m": 50}),
    ("0202", "乱堆乱放", "02", "grid", None, {"handle": 2 * DAY}, {}),
    ("03", "设施维修", None, "grid", None, {"handle": 3 * DAY}, {}),
    ("0301", "路灯损坏", "03", "community", "gdgs", {"handle": 3 * DAY}, {}),
    ("0302", "供水管道漏水", "03", "department", "swj", {"dispatch": 30, "handle": DAY}, {}),
    ("0303", "公共设施损坏", "03", "grid", None, {"handle": 3 * DAY}, {}),
    ("04", "邻里纠纷", None, "grid", None, {"handle": 5 * DAY}, {"duplicate_radius_m": 30}),
    ("0401", "噪音扰民", "04", "grid", None, {"handle": 2 * DAY}, {}),
    ("0402", "漏水渗水纠纷", "04", "grid", None, {"handle": 5 * DAY}, {}),
    ("05", "治安隐患", None, "community", "gaj", {"dispatch": 30, "handle": DAY}, {}),
    ("06", "消防安全", None, "community", "xfjy", {"dispatch": 15, "accept": 30, "handle": DAY},
     {}),
    ("0601", "消防通道堵塞", "06", "grid", None, {"dispatch": 30, "handle": DAY}, {}),
    ("0602", "电动车楼道充电", "06", "grid", None, {"dispatch": 30, "handle": DAY}, {}),
    ("07", "市政设施", None, "street", "cgj", {"handle": 5 * DAY}, {}),
    ("0701", "道路破损", "07", "department", "zjj", {"handle": 10 * DAY}, {}),
    ("0702", "井盖缺失", "07", "department", "cgj", {"dispatch": 15, "handle": DAY}, {}),
    ("08", "养老服务", None, "community", "mzj", {"handle": 3 * DAY}, {}),
    ("0801", "助餐助浴", "08", "community", None, {"handle": 3 * DAY}, {}),
    ("0802", "独居老人关爱", "08", "grid", None, {"dispatch": 30, "handle": DAY}, {}),
    ("09", "政策咨询", None, "community", None, {"handle": 2 * DAY}, {}),
    ("10", "其他", None, "community", None, {}, {}),
]  # fmt: skip


def install(apps: Any = None) -> int:
    """Add the shipped departments and categories that are missing; returns how many."""
    if apps is None:
        from django.apps import apps as installed

        apps = installed
    category_model = apps.get_model("cases", "Category")
    department_model = apps.get_model("cases", "Department")
    added = 0
    departments: dict[str, Any] = {}
    for code, name, phone in DEPARTMENTS:
        dept, created = department_model.objects.get_or_create(
            code=code, defaults={"name": name, "phone": phone}
        )
        departments[code] = dept
        added += created
    by_code: dict[str, Any] = {}
    for code, name, parent, level, dept_code, limits, extra in CATEGORIES:
        category, created = category_model.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "parent": by_code.get(parent or ""),
                "default_level": level,
                "department": departments.get(dept_code or ""),
                "limits": limits,
                **extra,
            },
        )
        by_code[code] = category
        added += created
    return added
