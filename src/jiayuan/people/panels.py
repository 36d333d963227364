"""Panels on the person page (居民详情) contributed by the apps above ``people``.

``people`` sits below ``policies``, ``cases`` and the rest, so it may not import them;
yet the person page should show what they know about a resident ("政策匹配" from the
policies app). Instead of a fixed list, the page renders every registered panel: an app
registers its panel once, in its ``AppConfig.ready()``::

    register_person_panel("政策匹配", render_policy_panel, order=10)

``render(request, person)`` returns the panel's HTML (a card) or an empty string to
show nothing; it must do its own scoping with ``request.user``. A panel that fails
is logged and left out rather than taking the whole person page down with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

log = logging.getLogger(__name__)

PanelRender = Callable[[HttpRequest, Any], "str | SafeString"]


@dataclass(frozen=True)
class PersonPanel:
    name: str
    render: PanelRender
    order: int = 100


_lock = threading.Lock()
_panels: dict[str, PersonPanel] = {}


def register_person_panel(name: str, render: PanelRender, order: int = 100) -> None:
    """Add (or replace, by ``name``) a panel of the person page; lower ``order`` first."""
    with _lock:
        _panels[name] = PersonPanel(name, render, order)


def person_panels() -> list[PersonPanel]:
    """The registered panels in display order."""
    with _lock:
        return sorted(_panels.values(), key=lambda p: (p.order, p.name))


def render_person_panels(request: HttpRequest, person: Any) -> list[tuple[str, SafeString]]:
    """``(name, html)`` of every panel with something to show for ``person``.

    A panel's own error is logged with its name, not raised: the person page is the
    place staff go to first, and one app's bug must not hide a resident's record.
    Panels are written by our own apps and escape their content in templates, hence
    ``mark_safe`` on what they return.
    """
    out: list[tuple[str, SafeString]] = []
    for panel in person_panels():
        try:
            html = panel.render(request, person)
        except Exception:
            log.exception("person panel %s failed for person %s", panel.name, person.pk)
            continue
        if html and str(html).strip():
            out.append((panel.name, mark_safe(str(html))))  # noqa: S308 - our own templates
    return out
