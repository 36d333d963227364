"""The branch secretary's deliberation desk (议事台): the topics of the compounds they
serve by status, a new topic, a topic's page (proposals, meetings, the vote with paper-vote
entry, the resolution, follow-up tasks, escalation) and a meeting's page (the 1+3+N roster
with sign-in, the quorum and the minutes).

Views are thin: parse the form, call one action of :mod:`jiayuan.community.deliberation`,
redirect; a refused action shows its Chinese message. Every page needs
:attr:`~jiayuan.core.roles.Perm.SERVE`; a topic outside the user's sight is a 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import scope_q
from jiayuan.core.views import page

from ..choices import RosterGroup, TaskStatus, TopicStatus, VoteChoice
from ..deliberation import meetings as meeting_actions
from ..deliberation import present, queries
from ..deliberation import topics as actions
from ..models import CensusEntry, FollowUpTask, MatterType, Meeting, Topic

PER_PAGE = 30


# --- parsing ----------------------------------------------------------------------------------
def form_datetime(value: str, field: str, required: bool = True) -> dt.datetime | None:
    """A ``datetime-local`` field (Beijing time)."""
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationFailed("请填写时间", f"{field} is required", field=field)
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    except (ValueError, OverflowError) as exc:
        raise ValidationFailed("时间格式无效", f"invalid {field}", field=field) from exc


def form_date(value: str, field: str) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed("日期格式无效", f"invalid {field}", field=field) from exc


def form_int(value: str, field: str, required: bool = True) -> int | None:
    value = (value or "").strip()
    if not value and not required:
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise ValidationFailed("请填写整数", f"{field} must be an integer", field=field) from exc
    if not -(2**63) < number < 2**63:
        raise ValidationFailed("数字过大", f"{field} is out of range", field=field)
    return number


def require_desk(user: Any) -> None:
    if not queries.serves_anywhere(user):
        raise PermissionDenied(
            "只有社区服务人员可以使用议事台", "the deliberation desk is for staff"
        )


def staff_topic(request: HttpRequest, pk: int) -> Topic:
    topic = queries.get_topic(request.user, pk)
    queries.require_serve(request.user, topic.area_path)
    return topic


# --- the desk ---------------------------------------------------------------------------------
@page
def desk(request: HttpRequest) -> HttpResponse:
    """议事台: the topics of the compounds the user serves, by status."""
    user = request.user
    require_desk(user)
    served = Topic.objects.filter(scope_q(user, Perm.SERVE))
    counts = dict(served.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    status = request.GET.get("status", "")
    shown = served.select_related("zone", "matter_type").order_by("-created_at", "-pk")
    if status in TopicStatus.values:
        shown = shown.filter(status=status)
    else:
        status = ""
    paged = Paginator(shown, PER_PAGE).get_page(request.GET.get("page"))
    for topic in paged.object_list:
        topic.status_css = present.STATUS_CSS.get(TopicStatus(topic.status), "")  # type: ignore[attr-defined]
    tabs = [(s.value, s.label, counts.get(s.value, 0)) for s in TopicStatus]
    context = {
        "page_obj": paged,
        "tabs": tabs,
        "status": status,
        "total": sum(counts.values()),
    }
    return render(request, "community/deliberation/desk.html", context)


@page
def topic_new(request: HttpRequest) -> HttpResponse:
    """新议题: a compound the user serves, the matter type (its thresholds shown), title."""
    user = request.user
    require_desk(user)
    zones = list(queries.compounds_served(user))
    matter_types = list(MatterType.objects.order_by("code"))
    values = {"zone": "", "matter_type": "", "title": "", "description": ""}
    error = None
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        try:
            zone = next((z for z in zones if str(z.pk) == values["zone"]), None)
            if zone is None:
                raise ValidationFailed("请选择小区", "choose a compound", field="zone")
            matter = next((m for m in matter_types if m.code == values["matter_type"]), None)
            if matter is None:
                raise ValidationFailed("请选择表决事项类型", "choose a matter type", field="matter")
            topic = actions.create_topic(
                user, zone=zone, title=values["title"], matter_type=matter,
                description=values["description"],
            )  # fmt: skip
        except BilingualError as exc:
            error = exc.zh
        else:
            messages.success(request, "议题已创建")
            return redirect("community:deliberation_topic", topic.pk)
    if not values["zone"] and len(zones) == 1:
        values["zone"] = str(zones[0].pk)
    context = {"zones": zones, "matter_types": matter_types, "values": values, "error": error}
    return render(request, "community/deliberation/new.html", context, status=422 if error else 200)


@page
def topic_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A topic on the desk: everything from proposals to the follow-up."""
    topic = staff_topic(request, pk)
    shown = present.detail(request.user, topic)
    unvoted: list[CensusEntry] = []
    if topic.status == TopicStatus.VOTING:
        unvoted = list(
            CensusEntry.objects.filter(topic=topic, votes__isnull=True)
            .select_related("voter")
            .order_by("label", "pk")
        )
    allowed = {
        name for name, (sources, _t) in actions.TRANSITIONS.items() if topic.status in sources
    }
    context = {
        **shown,
        "allowed": allowed,
        "unvoted": unvoted,
        "choices": VoteChoice.choices,
        "task_statuses": TaskStatus.choices,
        "now": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "spots": list(queries.spots_for(topic.area_path)) if "schedule" in allowed else [],
    }
    return render(request, "community/deliberation/topic.html", context)


def _propose(request: HttpRequest, topic: Topic) -> str:
    p = request.POST
    actions.add_proposal(
        request.user, topic, title=p.get("title"), body=p.get("body"),
        author_name=p.get("author_name"),
    )  # fmt: skip
    return "方案已添加"


def _schedule(request: HttpRequest, topic: Topic) -> str:
    p = request.POST
    starts_at = form_datetime(p.get("starts_at", ""), "starts_at")
    assert starts_at is not None  # noqa: S101 (required)
    spot_id = form_int(p.get("spot", ""), "spot", required=False)
    spot = queries.spots_for(topic.area_path).filter(pk=spot_id).first() if spot_id else None
    if spot_id and spot is None:
        raise ValidationFailed(
            "议事地点不在本小区", "the spot is not in this compound", field="spot"
        )
    meeting_actions.schedule(
        request.user, topic, starts_at=starts_at, agenda=p.get("agenda"),
        quorum=form_int(p.get("quorum", ""), "quorum", required=False), spot=spot,
    )  # fmt: skip
    return "议事会已安排，参会名单已按1+3+N生成"


def _open_voting(request: HttpRequest, topic: Topic) -> str:
    closes_at = form_datetime(request.POST.get("closes_at", ""), "closes_at", required=False)
    actions.open_voting(request.user, topic, closes_at=closes_at)
    return "表决已开始，表决名册已生成"


def _paper_vote(request: HttpRequest, topic: Topic) -> str:
    vote = actions.paper_vote(
        request.user, topic, entry_id=form_int(request.POST.get("entry_id", ""), "entry_id"),
        choice=request.POST.get("choice"),
    )  # fmt: skip
    return f"已录入纸质票：{vote.entry.label} {vote.get_choice_display()}"


def _close(request: HttpRequest, topic: Topic) -> str:
    resolution = actions.close_voting(request.user, topic)
    return "表决已结束：" + ("通过" if resolution.passed else "未通过")


def _add_task(request: HttpRequest, topic: Topic) -> str:
    p = request.POST
    actions.add_task(
        request.user, topic, title=p.get("title"), owner=p.get("owner"),
        due_on=form_date(p.get("due_on", ""), "due_on"),
    )  # fmt: skip
    return "落实任务已添加"


def _update_task(request: HttpRequest, topic: Topic) -> str:
    p = request.POST
    task_id = form_int(p.get("task_id", ""), "task_id") or 0
    task = FollowUpTask.objects.filter(topic=topic, pk=task_id).select_related("topic").first()
    if task is None:
        raise NotFound()
    actions.update_task(
        request.user, task, progress=form_int(p.get("progress", ""), "progress", required=False),
        status=p.get("status") or None, note=p.get("note"),
    )  # fmt: skip
    return "任务进度已更新"


def _escalate(request: HttpRequest, topic: Topic) -> str:
    number = actions.escalate(request.user, topic, note=request.POST.get("note"))
    return f"已提级帮办，诉求编号 {number}"


TOPIC_ACTIONS: dict[str, Callable[[HttpRequest, Topic], str]] = {
    "propose": _propose,
    "schedule": _schedule,
    "open_voting": _open_voting,
    "paper_vote": _paper_vote,
    "close": _close,
    "add_task": _add_task,
    "update_task": _update_task,
    "escalate": _escalate,
}


@page
@require_POST
def topic_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One action on a topic from its page; back to the page with the outcome."""
    topic = staff_topic(request, pk)
    handler = TOPIC_ACTIONS.get(action)
    if handler is None:
        raise NotFound()
    try:
        messages.success(request, handler(request, topic))
    except NotFound:
        raise
    except BilingualError as exc:
        messages.error(request, exc.zh)
    return redirect(reverse("community:deliberation_topic", args=[topic.pk]) + f"#{action}")


# --- meetings ----------------------------------------------------------------------------------
def staff_meeting(request: HttpRequest, pk: int) -> Meeting:
    meeting = queries.get_meeting(request.user, pk)
    queries.require_serve(request.user, meeting.area_path)
    return meeting


@page
def meeting_page(request: HttpRequest, pk: int) -> HttpResponse:
    """议事会: agenda, the 1+3+N roster with sign-in, the quorum, the minutes."""
    meeting = staff_meeting(request, pk)
    shown = next(m for m in present.meetings_of(meeting.topic) if m.pk == meeting.pk)
    groups: dict[str, list[Any]] = {}
    for member in shown.members:  # type: ignore[attr-defined]
        groups.setdefault(member.get_group_display(), []).append(member)
    context = {
        "meeting": shown,
        "topic": meeting.topic,
        "groups": groups,
        "attendance": shown.attendance,  # type: ignore[attr-defined]
        "roster_groups": RosterGroup.choices,
        "may_sign_in": meeting.status in ("planned", "open"),
    }
    return render(request, "community/deliberation/meeting.html", context)


def _sign_in(request: HttpRequest, meeting: Meeting) -> str:
    member = meeting_actions.sign_in(
        request.user, meeting, form_int(request.POST.get("member_id", ""), "member_id")
    )
    return f"{member.name} 已签到"


def _add_member(request: HttpRequest, meeting: Meeting) -> str:
    member = meeting_actions.add_member(
        request.user, meeting, group=request.POST.get("group"), name=request.POST.get("name")
    )
    return f"已增加参会人员 {member.name}"


def _minutes(request: HttpRequest, meeting: Meeting) -> str:
    publish = request.POST.get("publish") == "1"
    meeting_actions.write_minutes(
        request.user, meeting, minutes=request.POST.get("minutes"), publish=publish
    )
    return "会议纪要已公开，居民可在手机上查看" if publish else "会议纪要已保存（未公开）"


MEETING_ACTIONS: dict[str, Callable[[HttpRequest, Meeting], str]] = {
    "sign_in": _sign_in,
    "add_member": _add_member,
    "minutes": _minutes,
}


@page
@require_POST
def meeting_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    meeting = staff_meeting(request, pk)
    handler = MEETING_ACTIONS.get(action)
    if handler is None:
        raise NotFound()
    try:
        messages.success(request, handler(request, meeting))
    except NotFound:
        raise
    except BilingualError as exc:
        messages.error(request, exc.zh)
    return redirect(reverse("community:deliberation_meeting", args=[meeting.pk]) + f"#{action}")
