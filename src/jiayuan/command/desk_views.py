"""The desk (工作台) at ``/``: what the signed-in person must do today, by role, and
under it the counts of their scope (people's home, :func:`people.views.home_context`).

The resident's desk is their own requests, votes, wishes, sign-ups and benefits, laid out
for the phone; they have no scope to count, so no counts follow.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from jiayuan.core.roles import Role
from jiayuan.core.views import page
from jiayuan.people.views import home_context

from .desk.roles import desk_for

LEADERS = (Role.COUNTY_ADMIN, Role.STREET_LEADER)


@page
@never_cache
def desk(request: HttpRequest) -> HttpResponse:
    """工作台: the role's work sections first, then the counts of the scope."""
    user: Any = request.user
    role, sections = desk_for(user)
    context: dict[str, Any] = {"sections": [], "counts": [], "memberships": []}
    if role != Role.RESIDENT:
        context = home_context(user)
    context.update(
        {
            "desk_role": role,
            "desk_role_label": Role(role).label,
            "desk": sections,
            "desk_total": sum(s.count for s in sections if s.kind == "work"),
            "is_leader": role in LEADERS,
            "is_resident": role == Role.RESIDENT,
        }
    )
    return render(request, "command/desk.html", context)
