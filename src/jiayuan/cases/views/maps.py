"""诉求地图: the scope's open cases on the grid boundaries."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from jiayuan.core.calendar import WorkClock
from jiayuan.core.views import page

from .. import queries, sla
from ..choices import Light
from .common import LIGHT_COLORS, LIGHT_CSS, grid_features, scope_grids

MAP_LIMIT = 2000


@page
def case_map(request: HttpRequest) -> HttpResponse:
    """诉求地图: the scope's open cases as points coloured by their light, on the grid
    boundaries."""
    user = request.user
    cases = list(
        queries.filter_cases(queries.visible_cases(user), queries.CaseFilter(open_only=True))
        .filter(lat__isnull=False, lng__isnull=False)
        .select_related("category")
        .order_by("-received_at")[:MAP_LIMIT]
    )
    clock = WorkClock()
    now = timezone.now()
    points = []
    lights = {k: 0 for k in LIGHT_CSS}
    for c in cases:
        light = Light(sla.light_for(c, now, clock))
        lights[light] += 1
        points.append(
            {
                "id": c.pk,
                "lat": c.lat,
                "lng": c.lng,
                "number": c.number,
                "title": c.title,
                "category": c.category.name,
                "status": c.get_status_display(),
                "light": light.value,
                "color": LIGHT_COLORS[light],
                "url": reverse("cases:detail", args=[c.pk]),
            }
        )
    grids = scope_grids(user)
    context = {
        "map_data": {"grids": grid_features(grids), "cases": points},
        "lights": [(Light(k).label, LIGHT_CSS[Light(k)], v) for k, v in lights.items()],
        "total": len(points),
        "limited": len(points) >= MAP_LIMIT,
    }
    return render(request, "cases/map.html", context)
