"""Pages of the device side (智能安防): the device map and list, a device's page with its
telemetry chart, the alarm console that refreshes itself every two seconds (htmx
polling of a partial), an alarm's page with its timeline, the rule editor and the
dead-letter viewer.

Views are thin: every read starts from ``visible_to(user)`` through :mod:`.queries`
(outside the scope is a 404), every write is one call of :mod:`.queries`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jiayuan.core import geo
from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere
from jiayuan.core.views import is_htmx, page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from . import queries
from .choices import OPEN_ALARM_STATUSES, AlarmStatus, DeviceStatus, Severity
from .devicetypes import field_types
from .forms import AlarmActionForm, AlarmFilterForm, DeviceFilterForm, RuleForm
from .models import AlarmRule, Device, DeviceType, Message

PER_PAGE = 25
CONSOLE_ROWS = 50
MAP_LIMIT = 12_000
CHART_MESSAGES = 300
NEW_SECONDS = 15  # an alarm raised this recently is highlighted on the console

STATUS_COLORS = {
    DeviceStatus.ONLINE: "#2fb344",
    DeviceStatus.OFFLINE: "#9aa0ac",
    DeviceStatus.FAULT: "#f59f00",
    DeviceStatus.DECOMMISSIONED: "#d0d4db",
}
STATUS_CSS = {
    DeviceStatus.ONLINE: "green",
    DeviceStatus.OFFLINE: "secondary",
    DeviceStatus.FAULT: "orange",
    DeviceStatus.DECOMMISSIONED: "secondary",
}
SEVERITY_CSS = {
    Severity.CRITICAL: "red",
    Severity.MAJOR: "orange",
    Severity.MINOR: "yellow",
    Severity.WARNING: "azure",
}
ALARM_STATUS_CSS = {
    AlarmStatus.ACTIVE: "bg-red text-red-fg",
    AlarmStatus.ACKNOWLEDGED: "bg-orange-lt",
    AlarmStatus.CLEARED: "bg-green-lt",
    AlarmStatus.CLOSED: "bg-secondary-lt",
}


def decorate_devices(devices: list[Device]) -> list[Device]:
    for d in devices:
        d.status_css = STATUS_CSS.get(DeviceStatus(d.status), "secondary")  # type: ignore[attr-defined]
    return devices


def decorate_alarms(alarms: list[Any], now: dt.datetime | None = None) -> list[Any]:
    now = now or timezone.now()
    for a in alarms:
        a.severity_css = SEVERITY_CSS.get(Severity(a.severity), "secondary")
        a.status_css = ALARM_STATUS_CSS.get(AlarmStatus(a.status), "bg-secondary-lt")
        a.is_new = (
            a.status == AlarmStatus.ACTIVE and (now - a.first_at).total_seconds() < NEW_SECONDS
        )
    return alarms


def grid_features(user: Any) -> list[dict[str, Any]]:
    grids = (
        Area.objects.visible_to(user).filter(kind=AreaKind.GRID).only("name", "path", "boundary")
    )
    return geo.boundary_features(grids.order_by("path"), lambda a: {"name": a.name})


# --- devices -----------------------------------------------------------------------------
@page
def device_index(request: HttpRequest) -> HttpResponse:
    """设备: the scope's devices on a map (dots in their status colour, alarmed ones
    ringed in red) and as a filtered list."""
    user = request.user
    form = DeviceFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    scoped = queries.devices_for(user)
    qs = queries.filter_devices(
        scoped,
        type_code=data.get("type") or None,
        statuses=[data["status"]] if data.get("status") else None,
        q=data.get("q"),
    )
    page_obj = Paginator(qs.order_by("serial"), PER_PAGE).get_page(request.GET.get("page"))
    decorate_devices(list(page_obj.object_list))
    counts = dict(
        scoped.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    alarmed = set(
        queries.alarms_for(user)
        .filter(status__in=OPEN_ALARM_STATUSES)
        .values_list("device_id", flat=True)
    )
    types = list(DeviceType.objects.order_by("code").values_list("pk", "name"))
    type_index = {pk: i for i, (pk, _name) in enumerate(types)}
    statuses = list(DeviceStatus)
    status_index = {s.value: i for i, s in enumerate(statuses)}
    rows = [
        [pk, serial, type_index.get(type_id, 0), status_index.get(status, 0),
         round(lat or 0.0, 6), round(lng or 0.0, 6), 1 if pk in alarmed else 0]
        for pk, serial, type_id, status, lat, lng in qs.filter(lat__isnull=False, lng__isnull=False)
        .order_by("serial")
        .values_list("pk", "serial", "device_type_id", "status", "lat", "lng")[:MAP_LIMIT]
    ]  # fmt: skip
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "devices": page_obj,
        "query": query.urlencode(),
        "stats": [(s.label, STATUS_CSS[s], counts.get(s.value, 0)) for s in statuses],
        "total": sum(counts.values()),
        "alarmed": len(alarmed),
        "map_data": {
            "grids": grid_features(user),
            "types": [name for _pk, name in types],
            "statuses": [{"label": str(s.label), "color": STATUS_COLORS[s]} for s in statuses],
            "devices": rows,
            "url": reverse("iot:device", args=[0]),
        },
        "limited": len(rows) >= MAP_LIMIT,
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "device-list":
        return render(request, "iot/partials/device_list.html", context)
    return render(request, "iot/devices.html", context)


def telemetry(device: Device) -> dict[str, Any]:
    """The numeric payload fields of the device's latest messages as chart series."""
    specs = field_types(device.device_type.schema or {})
    numeric = {
        name: str(spec.get("label") or name)
        for name, spec in specs.items()
        if spec.get("type") in ("int", "decimal")
    }
    rows = list(
        Message.objects.filter(device=device)
        .order_by("-device_ts", "-id")
        .values_list("device_ts", "payload")[:CHART_MESSAGES]
    )
    series: dict[str, list[list[Any]]] = {}
    for ts, payload in reversed(rows):
        data = payload.get("data", payload) if isinstance(payload, dict) else {}
        if not isinstance(data, dict):
            continue
        for name in numeric:
            value = data.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                series.setdefault(name, []).append([ts.isoformat(), value])
    return {"series": series, "labels": numeric, "threshold": None}


@page
def device_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """设备详情: what and where the device is, its telemetry chart, its alarms and the
    latest messages."""
    user = request.user
    device = queries.get_device(user, pk)
    device = Device.objects.select_related("device_type", "area", "dwelling__unit").get(
        pk=device.pk
    )
    decorate_devices([device])
    alarms = decorate_alarms(
        list(queries.alarms_for(user).filter(device=device).order_by("-last_at", "-id")[:20])
    )
    recent = list(Message.objects.filter(device=device).order_by("-device_ts", "-id")[:20])
    for message in recent:
        message.text = json.dumps(message.payload, ensure_ascii=False)  # type: ignore[attr-defined]
    map_data = {
        "grids": [],
        "types": [device.device_type.name],
        "statuses": [{"label": str(s.label), "color": STATUS_COLORS[s]} for s in DeviceStatus],
        "devices": (
            [[device.pk, device.serial, 0, list(DeviceStatus).index(DeviceStatus(device.status)),
              device.lat, device.lng, int(any(a.is_open for a in alarms))]]
            if device.lat is not None and device.lng is not None else []
        ),
        "url": reverse("iot:device", args=[0]),
    }  # fmt: skip
    context = {
        "device": device,
        "alarms": alarms,
        "recent": recent,
        "chart": telemetry(device),
        "map_data": map_data,
    }
    return render(request, "iot/device.html", context)


# --- alarms ------------------------------------------------------------------------------
def console_context(request: HttpRequest) -> dict[str, Any]:
    """The alarm console's rows and counters (shared by the page and its live partial)."""
    user = request.user
    form = AlarmFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or "open"
    scoped = queries.alarms_for(user)
    qs = queries.filter_alarms(
        scoped,
        open_only=status == "open",
        statuses=[status] if status not in ("open", "all") else None,
        severities=[data["severity"]] if data.get("severity") else None,
    )
    rows = decorate_alarms(list(qs.order_by("-last_at", "-id")[:CONSOLE_ROWS]))
    for alarm in rows:
        alarm.actions = queries.allowed_actions(user, alarm)
    counts = scoped.filter(status__in=OPEN_ALARM_STATUSES).aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(status=AlarmStatus.ACTIVE)),
        **{s.value: Count("pk", filter=Q(severity=s.value)) for s in Severity},
    )
    query = request.GET.copy()
    return {
        "form": form,
        "alarms": rows,
        "counts": counts,
        "severities": [
            (s.value, s.label, SEVERITY_CSS[s], counts.get(s.value, 0)) for s in Severity
        ],
        "query": query.urlencode(),
        "now": timezone.now(),
        "limit": CONSOLE_ROWS,
    }


@page
def alarm_console(request: HttpRequest) -> HttpResponse:
    """告警台: the scope's alarms, newest first, refreshed every two seconds without a
    reload; an active alarm is acknowledged with one click."""
    return render(request, "iot/alarms.html", console_context(request))


@page
def alarm_live(request: HttpRequest) -> HttpResponse:
    """The console's live part (polled by htmx)."""
    response = render(request, "iot/partials/alarm_live.html", console_context(request))
    response["Cache-Control"] = "no-store"
    return response


@page
def alarm_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """告警详情: what triggered it, the device, the linked case and the timeline, with the
    actions the user may take."""
    user = request.user
    alarm: Any = queries.get_alarm(user, pk)
    decorate_alarms([alarm])
    events = list(alarm.events.select_related("actor").order_by("at", "id"))
    context = {
        "alarm": alarm,
        "events": events,
        "actions": queries.allowed_actions(user, alarm),
        "form": AlarmActionForm(),
    }
    return render(request, "iot/alarm.html", context)


@require_POST
@page
def alarm_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One action on an alarm (确认 / 解除 / 误报). From the console (htmx) the live part
    comes back; from the alarm page, the page again."""
    form = AlarmActionForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    from_console = is_htmx(request) and request.headers.get("HX-Target") == "alarm-live"
    try:
        queries.act_on_alarm(
            request.user, pk, action, note=data.get("note", ""), reason=data.get("reason", "")
        )
    except (NotFound, PermissionDenied):
        raise  # the page decorator answers 404 / 403
    except BilingualError as exc:
        if from_console:
            raise
        messages.error(request, exc.zh)
    else:
        if not from_console:
            messages.success(request, f"已{queries.ALARM_ACTIONS[action]}")
    if from_console:
        response = render(request, "iot/partials/alarm_live.html", console_context(request))
        response["Cache-Control"] = "no-store"
        return response
    return redirect("iot:alarm", pk)


# --- rules -------------------------------------------------------------------------------
@page
def rule_index(request: HttpRequest) -> HttpResponse:
    """告警规则: the rules that apply in the scope."""
    rules = list(queries.rules_for(request.user).order_by("code"))
    for rule in rules:
        rule.editable = queries.may_edit_rule_at(request.user, rule.area_path)  # type: ignore[attr-defined]
        rule.severity_css = SEVERITY_CSS.get(Severity(rule.severity), "secondary")  # type: ignore[attr-defined]
    paths = {r.area_path for r in rules if r.area_path}
    names = dict(Area.objects.filter(path__in=paths).values_list("path", "name"))
    for rule in rules:
        rule.area_name = names.get(rule.area_path, "全县") if rule.area_path else "全县"  # type: ignore[attr-defined]
    context = {
        "rules": rules,
        "can_create": has_perm_anywhere(request.user, Perm.SUPERVISE),
    }
    return render(request, "iot/rules.html", context)


def area_choices(user: Any) -> list[tuple[str, str]]:
    """Areas where ``user`` may set rules (street to grid), county-wide first if allowed."""
    kinds = (AreaKind.COUNTY, AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID)
    areas = (
        Area.objects.visible_to(user, Perm.SUPERVISE)
        .filter(kind__in=kinds)
        .order_by("path")
        .values_list("pk", "name", "depth")
    )
    choices = [("", "全县")] if queries.may_edit_rule_at(user, "") else []
    choices += [(str(pk), "　" * max(depth - 1, 0) + name) for pk, name, depth in areas]
    return choices


@page
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """规则编辑: a new rule, or a change to one; the conditions are checked with the rule
    language before anything is saved."""
    user = request.user
    if not has_perm_anywhere(user, Perm.SUPERVISE):
        raise PermissionDenied("规则只能由社区及以上工作人员设置", "supervisors only")
    rule = queries.get_rule(user, pk) if pk is not None else AlarmRule(kind="event")
    area_id = (
        Area.objects.filter(path=rule.area_path).values_list("pk", flat=True).first()
        if rule.area_path
        else None
    )
    if pk is not None and not queries.may_edit_rule_at(user, rule.area_path):
        raise PermissionDenied("您没有修改该规则的权限", "you may not change this rule")
    initial = RuleForm.initial_for(rule, area_id) if pk is not None else None
    form = RuleForm(request.POST or None, initial=initial, areas=area_choices(user))
    if pk is not None:
        form.fields["code"].disabled = True
        form.fields["kind"].disabled = True
    if request.method == "POST" and form.is_valid():
        if pk is None:
            rule.code = form.cleaned_data["code"]
            rule.kind = form.cleaned_data["kind"]
        try:
            saved = queries.save_rule(user, rule, form.changes(), new=pk is None)
        except PermissionDenied:
            raise
        except BilingualError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, f"规则「{saved.name}」已保存")
            return redirect("iot:rules")
    context = {"form": form, "rule": rule if pk is not None else None}
    return render(request, "iot/rule_form.html", context, status=422 if form.errors else 200)


# --- dead letters ------------------------------------------------------------------------
@page
def dead_letters(request: HttpRequest) -> HttpResponse:
    """异常消息: messages that could not be accepted, with the reason (the raw payload
    is shown as text, shortened)."""
    qs = queries.dead_letters_for(request.user).order_by("-received_at", "-id")
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "iot/dead_letters.html", {"letters": page_obj})
