"""The navigation's 智能安防 entries: shown to staff who can see devices somewhere.

The question is the one the navigation's 诉求 entry has just answered for the same user
(``cases_nav.show`` in ``base.html``: a view permission anywhere); its answer is reused
so the entry costs no query, and the scope is asked only where that answer is absent.
"""

from __future__ import annotations

from typing import Any

from django import template

from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere

register = template.Library()


@register.simple_tag(takes_context=True)
def iot_nav(context: Any) -> bool:
    asked = context.get("cases_nav")
    if isinstance(asked, dict) and "show" in asked:
        return bool(asked["show"])
    user = context.get("user")
    return bool(user is not None and user.is_authenticated and has_perm_anywhere(user, Perm.VIEW))
