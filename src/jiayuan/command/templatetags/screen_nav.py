"""The navigation's 一屏 entry: shown to staff whose scope holds a county, a street or a
community (the scope paths the navigation already read, so it costs no query)."""

from __future__ import annotations

from typing import Any

from django import template

from jiayuan.command.screen.panels import may_open_screen

register = template.Library()


@register.simple_tag(takes_context=True)
def screen_nav(context: Any) -> bool:
    user = context.get("user")
    return bool(user is not None and user.is_authenticated and may_open_screen(user))
