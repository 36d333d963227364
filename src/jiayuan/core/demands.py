"""The demand list's registry (需求清单): what is open in a compound, from every app.

A compound's demand list shows its open micro-wishes beside its open cases, yet
``community`` may not import ``cases`` (siblings never import each other). So each app
that holds open matters registers a source here when it starts — a function
``fn(user, zone_path) -> list[DemandItem]`` answering what ``user`` may see of the
compound at ``zone_path`` — and the list page asks :func:`collect`. A source does its
own scoping (its ``visible_to``); it answers a bounded list, newest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DemandItem:
    """One open matter of a compound: where it comes from and how to open it."""

    source: str  # the registered source's name: ``cases``, ``wishes`` …
    kind: str  # what it is, for people: 诉求, 微心愿 …
    ref: str  # its number
    title: str
    status: str  # status code
    status_label: str
    area_path: str
    created_at: dt.datetime
    link: str = ""  # a page inside Jiayuan, or empty


Source = Callable[[Any, str], list[DemandItem]]
_SOURCES: dict[str, Source] = {}
# A source answers at most this many items (newest first).
LIMIT = 200


def register(source_name: str, fn: Source) -> None:
    """Add (or replace, on a second ``ready()``) the source ``source_name``."""
    _SOURCES[source_name] = fn


def sources() -> list[str]:
    return sorted(_SOURCES)


def collect(user: Any, zone_path: str, *, exclude: tuple[str, ...] = ()) -> list[DemandItem]:
    """Every registered source's open items of the compound at ``zone_path`` that
    ``user`` may see (sources named in ``exclude`` left out), newest first."""
    items: list[DemandItem] = []
    for name in sorted(_SOURCES):
        if name not in exclude:
            items.extend(_SOURCES[name](user, zone_path))
    items.sort(key=lambda item: item.created_at, reverse=True)
    return items
