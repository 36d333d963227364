"""Community services on the desk: micro-wishes (to claim, claimed, escalated), the
compound's deliberation (topics waiting for a meeting or a vote, follow-up tasks due),
activities coming, and the resident's own wishes, votes and sign-ups."""

from __future__ import annotations

import datetime as dt
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Case as When_
from django.db.models import Exists, OuterRef, Q, QuerySet, Value, When
from django.urls import reverse

from jiayuan.community import volunteering
from jiayuan.community.choices import ActivityStatus, TaskStatus, TopicStatus, WishStatus
from jiayuan.community.deliberation.queries import topics_for
from jiayuan.community.models import Activity, CensusEntry, FollowUpTask, SignUp, Vote, Wish
from jiayuan.community.wishes import visible_wishes

from .base import GREEN, GREY, RED, YELLOW, Item, Section, date_light, section

WISHES = "/community/wishes/"
DELIBERATION = "/community/deliberation/"
WISH_LIGHT = {
    WishStatus.COLLECTED: (YELLOW, "待认领"),
    WishStatus.CLAIMED: (GREEN, "已认领"),
    WishStatus.ESCALATED: (RED, "提级帮办"),
}


def _wish_item(today: dt.date, phone: bool = False) -> Any:
    def item(wish: Wish) -> Item:
        light, word = WISH_LIGHT.get(WishStatus(wish.status), (GREY, wish.get_status_display()))
        due: dt.datetime | dt.date | None = None
        due_label = "承诺完成"
        if wish.status == WishStatus.CLAIMED and wish.due_on is not None:
            due = wish.due_on
            light, late = date_light(wish.due_on, today)
            word = "认领后逾期" if late == "逾期" else "已认领"
        elif wish.status == WishStatus.COLLECTED:
            due, due_label = wish.created_at, "收集于"
        name = "community:phone_wish" if phone else "community:wish_detail"
        return Item(
            text=f"{wish.title}",
            url=reverse(name, args=[wish.pk]),
            due=due,
            due_label=due_label,
            light=light,
            word=word,
            meta=" · ".join(x for x in (wish.area.name, wish.claimer_name) if x),
        )

    return item


def wishes_waiting(user: Any, today: dt.date, *, under: str = "") -> Section:
    """Collected wishes nobody has claimed yet, and those escalated to a case (提级帮办),
    of the scope (or under ``under``), the oldest first."""
    qs = visible_wishes(user).filter(status__in=(WishStatus.COLLECTED, WishStatus.ESCALATED))
    if under:
        qs = qs.filter(area_path__startswith=under)
    shown = section(
        "wishes",
        "微心愿待认领",
        qs.select_related("area").order_by("created_at", "pk"),
        _wish_item(today),
        empty="没有待认领的微心愿",
        more_url=f"{WISHES}?status=collected",
    )
    shown.action = ("收集心愿", reverse("community:wish_new"))
    return shown


def wishes_claimed_by(user: Any, person: Any, today: dt.date) -> Section:
    """Wishes the user (as a person) claimed and has not fulfilled yet."""
    qs = visible_wishes(user).filter(status=WishStatus.CLAIMED)
    qs = qs.filter(claimer=person) if person is not None else qs.none()
    return section(
        "wishes_mine",
        "我认领的心愿",
        qs.select_related("area").order_by("due_on", "pk"),
        _wish_item(today),
        empty="没有您认领未实现的心愿",
        more_url=f"{WISHES}?status=claimed",
    )


TOPIC_WORK = {
    TopicStatus.PROPOSED: (YELLOW, "待协商"),
    TopicStatus.DISCUSSING: (YELLOW, "待安排会议"),
    TopicStatus.SCHEDULED: (GREEN, "待开会"),
    TopicStatus.VOTING: (RED, "表决中"),
}


def topics_to_act(user: Any, now: dt.datetime) -> Section:
    """Topics of the compounds the user serves that wait for them: to discuss, a meeting
    to arrange or hold, a vote open (with its closing time)."""
    qs = topics_for(user).filter(status__in=list(TOPIC_WORK)).select_related("zone")

    def item(topic: Any) -> Item:
        light, word = TOPIC_WORK[TopicStatus(topic.status)]
        return Item(
            text=topic.title,
            url=reverse("community:deliberation_topic", args=[topic.pk]),
            due=topic.voting_closes_at if topic.status == TopicStatus.VOTING else None,
            due_label="表决截止",
            light=light,
            word=word,
            meta=topic.zone.name,
        )

    return section(
        "topics",
        "议事待办",
        qs.order_by("-status", "created_at", "pk"),
        item,
        empty="没有需要推进的议题",
        more_url=DELIBERATION,
    )


def follow_ups_due(user: Any, today: dt.date) -> Section:
    """Follow-up tasks of resolutions not done yet, the earliest due first."""
    qs = FollowUpTask.objects.filter(
        topic__in=topics_for(user).values("pk"), status__in=(TaskStatus.OPEN, TaskStatus.DOING)
    ).select_related("topic")

    def item(task: FollowUpTask) -> Item:
        light, word = date_light(task.due_on, today)
        return Item(
            text=task.title,
            url=reverse("community:deliberation_topic", args=[task.topic_id]),
            due=task.due_on,
            due_label="完成时限",
            light=light,
            word=word,
            meta=f"{task.topic.title} · 进度 {task.progress}%",
        )

    return section(
        "follow_ups",
        "决议落实任务",
        qs.order_by("due_on", "pk"),
        item,
        empty="没有待落实的任务",
        more_url=DELIBERATION,
    )


def _activity_item(phone: bool) -> Any:
    def item(a: Activity) -> Item:
        name = "community:phone_activity" if phone else "community:activity"
        return Item(
            text=a.title,
            url=reverse(name, args=[a.pk]),
            due=a.starts_at,
            due_label="开始",
            light=GREEN,
            word=a.get_status_display(),
            meta=a.place or (a.area.name if a.area_id else ""),
        )

    return item


def activities_coming(user: Any, now: dt.datetime) -> Section:
    """Activities of the user's community not finished yet, the soonest first."""
    paths = volunteering.community_paths(user)
    qs = Activity.objects.none()
    if paths:
        under = reduce(or_, (Q(area_path__startswith=p) for p in paths))
        qs = Activity.objects.filter(under, status=ActivityStatus.PLANNED, ends_at__gt=now)
    return section(
        "activities",
        "近期活动",
        qs.select_related("area").order_by("starts_at", "pk"),
        _activity_item(phone=False),
        empty="近期没有活动",
        more_url="/community/activities/",
    )


# --- the resident ----------------------------------------------------------------------------
def my_wishes(user: Any, person: Any, today: dt.date) -> Section:
    """Wishes the resident made or that are for them, open ones first."""
    qs: QuerySet[Wish] = Wish.objects.none()
    if person is not None:
        qs = visible_wishes(user).filter(Q(beneficiary=person) | Q(created_by=user))
    open_first = Q(status__in=(WishStatus.COLLECTED, WishStatus.CLAIMED))
    shown = section(
        "my_wishes",
        "我的心愿",
        qs.select_related("area")
        .annotate(open=When_(When(open_first, then=Value(1)), default=Value(0)))
        .order_by("-open", "-created_at", "-pk"),
        _wish_item(today, phone=True),
        empty="您还没有许下心愿",
        more_url="/m/wishes/",
    )
    shown.action = ("许个心愿", reverse("community:phone_wish_new"))
    return shown


def topics_to_vote(user: Any, person: Any, now: dt.datetime) -> Section:
    """Topics open for a vote where the resident votes for their household and has not."""
    qs = topics_for(user).none()
    if person is not None:
        mine = CensusEntry.objects.filter(topic=OuterRef("pk"), voter=person)
        voted = Vote.objects.filter(topic=OuterRef("pk"), entry__voter=person)
        qs = (
            topics_for(user)
            .filter(status=TopicStatus.VOTING)
            .filter(Exists(mine))
            .exclude(Exists(voted))
        )

    def item(topic: Any) -> Item:
        return Item(
            text=topic.title,
            url=reverse("community:phone_topic", args=[topic.pk]),
            due=topic.voting_closes_at,
            due_label="表决截止",
            light=RED,
            word="待您投票",
        )

    return section(
        "my_votes",
        "待我表决的议题",
        qs.order_by("voting_closes_at", "pk"),
        item,
        empty="目前没有等您表决的议题",
        more_url="/m/topics/",
    )


def my_activities(person: Any, now: dt.datetime) -> Section:
    """Activities the resident signed up for that have not ended."""
    qs = Activity.objects.none()
    if person is not None:
        signed = SignUp.objects.filter(activity=OuterRef("pk"), person=person)
        qs = Activity.objects.filter(
            Exists(signed.filter(cancelled_at__isnull=True)),
            status=ActivityStatus.PLANNED,
            ends_at__gt=now,
        )
    return section(
        "my_activities",
        "我报名的活动",
        qs.select_related("area").order_by("starts_at", "pk"),
        _activity_item(phone=True),
        empty="您没有报名即将开始的活动",
        more_url="/m/activities/",
    )
