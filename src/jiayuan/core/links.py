"""Page actions (页面操作): buttons an upper app puts on a lower app's page.

An alarm's page (iot) and a case's page (cases) should offer 发起调度, which lives in
``command`` — and no app may import ``command`` (it sits on top). So the pages ask this
registry instead: ``command`` registers, when it starts (``AppConfig.ready``), an action
for an object kind — its label, how to build its address from the object, and who may
see it — and the page renders whatever is registered for its object with the template
tag ``{% load core_links %}{% page_actions obj %}`` (:mod:`jiayuan.core.templatetags.core_links`).
A page whose kind has nothing registered (``command`` not installed) renders nothing.

An object kind is the model's label in lower case (``"cases.case"``, ``"iot.alarm"``).
The permission check runs for each page view with the signed-in user and the object;
it should be cheap (``core.scoping.path_allowed`` reads the user's cached scope), and the
page it links to still checks everything itself: a hidden button is a courtesy, not the
guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class PageAction:
    """One registered action: ``key`` names it (unique per kind), ``label`` is the
    button's text, ``url(obj)`` its address and ``allowed(user, obj)`` whether the
    user sees it; actions are shown by ``order``, then key."""

    key: str
    label: str
    url: Callable[[Any], str]
    allowed: Callable[[Any, Any], bool]
    order: int = 100


@dataclass(frozen=True)
class ShownAction:
    """An action as a page shows it for one object and one user."""

    key: str
    label: str
    url: str


_REGISTRY: dict[str, dict[str, PageAction]] = {}


def kind_of(obj: Any) -> str:
    """The kind of a model instance (or class): ``"iot.alarm"``; ``""`` for anything
    that is not a model."""
    meta = getattr(obj, "_meta", None)
    if meta is None or not isinstance(obj, models.Model | type):
        return ""
    return str(meta.label_lower)


def register(
    kind: str,
    *,
    key: str,
    label: str,
    url: Callable[[Any], str],
    allowed: Callable[[Any, Any], bool],
    order: int = 100,
) -> PageAction:
    """Offer an action on the pages of ``kind`` objects (call from ``AppConfig.ready``).

    Registering the same key again replaces the earlier registration, so a reloaded
    app (tests, the development server) never shows a button twice."""
    app_label, dot, model_name = kind.partition(".")
    if not (app_label and dot and model_name) or kind != kind.lower():
        raise ValueError(f"an object kind is 'app_label.model' in lower case, not {kind!r}")
    if not key or not label:
        raise ValueError("a page action needs a key and a label")
    action = PageAction(key=key, label=label, url=url, allowed=allowed, order=order)
    _REGISTRY.setdefault(kind, {})[key] = action
    return action


def unregister(kind: str, key: str) -> None:
    """Withdraw an action (an app that is switched off; tests)."""
    _REGISTRY.get(kind, {}).pop(key, None)


def registered(kind: str) -> list[PageAction]:
    """The actions registered for ``kind``, in the order they are shown."""
    return sorted(_REGISTRY.get(kind, {}).values(), key=lambda a: (a.order, a.key))


def actions_for(user: Any, obj: Any) -> list[ShownAction]:
    """The actions ``user`` may take on ``obj``'s page: none for an anonymous user or an
    object of a kind nothing is registered for."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return [
        ShownAction(key=a.key, label=a.label, url=a.url(obj))
        for a in registered(kind_of(obj))
        if a.allowed(user, obj)
    ]
