"""The request loop's work on the desk: the inboxes of :func:`cases.queries.tab_querysets`
(to accept, to dispatch, to review, to visit back), the user's own overdue cases, the
cases raised to the user's level and the overdue ones of the scope; and a resident's own
requests with their tracking links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, QuerySet
from django.urls import reverse

from jiayuan.cases import queries
from jiayuan.cases.choices import OPEN_STATUSES, Light
from jiayuan.cases.models import Case
from jiayuan.cases.sla import light_for
from jiayuan.core.calendar import WorkClock
from jiayuan.core.roles import Perm

from .base import GREY, Item, Section, section

CASES = "/cases/"


def _case_item(now: dt.datetime, clock: WorkClock) -> Any:
    def item(case: Case) -> Item:
        light = light_for(case, now, clock) if case.status in OPEN_STATUSES else ""
        place = case.grid.name if case.grid_id else ""
        return Item(
            text=f"{case.number} {case.title or case.category.name}",
            url=reverse("cases:detail", args=[case.pk]),
            due=case.stage_due_at,
            light=light or GREY,
            word=str(Light(light).label) if light else "已结束",
            meta=" · ".join(x for x in (case.get_status_display(), place) if x),
        )

    return item


def _ordered(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.select_related("category", "grid").order_by("stage_due_at", "pk")


def inbox(user: Any, key: str, title: str, empty: str, now: dt.datetime) -> Section:
    """One inbox of the case list (``accept``, ``dispatch``, ``review``, ``visit``)."""
    qs = queries.tab_querysets(user)[key]
    item = _case_item(now, WorkClock())
    return section(key, title, _ordered(qs), item, empty=empty, more_url=f"{CASES}?tab={key}")


def own_overdue(user: Any, now: dt.datetime) -> Section:
    """Cases the user handles whose stage clock ran out."""
    qs = queries.visible_cases(user).filter(handler_user=user).filter(queries.overdue_q(now))
    return section(
        "own_overdue",
        "我的超期诉求",
        _ordered(qs),
        _case_item(now, WorkClock()),
        empty="没有超期的诉求",
        more_url=f"{CASES}?tab=doing",
    )


def raised_to(user: Any, levels: tuple[str, ...], title: str, now: dt.datetime) -> Section:
    """Open cases the user supervises that are handled at ``levels`` (raised there by 提级
    or by the overdue escalation, or filed there)."""
    qs = Case.objects.visible_to(user, Perm.SUPERVISE).filter(
        status__in=OPEN_STATUSES, level__in=levels
    )
    return section(
        "raised",
        title,
        _ordered(qs),
        _case_item(now, WorkClock()),
        empty="没有提级到本级的诉求",
        more_url=f"{CASES}?tab=all&status=open&level={levels[0]}",
    )


def overdue_in_scope(user: Any, now: dt.datetime) -> Section:
    """Overdue open cases the user supervises."""
    qs = Case.objects.visible_to(user, Perm.SUPERVISE).filter(queries.overdue_q(now))
    return section(
        "overdue",
        "辖区超期诉求",
        _ordered(qs),
        _case_item(now, WorkClock()),
        empty="辖区内没有超期的诉求",
        more_url=f"{CASES}?tab=all&overdue=on",
    )


def my_requests(person: Any, now: dt.datetime) -> Section:
    """The cases a resident reported, open first, each with its step and tracking link."""
    qs = Case.objects.none() if person is None else Case.objects.filter(reporter=person)
    clock = WorkClock()

    def item(case: Case) -> Item:
        is_open = case.status in OPEN_STATUSES
        light = light_for(case, now, clock) if is_open else ""
        return Item(
            text=f"{case.title or case.category.name}",
            url=reverse("cases:track", args=[case.tracking_token]),
            due=case.due_at if is_open else None,
            due_label="应办结",
            light=light or GREY,
            word=case.get_status_display(),
            meta=f"编号 {case.number}" + (f" · {Light(light).label}" if light else ""),
        )

    # open ones (no closing time yet) first, then the newest
    ordered = qs.select_related("category").order_by(
        F("closed_at").asc(nulls_first=True), "-received_at", "-pk"
    )
    shown = section("my_requests", "我的诉求", ordered, item, empty="您还没有反映过诉求")
    shown.action = ("我要反映", reverse("cases:report"))
    return shown
