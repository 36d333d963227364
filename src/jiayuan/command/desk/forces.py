"""Forces and mobilisation on the desk: the calls a force must answer (acknowledge, set
out, check in on site), whether they are on duty, and the open mobilisations of a
leader's scope."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.urls import reverse

from jiayuan.people.models import Force

from .. import mobilise
from ..models import DutyShift, Member, MobilisationStatus, Step
from .base import GREEN, GREY, RED, YELLOW, Item, Section, listed, section

#: Steps in which a called force still has something to do.
TO_ANSWER = (Step.NOTIFIED, Step.DELIVERED, Step.ACKNOWLEDGED, Step.EN_ROUTE)
STEP_WORK = {
    Step.NOTIFIED: (RED, "待确认"),
    Step.DELIVERED: (RED, "待确认"),
    Step.ACKNOWLEDGED: (YELLOW, "已确认，待出发"),
    Step.EN_ROUTE: (YELLOW, "在途，待到场"),
}


def my_calls(user: Any) -> Section:
    """Open mobilisations that called the user and wait for their answer."""
    qs = Member.objects.filter(
        person__user=user, mobilisation__status=MobilisationStatus.OPEN, step__in=TO_ANSWER
    ).select_related("mobilisation")

    def item(member: Member) -> Item:
        light, word = STEP_WORK[Step(member.step)]
        mob = member.mobilisation
        return Item(
            text=f"{mob.number} {mob.message[:40]}",
            url=reverse("command:phone_mobilisation", args=[mob.pk]),
            due=member.notified_at,
            due_label="通知于",
            light=light,
            word=word,
            meta=f"距集结点约 {member.distance_m:.0f} 米",
        )

    return section(
        "calls", "调度召集", qs.order_by("-notified_at", "-pk"), item, empty="没有待响应的调度召集"
    )


def duty_status(user: Any) -> Section:
    """The user's forces and whether each is on duty now (one query)."""
    open_shift = DutyShift.objects.filter(force=OuterRef("pk"), ended_at__isnull=True)
    forces = list(
        Force.objects.filter(person__user=user)
        .annotate(desk_on_duty=Exists(open_shift))
        .order_by("pk")[:10]
    )
    items = [
        Item(
            text=f"{force.get_kind_display()}",
            url=reverse("command:phone_duty"),
            light=GREEN if force.desk_on_duty else GREY,  # type: ignore[attr-defined]
            word="在岗" if force.desk_on_duty else "未在岗",  # type: ignore[attr-defined]
            meta="点击上岗或下岗",
        )
        for force in forces
    ]
    shown = listed(
        "duty",
        "在岗状态",
        items,
        empty="您不是登记的服务力量",
        more_url=reverse("command:phone_duty"),
    )
    shown.kind = "status"  # not work to do: left out of the desk's total
    return shown


def open_mobilisations(user: Any) -> Section:
    """Open mobilisations of the scope, the newest first."""
    qs = mobilise.visible(user).filter(status=MobilisationStatus.OPEN).select_related("area")

    def item(mob: Any) -> Item:
        assembled = mob.assembled_at is not None
        return Item(
            text=f"{mob.number} {mob.message[:40]}",
            url=reverse("command:detail", args=[mob.pk]),
            due=mob.created_at,
            due_label="发起于",
            light=GREEN if assembled else YELLOW,
            word="已到场满员" if assembled else "集结中",
            meta=f"需 {mob.head_count} 人" + (f" · {mob.area.name}" if mob.area_id else ""),
        )

    return section(
        "mobilisations",
        "进行中的调度",
        qs.order_by("-created_at", "-pk"),
        item,
        empty="没有进行中的调度",
        more_url=reverse("command:list") + "?status=open",
    )
