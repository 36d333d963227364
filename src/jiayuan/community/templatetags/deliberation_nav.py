"""``{% deliberation_staff as flag %}``: whether the user runs deliberation somewhere
(Perm.SERVE), for the deliberation desk's menu items."""

from __future__ import annotations

from typing import Any

from django import template

from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere

register = template.Library()


@register.simple_tag(takes_context=True)
def deliberation_staff(context: dict[str, Any]) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None)
    return user is not None and has_perm_anywhere(user, Perm.SERVE)
