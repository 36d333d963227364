"""Pages of the one screen (一屏管理): ``/command/screen/`` opens the user's top scope
root, ``/command/screen/<area_id>/`` the screen of a county, street or community in the
user's scope. The panels are drawn from the page's ``json_script`` (first paint without
a fetch) and refreshed from ``GET /api/v1/screen`` when the live stream says something
changed."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from jiayuan.core.errors import NotFound
from jiayuan.core.views import page
from jiayuan.org.models import Area

from .screen import panels as screen_panels


@page
def screen_root(request: HttpRequest) -> HttpResponse:
    """The screen of the user's top scope root. A user whose scope lies below any screen
    (a grid worker, a branch secretary, a 三长, a resident) gets a 404: their desk is
    where their work is."""
    area = screen_panels.root_area(request.user)
    if area is None:
        raise NotFound("没有可查看的大屏", "no screen in your scope")
    return redirect("command:screen_area", area.pk)


def _crumbs(user: Any, area: Area) -> list[Area]:
    """The area's ancestors the user may open a screen of (the way back up)."""
    return list(
        Area.objects.visible_to(user)
        .filter(pk__in=area.ancestors().values("pk"), kind__in=screen_panels.SCREEN_KINDS)
        .only("pk", "name")
        .order_by("depth")
    )


@page
def screen(request: HttpRequest, area_id: int) -> HttpResponse:
    """一屏: the full-screen dashboard of one county, street or community."""
    user: Any = request.user
    area = screen_panels.screen_area(user, area_id)
    data = screen_panels.panels(user, area)
    return render(
        request,
        "command/screen.html",
        {
            "area": area,
            "panels": data,
            "crumbs": _crumbs(user, area),
            "panels_url": f"{reverse('api:screen_panels')}?area={area.pk}",
        },
    )
