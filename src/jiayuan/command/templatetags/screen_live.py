"""What the one screen's map and live ticker partials need from the server when the
page is drawn: the layers this user's map offers, and the feed's cursor at that moment
(so the live stream starts from the page's own state, not a moment later)."""

from __future__ import annotations

from typing import Any

from django import template

from jiayuan.command.screen import layers
from jiayuan.command.screen.feed import Cursor

register = template.Library()


@register.simple_tag(takes_context=True)
def screen_layers(context: Any, area: Any) -> list[dict[str, Any]]:
    """The layers of ``area``'s map for the signed-in user (forces only for staff who
    supervise the area)."""
    return layers.offered(context.get("user"), area)


@register.simple_tag
def screen_cursor() -> str:
    """The live feed's position now (three index lookups)."""
    return Cursor.now().encode()
