"""The navigation's 诉求 entry: shown to staff with a scope, with the number of unread
notifications (one count query per page)."""

from __future__ import annotations

from typing import Any

from django import template

from jiayuan.core.models import Notification
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere

register = template.Library()


@register.simple_tag(takes_context=True)
def case_nav(context: dict[str, Any]) -> dict[str, Any]:
    user = context.get("user")
    if user is None or not user.is_authenticated or not has_perm_anywhere(user, Perm.VIEW):
        return {"show": False, "unread": 0}
    unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    return {"show": True, "unread": unread}
