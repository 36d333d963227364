"""The navigation's 数据汇聚 entry: shown to those who may import (county and street
staff). The user's memberships are already read for the menu's other entries, so the
question costs no query."""

from __future__ import annotations

from typing import Any

from django import template

from jiayuan.datahub.uploads import may_import

register = template.Library()


@register.simple_tag(takes_context=True)
def hub_nav(context: Any) -> bool:
    user = context.get("user")
    return bool(user is not None and user.is_authenticated and may_import(user))
