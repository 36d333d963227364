"""The navigation's 一键调度 entry: shown to staff who can see an area somewhere (the
answer ``cases_nav.show`` in ``base.html`` already gave, so it costs no query)."""

from __future__ import annotations

from typing import Any

from django import template

from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere

register = template.Library()


@register.simple_tag(takes_context=True)
def command_nav(context: Any) -> bool:
    asked = context.get("cases_nav")
    if isinstance(asked, dict) and "show" in asked:
        return bool(asked["show"])
    user = context.get("user")
    return bool(user is not None and user.is_authenticated and has_perm_anywhere(user, Perm.VIEW))
