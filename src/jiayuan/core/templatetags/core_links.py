"""``{% page_actions obj %}``: the buttons upper apps registered for ``obj``'s kind
(:mod:`jiayuan.core.links`), for the signed-in user; nothing when none applies."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from jiayuan.core.links import actions_for

register = template.Library()


@register.simple_tag(takes_context=True)
def page_actions(context: Any, obj: Any) -> SafeString | str:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    shown = actions_for(user, obj)
    if not shown:
        return ""
    buttons = format_html_join(
        "",
        '<a class="btn btn-outline-primary" href="{}" data-page-action="{}">{}</a>',
        ((a.url, a.key, a.label) for a in shown),
    )
    return format_html(
        '<div class="btn-list justify-content-md-end mb-2" data-testid="page-actions">{}</div>',
        buttons,
    )
