"""The one table's dataset over requests (诉求): by area, category, status, channel,
handling level, satisfaction and month received. Registered on import from
:class:`~jiayuan.cases.apps.CasesConfig` (see ``core.reporting``)."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q
from django.db.models.functions import Coalesce

from jiayuan.core import reporting
from jiayuan.core.reporting import Dimension, Measure, choices_dimension, month_dimension
from jiayuan.people.reporting import area_dimensions

from .choices import OPEN_STATUSES, Channel, Level, Priority, Satisfaction, Status
from .models import Case, Category


def category_names(codes: list[str]) -> dict[str, str]:
    return dict(Category.objects.filter(code__in=codes).values_list("code", "name"))


def top_category(ctx: Any) -> Any:
    """The top-level category (物业服务, 环境卫生 …) of the case's category."""
    return Coalesce(F("category__parent__code"), F("category__code"))


def case_dataset() -> reporting.Dataset:
    open_codes = [str(s) for s in OPEN_STATUSES]
    return reporting.Dataset(
        code="cases",
        label="诉求",
        queryset=lambda ctx: Case.objects.exclude(status=Status.MERGED),
        dimensions=[
            *area_dimensions(),
            Dimension("category", "诉求类别", top_category, labels=category_names),
            Dimension("subcategory", "诉求小类", lambda ctx: F("category__code"),
                      labels=category_names),
            choices_dimension("status", "办理状态", "status", Status),
            choices_dimension("channel", "来源渠道", "channel", Channel),
            choices_dimension("level", "办理层级", "level", Level),
            choices_dimension("priority", "紧急程度", "priority", Priority),
            choices_dimension("satisfaction", "满意度", "satisfaction", Satisfaction),
            month_dimension("month", "受理月份", "received_at"),
        ],
        measures=[
            Measure("cases", "诉求件数"),
            Measure("closed", "已办结", "count_if", condition=lambda ctx: Q(status=Status.CLOSED)),
            Measure("open", "办理中", "count_if", condition=lambda ctx: Q(status__in=open_codes)),
            Measure("satisfied", "满意件数", "count_if",
                    condition=lambda ctx: Q(satisfaction=Satisfaction.SATISFIED)),
            Measure("red_proxy", "红色代办件数", "count_if",
                    condition=lambda ctx: Q(red_proxy=True)),
        ],
        registry=lambda: reporting.simple_registry("诉求", [
            ("status", "办理状态", "status", Status),
            ("channel", "来源渠道", "channel", Channel),
            ("level", "办理层级", "level", Level),
            ("priority", "紧急程度", "priority", Priority),
            ("category", "诉求类别编码", "category__code", None),
            ("area", "所在区域", "area_path", None),
        ]),
    )  # fmt: skip


reporting.register(case_dataset())
