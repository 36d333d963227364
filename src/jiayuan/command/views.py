"""Pages of mobilisation: the staff's list, new and live detail pages, and the force's
phone pages (上岗/下岗 and one call). Each change is one action of
:mod:`jiayuan.command.mobilise` or :mod:`jiayuan.command.duty`; a refusal comes back as a
message on the page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jiayuan.cases.queries import tab_querysets
from jiayuan.core.errors import (
    MAX_ROW_ID,
    BilingualError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    row_id,
)
from jiayuan.core.geo import geometry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, path_allowed
from jiayuan.core.views import page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.choices import ForceKind
from jiayuan.people.models import Force

from . import duty, mobilise
from .api import visible_one
from .models import Member, MobilisationStatus, Step

PICKER_KINDS = (AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID)


def _staff(user: Any) -> None:
    if not has_perm_anywhere(user, Perm.VIEW):
        raise NotFound()


@page
def mobilisation_list(request: HttpRequest) -> HttpResponse:
    """调度列表: the mobilisations of the user's scope, newest first."""
    user: Any = request.user
    _staff(user)
    qs = mobilise.with_members(mobilise.visible(user))
    status = request.GET.get("status", "")
    if status in MobilisationStatus.values:
        qs = qs.filter(status=status)
    page_obj = Paginator(qs, 30).get_page(request.GET.get("page"))
    rows = [(m, mobilise.counts(m.members.all())) for m in page_obj]
    return render(
        request,
        "command/list.html",
        {
            "page_obj": page_obj,
            "rows": rows,
            "status": status,
            "statuses": MobilisationStatus.choices,
            "may_start": has_perm_anywhere(user, Perm.SUPERVISE),
        },
    )


def _prefill(user: Any, request: HttpRequest) -> dict[str, Any]:
    """The place of an alarm (?alarm=<id>) or a case (?case=<id>) the user may see."""
    from jiayuan.cases.models import Case
    from jiayuan.iot.models import Alarm

    out: dict[str, Any] = {}
    raw_alarm, raw_case = request.GET.get("alarm", ""), request.GET.get("case", "")
    if raw_alarm.isdigit() and 1 <= int(raw_alarm) <= MAX_ROW_ID:
        alarm = (
            Alarm.objects.visible_to(user)
            .select_related("device")
            .filter(pk=int(raw_alarm))
            .first()
        )
        if alarm is not None:
            d = alarm.device
            out = {
                "lat": d.lat,
                "lng": d.lng,
                "area_id": d.area_id,
                "source": f"alarm:{alarm.pk}",
                "message": f"告警处置：{d.name}",
            }
    elif raw_case.isdigit() and 1 <= int(raw_case) <= MAX_ROW_ID:
        case = Case.objects.visible_to(user).filter(pk=int(raw_case)).first()
        if case is not None:
            out = {
                "lat": case.lat,
                "lng": case.lng,
                "area_id": case.grid_id,
                "source": f"case:{case.number}",
                "message": f"诉求处置：{case.title}",
            }
    if out.get("lat") is not None:
        out.pop("area_id", None)  # a point is more precise than its area
    return out


@page
def mobilisation_new(request: HttpRequest) -> HttpResponse:
    """一键调度: choose an area or a point (or paste a polygon), kinds, skills, head count
    and the message; the nearest available forces in scope are called."""
    user: Any = request.user
    if not has_perm_anywhere(user, Perm.SUPERVISE):
        if not has_perm_anywhere(user, Perm.VIEW):
            raise NotFound()
        raise PermissionDenied("没有发起调度的权限", "you may not start a mobilisation")
    areas = list(
        Area.objects.visible_to(user, Perm.SUPERVISE)
        .filter(kind__in=PICKER_KINDS)
        .only("pk", "name", "kind", "path", "boundary")
        .order_by("path")[:500]
    )
    shapes = [
        {"id": a.pk, "name": a.name, "kind": a.kind, "boundary": geometry(a.boundary)}
        for a in areas
        if a.boundary and a.kind != AreaKind.STREET
    ]
    values: dict[str, Any] = {"head_count": 5, "roles": [], **_prefill(user, request)}
    error = ""
    if request.method == "POST":
        post = request.POST
        values = {
            "area_id": post.get("area_id", ""),
            "lat": post.get("lat", ""),
            "lng": post.get("lng", ""),
            "polygon": post.get("polygon", ""),
            "roles": post.getlist("roles"),
            "skills": post.get("skills", ""),
            "head_count": post.get("head_count", ""),
            "message": post.get("message", ""),
            "source": post.get("source", "")[:40],
        }
        try:
            polygon = _json(values["polygon"]) if values["polygon"].strip() else None
            point = (
                {"lat": values["lat"], "lng": values["lng"]}
                if str(values["lat"]).strip() or str(values["lng"]).strip()
                else None
            )
            skills = [s for s in values["skills"].replace("，", ",").split(",") if s.strip()]
            mob = mobilise.start(
                user,
                area_id=values["area_id"] or None,
                polygon=polygon,
                point=point if not values["area_id"] and polygon is None else None,
                roles=values["roles"],
                skills=skills,
                head_count=values["head_count"],
                message=values["message"],
                source=values["source"],
            )
        except BilingualError as exc:
            error = exc.zh
        else:
            messages.success(request, f"已发起调度 {mob.number}")
            return redirect("command:detail", mob.pk)
    return render(
        request,
        "command/new.html",
        {
            "areas": areas,
            "shapes": shapes,
            "kinds": ForceKind.choices,
            "values": values,
            "error": error,
        },
        status=422 if error else 200,
    )


def _json(raw: str) -> Any:
    import json

    if len(raw) > 100_000:
        raise ValidationFailed("范围过大", "polygon too large", field="polygon")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ValidationFailed(
            "范围不是有效的 GeoJSON", "invalid GeoJSON", field="polygon"
        ) from None


def _detail_context(user: Any, mob_id: int) -> dict[str, Any]:
    mob = visible_one(user, row_id(mob_id))
    if not path_allowed(user, mob.area_path, Perm.VIEW):
        raise NotFound()  # a member sees their own call on the phone page
    members = list(mob.members.all())
    return {
        "mob": mob,
        "members": members,
        "counts": [(Step(k).label, k, n) for k, n in mobilise.counts(members).items()],
        "timeline": mobilise.timeline(mob),
        "report": mobilise.report(mob, members),
        "may_supervise": path_allowed(user, mob.area_path, Perm.SUPERVISE),
        "steps": [(s.value, s.label) for s in Step if s not in mobilise.SYSTEM_STEPS],
    }


@page
def mobilisation_detail(request: HttpRequest, mob_id: int) -> HttpResponse:
    """One mobilisation, live: counts per step, members and the timeline (htmx polling)."""
    return render(request, "command/detail.html", _detail_context(request.user, mob_id))


@page
def mobilisation_live(request: HttpRequest, mob_id: int) -> HttpResponse:
    return render(request, "command/live.html", _detail_context(request.user, mob_id))


@page
@require_POST
def mobilisation_close(request: HttpRequest, mob_id: int) -> HttpResponse:
    try:
        mobilise.close(row_id(mob_id), request.user)
    except (NotFound, PermissionDenied):
        raise
    except BilingualError as exc:
        messages.error(request, exc.zh)
    return redirect("command:detail", mob_id)


@page
@require_POST
def mobilisation_step(request: HttpRequest, mob_id: int) -> HttpResponse:
    """Staff record a member's step (release, or a step reported by telephone)."""
    raw = request.POST.get("member_id", "")
    member_id = int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_ROW_ID else None
    if member_id is None:
        raise NotFound()
    try:
        mobilise.respond(
            row_id(mob_id), request.user, step=request.POST.get("step", ""), member_id=member_id
        )
    except (NotFound, PermissionDenied):
        raise
    except BilingualError as exc:
        messages.error(request, exc.zh)
    return redirect("command:detail", mob_id)


@page
def force_position(request: HttpRequest, force_id: int) -> HttpResponse:
    """A force's last known position (only while on duty, within the retention); each
    look is written to the audit log by :func:`jiayuan.command.duty.position_of`."""
    user: Any = request.user
    force = (
        Force.objects.visible_to(user).select_related("person", "area").filter(pk=row_id(force_id))
    ).first()
    if force is None:
        raise NotFound()
    return render(
        request,
        "command/position.html",
        {"force": force, "position": duty.position_of(force, actor=user)},
    )


# --- the force's phone pages -----------------------------------------------------------
BLANK_WINDOW_ROWS = 2  # empty rows under a force's windows, to add spans without script


@page
def phone_duty(request: HttpRequest) -> HttpResponse:
    """上岗/下岗 (phone): on duty with the browser's position or a point typed in; the
    force's own skills and weekly availability windows; the calls and the order queue's
    count (待接单)."""
    user: Any = request.user
    forces = duty.forces_of(user)
    error: tuple[int, BilingualError] | None = None
    drafts: dict[int, dict[str, Any]] = {}
    if request.method == "POST":
        chosen = [f for f in forces if str(f.pk) == request.POST.get("force_id", "")]
        if not chosen:
            raise NotFound()
        force, action = chosen[0], request.POST.get("action", "")
        try:
            if action == "on":
                duty.go_on_duty(
                    force,
                    actor=user,
                    lat=request.POST.get("lat") or None,
                    lng=request.POST.get("lng") or None,
                )
                messages.success(request, "已上岗")
            elif action == "off":
                duty.go_off_duty(force, actor=user)
                messages.success(request, "已下岗，位置已清除")
            elif action == "skills":
                skills = duty.clean_skills(
                    request.POST.getlist("skill"), request.POST.get("other_skills", "")
                )
                duty.set_skills(force, skills, actor=user)
                messages.success(request, "技能已保存")
            elif action == "windows":
                windows = duty.windows_from_rows(
                    request.POST.getlist("weekday"),
                    request.POST.getlist("start"),
                    request.POST.getlist("end"),
                )
                duty.set_availability(force, windows, actor=user)
                messages.success(request, "可调度时段已保存")
            else:
                raise ValidationFailed("未知操作", "unknown action", field="action")
        except BilingualError as exc:
            if action not in ("skills", "windows"):
                messages.error(request, exc.zh)
                return redirect("command:phone_duty")
            # the form comes back with what was typed and the error in both languages
            error, drafts[force.pk] = (force.pk, exc), _draft(request, action)
        else:
            return redirect("command:phone_duty")
    shifts = {f.pk: duty.open_shift(f) for f in forces}
    windows_of = duty.windows_of(forces)
    calls = list(
        Member.objects.select_related("mobilisation")
        .filter(person__user=user, mobilisation__status=MobilisationStatus.OPEN)
        .filter(~Q(step__in=mobilise.OUT))
        .order_by("-notified_at")[:20]
    )
    rows = [
        {
            "force": f,
            "shift": shifts[f.pk],
            "error": error[1] if error and error[0] == f.pk else None,
            **_profile(f, windows_of[f.pk], drafts.get(f.pk, {})),
        }
        for f in forces
    ]
    return render(
        request,
        "command/phone/duty.html",
        {
            "forces": rows,
            "calls": calls,
            "waiting_orders": tab_querysets(user)["accept"].count(),
            "skill_choices": duty.SKILL_CHOICES,
            "weekdays": list(enumerate(duty.WEEKDAYS)),
        },
        status=error[1].status if error else 200,
    )


def _draft(request: HttpRequest, action: str) -> dict[str, Any]:
    """What the force typed into the refused form (bounded: it is shown again)."""
    post = request.POST
    if action == "skills":
        return {"skills": post.getlist("skill")[:100], "other": post.get("other_skills", "")[:500]}
    limit = 4 * duty.MAX_PHONE_WINDOWS
    return {
        "windows": [
            {"weekday": str(d)[:2], "start": str(s)[:8], "end": str(e)[:8]}
            for d, s, e in zip(
                post.getlist("weekday")[:limit],
                post.getlist("start")[:limit],
                post.getlist("end")[:limit],
                strict=False,
            )
        ]
    }


def _profile(force: Force, windows: list[dict[str, Any]], draft: dict[str, Any]) -> dict[str, Any]:
    """The skills and windows forms of one force: its saved values, or the draft."""
    skills = draft.get("skills", force.skills or [])
    other = draft.get("other")
    if other is None:
        other = "、".join(s for s in skills if s not in duty.SKILL_CHOICES)
    rows = draft.get("windows") or [
        {"weekday": str(w.get("weekday")), "start": w.get("start"), "end": w.get("end")}
        for w in windows
    ]
    blank = {"weekday": "", "start": "", "end": ""}
    return {
        "skills": [s for s in skills if s in duty.SKILL_CHOICES],
        "other_skills": other,
        "saved_skills": force.skills or [],
        "window_labels": [
            f"{duty.WEEKDAYS[w['weekday']]} {w['start']}–{w['end']}"
            for w in windows
            if w.get("weekday") in range(7)
        ],
        "window_rows": rows + [blank] * BLANK_WINDOW_ROWS,
    }


PHONE_STEPS: dict[str, list[tuple[str, str]]] = {
    Step.NOTIFIED: [(Step.ACKNOWLEDGED, "确认接令"), (Step.DECLINED, "无法前往")],
    Step.DELIVERED: [(Step.ACKNOWLEDGED, "确认接令"), (Step.DECLINED, "无法前往")],
    Step.ACKNOWLEDGED: [(Step.EN_ROUTE, "出发"), (Step.CHECKED_IN, "到场签到")],
    Step.EN_ROUTE: [(Step.CHECKED_IN, "到场签到")],
}


@page
def phone_mobilisation(request: HttpRequest, mob_id: int) -> HttpResponse:
    """One call (phone): the message, and the next steps — acknowledge, en route, check
    in with the position."""
    user: Any = request.user
    mob = visible_one(user, row_id(mob_id))
    member = mobilise.member_of(mob, user)
    if member is None:
        raise NotFound()
    if request.method == "POST":
        try:
            mobilise.respond(
                mob.pk,
                user,
                step=request.POST.get("step", ""),
                lat=request.POST.get("lat") or None,
                lng=request.POST.get("lng") or None,
            )
        except BilingualError as exc:
            messages.error(request, exc.zh)
        return redirect("command:phone_mobilisation", mob.pk)
    if member.step == Step.NOTIFIED and mob.status == MobilisationStatus.OPEN:
        try:
            mobilise.respond(mob.pk, user, step=Step.DELIVERED)
            member.refresh_from_db()
        except BilingualError:
            pass
    return render(
        request,
        "command/phone/mobilisation.html",
        {
            "mob": mob,
            "member": member,
            "actions": PHONE_STEPS.get(member.step, []) if mob.status == "open" else [],
        },
    )
