"""The services dashboard page (服务概览): a community's figures, with an area picker for
users above a community."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from jiayuan.core.views import page

from .. import dashboard


@page
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """服务概览: wishes, activities, participations, hours, markets, topics and rooms of
    the picked community (or of the user's whole scope), month by month."""
    user: Any = request.user
    communities = dashboard.communities_for(user)
    # an area that is not one of the user's communities (or no number at all) shows
    # their whole scope: their one community, or everything for users above several
    raw = request.GET.get("area", "")
    picked = next((c for c in communities if str(c.pk) == raw), None)
    if picked is None and len(communities) == 1:
        picked = communities[0]
    under = picked.path if picked is not None else ""
    figures = dashboard.figures(user, under)
    context = {
        "communities": communities,
        "picked": picked,
        "figures": figures,
        "chart": figures.chart(),
        "labels": list(dashboard.TREND_LABELS.values()),
        "occupancy_days": dashboard.OCCUPANCY_DAYS,
    }
    return render(request, "community/dashboard.html", context)
