"""指标: the indicator dashboard and its Excel export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from jiayuan.core.views import page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .. import indicators as ind
from ..choices import Satisfaction


def month_start(day: dt.date, back: int = 0) -> dt.date:
    month = day.month - 1 - back
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


# The dashboard's tiles: (indicator, label, unit); rates come as shares from indicators.
KPI_TILES = [
    ("received", "受理数", "件"),
    ("dispatch_on_time_rate", "按时派遣率", "%"),
    ("close_on_time_rate", "按期办结率", "%"),
    ("close_rate", "结案率", "%"),
    ("satisfaction_rate", "满意率", "%"),
    ("visit_rate", "回访率", "%"),
    ("first_time_rate", "首次办结率", "%"),
    ("rework_rate", "返工率", "%"),
    ("duplicate_rate", "重复诉求率", "%"),
    ("avg_handling_hours", "平均办理时长", "工作小时"),
    ("in_grid_rate", "不出格率", "%"),
    ("in_network_rate", "不出网率", "%"),
]


def ranking_rows(rows: list[Any], parents: bool = False) -> list[dict[str, Any]]:
    """Ranking rows for the template; with ``parents`` each grid names its community
    (both communities have a 第1网格)."""
    names: dict[str, str] = {}
    if parents:
        paths = {r.key.rsplit("/", 3)[0] + "/" for r in rows}
        names = dict(Area.objects.filter(path__in=paths).values_list("path", "name"))
    return [
        {
            "rank": r.extra.get("rank"),
            "name": r.label,
            "parent": names.get(r.key.rsplit("/", 3)[0] + "/", "") if parents else "",
            "received": r.received,
            "close_rate": percent(r.close_rate),
            "on_time_rate": percent(r.close_on_time_rate),
            "satisfaction_rate": percent(r.satisfaction_rate),
            "score": round(r.score, 1) if r.received else None,
        }
        for r in rows
    ]


def dashboard(user: Any, months: int = 12) -> dict[str, Any]:
    """The indicator dashboard of the user's scope over the last ``months`` months,
    computed by :mod:`jiayuan.cases.indicators` (cases counted by month of receipt)."""
    today = timezone.localdate()
    first = month_start(today, months - 1)
    total = ind.summary(user, start=first)
    per_month = {row.key: row for row in ind.by_month(user, start=first)}
    labels = [month_start(today, back) for back in range(months - 1, -1, -1)]
    satisfaction = [
        {"name": Satisfaction(r["satisfaction"]).label, "value": r["n"], "key": r["satisfaction"]}
        for r in ind.cases_for(user, start=first)
        .exclude(satisfaction="")
        .values("satisfaction")
        .annotate(n=Count("pk"))
        .order_by("satisfaction")
    ]
    kpis = []
    for key, label, unit in KPI_TILES:
        value = getattr(total, key)
        if unit == "%":
            value = percent(value)
        elif isinstance(value, float):
            value = round(value, 1)
        kpis.append((label, value, unit))
    communities = ind.ranking(user, kind=AreaKind.COMMUNITY, start=first)
    changes = ind.month_over_month(user, today)
    return {
        "baseline": baseline_context(ind.since_baseline(user, today=today)),
        "branches": [
            {
                "name": b.label,
                "zone": b.zone,
                "red_proxy": b.red_proxy,
                "closed": b.closed,
                "share": percent(b.share),
            }
            for b in ind.red_proxy_by_branch(user, start=first)
            if b.received
        ],
        "kpis": kpis,
        "chart": {
            "months": [f"{m.year}年1月" if m.month == 1 else f"{m.month}月" for m in labels],
            "received": [per_month[m].received if m in per_month else 0 for m in labels],
            "closed": [per_month[m].closed if m in per_month else 0 for m in labels],
            "satisfaction": satisfaction,
        },
        "grids": ranking_rows(ind.ranking(user, kind=AreaKind.GRID, start=first), parents=True),
        "communities": ranking_rows(communities) if len(communities) > 1 else [],
        "categories": [
            {
                "name": c.name,
                "now": c.current,
                "before": c.previous,
                "change": percent(c.change),
                "sentence": c.sentence,
            }
            for c in sorted(changes, key=lambda c: -(c.current + c.previous))
        ],
        "this_month": month_start(today),
        "last_month": month_start(today, 1),
        "since": first,
        "export_url": reverse("cases:indicators_export"),
    }


def baseline_context(report: ind.BaselineReport | None) -> dict[str, Any] | None:
    """The 较基期 card: each top category's monthly requests now against the programme's
    first months (the seed's "物业类诉求下降21%" is the 物业服务 row)."""
    if report is None:
        return None
    rows = sorted(report.rows, key=lambda r: -(r.baseline_total + r.current_total))
    return {
        "baseline": report.baseline.label,
        "current": report.current.label,
        "rows": [
            {
                "code": r.code,
                "name": r.name,
                "before": round(r.baseline, 1),
                "now": round(r.current, 1),
                "change": percent(r.change),
                "sentence": r.sentence,
            }
            for r in rows
        ],
    }


@page
def indicators(request: HttpRequest) -> HttpResponse:
    """指标: the indicators of the issue (受理数 … 不出网率), monthly received and closed,
    satisfaction, grid and community rankings and the change by category (ECharts)."""
    return render(request, "cases/indicators.html", dashboard(request.user))


@page
def indicators_export(request: HttpRequest) -> HttpResponse:
    """The indicator tables as an Excel workbook (audited by the indicators module)."""
    first = month_start(timezone.localdate(), 11)
    data = ind.export_xlsx(request.user, start=first)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    name = f"indicators-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
