"""What every desk section is made of: an item of work (text, link, due time, a traffic
light with its word), a section (title, its first items, how many in all, where the rest
are) and the one query a section costs.

A section reads its rows and its total in ONE query (``COUNT(*) OVER ()`` beside the first
:data:`LIMIT` rows), so a desk costs the same number of queries whatever the data size,
and the count uses the very filter the items use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Count, Model, QuerySet, Window
from django.utils import timezone

#: Items shown per section; the rest are behind ``more_url``.
LIMIT = 6

#: Traffic lights and the word beside each one (never the colour alone).
GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "secondary"
LIGHT_WORDS = {GREEN: "正常", YELLOW: "预警", RED: "超时", GREY: ""}

M = TypeVar("M", bound=Model)


@dataclass
class Item:
    """One thing to do (or to know, for a resident's benefits): what, where it is done,
    when it is due, and its light with a word."""

    text: str
    url: str = ""
    due: dt.datetime | dt.date | None = None
    light: str = ""
    word: str = ""
    meta: str = ""
    due_label: str = "时限"

    def __post_init__(self) -> None:
        if self.light and not self.word:
            self.word = LIGHT_WORDS.get(self.light, "")

    @property
    def due_text(self) -> str:
        """The due time as the desk shows it (Beijing time), empty without one."""
        if isinstance(self.due, dt.datetime):
            return f"{timezone.localtime(self.due):%m-%d %H:%M}"
        if isinstance(self.due, dt.date):
            return f"{self.due:%Y-%m-%d}"
        return ""


@dataclass
class Section:
    """A desk section: ``count`` is the total behind the first ``items``."""

    key: str
    title: str
    items: list[Item]
    count: int
    more_url: str = ""
    empty: str = ""
    kind: str = "work"
    #: rows not shown when ``count`` counts something else than the rows (per-community
    #: totals count tasks, their rows are communities)
    rest: int | None = None
    #: a button in the section's header that starts new work: (label, url)
    action: tuple[str, str] | None = None

    @property
    def more(self) -> int:
        if self.rest is not None:
            return self.rest
        return max(self.count - len(self.items), 0)


def take(qs: QuerySet[M], limit: int = LIMIT) -> tuple[list[M], int]:
    """The first ``limit`` rows of ``qs`` (as ordered) and how many rows it holds, in one
    query."""
    rows = list(qs.annotate(desk_total=Window(Count("pk")))[:limit])
    return rows, (int(rows[0].desk_total) if rows else 0)  # type: ignore[attr-defined]


def section(
    key: str,
    title: str,
    qs: QuerySet[M],
    item: Callable[[M], Item],
    *,
    empty: str,
    more_url: str = "",
    limit: int = LIMIT,
) -> Section:
    """A section of ``qs``'s first rows made into items by ``item``."""
    rows, total = take(qs, limit)
    return Section(key, title, [item(r) for r in rows], total, more_url, empty)


def listed(
    key: str, title: str, items: Iterable[Item], *, empty: str, more_url: str = ""
) -> Section:
    """A section of items already at hand (a few rows read another way)."""
    shown = list(items)
    return Section(key, title, shown, len(shown), more_url, empty)


def date_light(due: dt.date | None, today: dt.date, warn_days: int = 2) -> tuple[str, str]:
    """The light and word of a task due on a day: past it 逾期, within ``warn_days`` 将到期."""
    if due is None:
        return GREY, "未定时限"
    if due < today:
        return RED, "逾期"
    if (due - today).days <= warn_days:
        return YELLOW, "将到期"
    return GREEN, "正常"
