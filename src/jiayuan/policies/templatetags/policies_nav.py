"""The navigation's 政策找人 entry: shown to staff with a scope, with the number of open
door visits in that scope that are overdue (one count query per page, on the indexed
``due_on``; the scope lookup is the one the page already made)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere

register = template.Library()


@register.simple_tag(takes_context=True)
def policies_nav(context: dict[str, Any]) -> dict[str, Any]:
    user = context.get("user")
    if user is None or not user.is_authenticated or not has_perm_anywhere(user, Perm.VIEW):
        return {"show": False, "overdue": 0}
    from jiayuan.policies.indicators import TASK_OPEN
    from jiayuan.policies.models import Match

    overdue = (
        Match.objects.visible_to(user)
        .filter(status__in=TASK_OPEN, due_on__lt=timezone.localdate())
        .count()
    )
    return {"show": True, "overdue": overdue}
