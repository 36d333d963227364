"""Pages of the WeCom part: policy broadcasts (宣讲: the list, a new one, one with its
deliveries and the cancel button) and the group robots (群机器人: the list with masked
keys, adding one, switching one off or on).

Views are thin: parse a form, call one action of :mod:`jiayuan.assistant.wecom.
broadcasts` or :mod:`~jiayuan.assistant.wecom.robots`, render. Lists start from the
user's scope; a broadcast outside it is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, NotFound, row_id
from jiayuan.core.forms import add_error
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, path_allowed, scope_q
from jiayuan.core.views import page
from jiayuan.org.models import Area
from jiayuan.policies.models import Policy

from ..choices import BroadcastKind, BroadcastStatus, DeliveryStatus
from ..models import Robot
from ..wecom import broadcasts, robots
from .wecom_forms import BroadcastForm, RobotForm

PER_PAGE = 30
CHOICE_LIMIT = 500
STATUS_CSS = {
    BroadcastStatus.DRAFT: "bg-secondary-lt",
    BroadcastStatus.SCHEDULED: "bg-blue-lt",
    BroadcastStatus.SENDING: "bg-yellow-lt",
    BroadcastStatus.SENT: "bg-green-lt",
    BroadcastStatus.FAILED: "bg-red-lt",
    BroadcastStatus.CANCELLED: "bg-secondary-lt",
}
DELIVERY_CSS = {
    DeliveryStatus.PENDING: "bg-yellow-lt",
    DeliveryStatus.SENT: "bg-green-lt",
    DeliveryStatus.FAILED: "bg-red-lt",
}
INDENT = {"county": "", "street": "　", "community": "　　", "zone": "　　　", "grid": "　　　　"}


def _areas(user: Any, kinds: tuple[str, ...]) -> list[tuple[int, str]]:
    """Areas of ``kinds`` where the user may change things, indented by level."""
    rows = (
        Area.objects.filter(scope_q(user, Perm.CHANGE, field="path"), kind__in=kinds)
        .order_by("path")
        .values_list("pk", "name", "kind")[:CHOICE_LIMIT]
    )
    return [(pk, f"{INDENT.get(kind, '')}{name}") for pk, name, kind in rows]


def _policies() -> list[tuple[int, str]]:
    rows = Policy.objects.filter(enabled=True).order_by("name").values_list("pk", "name")
    return list(rows[:CHOICE_LIMIT])


# --- broadcasts -----------------------------------------------------------------------------
@page
def broadcast_index(request: HttpRequest) -> HttpResponse:
    """宣讲: the broadcasts in the user's scope, newest first, with their deliveries
    counted."""
    user: Any = request.user
    status = request.GET.get("status") or ""
    status = status if status in BroadcastStatus.values else ""
    qs = broadcasts.with_counts(broadcasts.visible_broadcasts(user))
    if status:
        qs = qs.filter(status=status)
    page_obj = Paginator(qs.order_by("-created_at", "-pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    for b in page_obj:
        b.status_css = STATUS_CSS.get(BroadcastStatus(b.status), "")  # type: ignore[attr-defined]
    context = {
        "broadcasts": page_obj,
        "status": status,
        "statuses": BroadcastStatus.choices,
        "may_create": has_perm_anywhere(user, Perm.CHANGE),
    }
    return render(request, "assistant/wecom/broadcasts.html", context)


def _when(data: dict[str, Any]) -> dt.datetime | None:
    if data["when"] == "now":
        return timezone.now()
    if data["when"] == "at":
        value: dt.datetime | None = data.get("scheduled_at")
        return value
    return None


@page
def broadcast_new(request: HttpRequest) -> HttpResponse:
    """新建宣讲 (by hand or from a policy), saved as a draft, sent now or scheduled."""
    user: Any = request.user
    data = request.POST if request.method == "POST" else None
    initial: dict[str, Any] = {"kind": BroadcastKind.TEXT, "when": "at"}
    code = request.GET.get("policy") or ""
    chosen = Policy.objects.filter(code=code[:40]).values_list("pk", flat=True).first()
    if chosen:
        initial["policy"] = chosen
    form = BroadcastForm(
        data,
        initial=initial,
        areas=_areas(user, broadcasts.BROADCAST_AREA_KINDS),
        policies=_policies(),
    )
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        area = Area.objects.filter(pk=values["area"]).first()
        policy = Policy.objects.filter(pk=values["policy"]).first() if values["policy"] else None
        try:
            if area is None:
                raise NotFound("区域不存在", "no such area", field="area")
            created = broadcasts.create(
                user,
                broadcasts.BroadcastFields(
                    area=area, title=values["title"], kind=values["kind"],
                    content=values["content"], card={"url": values["card_url"]},
                    scheduled_at=_when(values), policy=policy,
                ),
            )  # fmt: skip
        except BilingualError as exc:
            add_error(form, exc, {"url": "card_url", "card_title": "title"})
        else:
            messages.success(
                request, f"已保存宣讲“{created.title}”（{created.get_status_display()}）。"
            )
            return redirect("assistant:broadcast", pk=created.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "assistant/wecom/broadcast_form.html", {"form": form}, status=status)


@page
def broadcast_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One broadcast: its message, schedule, status and every group's delivery."""
    user: Any = request.user
    broadcast = broadcasts.get_broadcast(user, pk)
    deliveries = list(broadcast.deliveries.select_related("robot", "robot__area").order_by("pk"))
    for d in deliveries:
        d.status_css = DELIVERY_CSS.get(DeliveryStatus(d.status), "")  # type: ignore[attr-defined]
    counts = {s: sum(1 for d in deliveries if d.status == s) for s in DeliveryStatus.values}
    may_cancel = broadcast.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
    context = {
        "broadcast": broadcast,
        "status_css": STATUS_CSS.get(BroadcastStatus(broadcast.status), ""),
        "deliveries": deliveries,
        "counts": counts,
        "may_cancel": may_cancel and path_allowed(user, broadcast.area_path, Perm.CHANGE),
        "robot_count": broadcasts.robots_for(broadcast).count()
        if broadcast.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
        else len(deliveries),
    }
    return render(request, "assistant/wecom/broadcast.html", context)


@require_POST
@page
def broadcast_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """取消宣讲 (before its sending begins)."""
    user: Any = request.user
    broadcast = broadcasts.get_broadcast(user, pk)
    broadcasts.cancel(user, broadcast)
    messages.success(request, "已取消该宣讲。")
    return redirect("assistant:broadcast", pk=broadcast.pk)


# --- robots ---------------------------------------------------------------------------------
def _robot_context(request: HttpRequest, form: RobotForm) -> dict[str, Any]:
    user: Any = request.user
    page_obj = Paginator(broadcasts.visible_robots(user), PER_PAGE).get_page(
        request.GET.get("page")
    )
    for r in page_obj:
        r.may_change = path_allowed(user, r.area_path, Perm.CHANGE)  # type: ignore[attr-defined]
    return {
        "robots": page_obj,
        "form": form,
        "may_create": bool(form.fields["area"].choices),  # type: ignore[attr-defined]
    }


def _robot_form(request: HttpRequest) -> RobotForm:
    data = request.POST if request.method == "POST" else None
    return RobotForm(data, areas=_areas(request.user, robots.ROBOT_AREA_KINDS))


@page
def robot_index(request: HttpRequest) -> HttpResponse:
    """群机器人: the robots of the resident groups in the user's scope (keys masked),
    with the form that adds one."""
    form = _robot_form(request)
    return render(request, "assistant/wecom/robots.html", _robot_context(request, form))


@require_POST
@page
def robot_new(request: HttpRequest) -> HttpResponse:
    """添加群机器人."""
    user: Any = request.user
    form = _robot_form(request)
    if form.is_valid():
        values = form.cleaned_data
        area = Area.objects.filter(pk=values["area"]).first()
        try:
            if area is None:
                raise NotFound("区域不存在", "no such area", field="area")
            robot = robots.add_robot(
                user, area, values["name"], values["chat_name"], values["webhook_key"]
            )
        except BilingualError as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"已添加群机器人“{robot.name}”（密钥 {robot.key_masked}）。")
            return redirect("assistant:robots")
    context = _robot_context(request, form)
    return render(request, "assistant/wecom/robots.html", context, status=422)


@require_POST
@page
def robot_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """启用/停用群机器人."""
    user: Any = request.user
    robot = Robot.objects.visible_to(user).filter(pk=row_id(pk)).first()
    if robot is None:
        raise NotFound()
    robots.set_enabled(user, robot, not robot.enabled)
    messages.success(request, f"已{'启用' if robot.enabled else '停用'}“{robot.name}”。")
    return redirect("assistant:robots")
