"""Pages of the request loop (诉求办理): role inboxes, the case page with its six-step
timeline and action forms, staff intake, the case map, the indicator dashboard — and
the resident's pages without login: 随手拍 and the tracking
page behind the case's secret link.

Views are thin: parse a form, call one action of :mod:`jiayuan.cases.services`, render.
Every staff lookup starts from ``Case.objects.visible_to(user)``; outside the scope is
a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from jiayuan.core.calendar import WorkClock
from jiayuan.core.errors import BilingualError, PermissionDenied
from jiayuan.core.roles import Perm, Role
from jiayuan.core.scoping import has_perm_anywhere
from jiayuan.core.views import is_htmx, page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership

from . import photos as case_photos
from . import services, sla
from .choices import OPEN_STATUSES, Light, Satisfaction, Status, Step
from .forms import (
    ACTION_FORMS,
    CaseFilterForm,
    DispatchForm,
    IntakeForm,
    PublicVisitForm,
    ReportForm,
    add_domain_error,
    dwellings_of,
)
from .machine import TRANSITIONS
from .models import Case, CaseEvent, CasePhoto

PER_PAGE = 20
MAP_LIMIT = 2000

# --- presentation tables -----------------------------------------------------------------
STEP_NAMES = {
    Step.ASK: "受理",
    Step.DISPATCH: "派遣",
    Step.TRANSFER: "转办",
    Step.HANDLE: "办理",
    Step.REVIEW: "审核",
    Step.REPLY: "回访",
}
# The step a case in a status is waiting in.
STEP_OF_STATUS = {
    Status.RECEIVED: Step.DISPATCH,
    Status.DISPATCHED: Step.DISPATCH,
    Status.ACCEPTED: Step.HANDLE,
    Status.IN_PROGRESS: Step.HANDLE,
    Status.SUSPENDED: Step.HANDLE,
    Status.HANDLED: Step.REVIEW,
    Status.REPLIED: Step.REPLY,
}
STATUS_CSS = {
    Status.RECEIVED: "bg-azure-lt",
    Status.DISPATCHED: "bg-orange-lt",
    Status.ACCEPTED: "bg-blue-lt",
    Status.IN_PROGRESS: "bg-blue-lt",
    Status.SUSPENDED: "bg-secondary-lt",
    Status.HANDLED: "bg-purple-lt",
    Status.REPLIED: "bg-teal-lt",
    Status.CLOSED: "bg-green-lt",
    Status.REJECTED: "bg-secondary-lt",
    Status.MERGED: "bg-secondary-lt",
}
LIGHT_CSS = {Light.GREEN: "green", Light.YELLOW: "yellow", Light.RED: "red"}
LIGHT_COLORS = {Light.GREEN: "#2fb344", Light.YELLOW: "#f59f00", Light.RED: "#d63939"}
EVENT_LABELS = {
    **{t.action: t.label for t in TRANSITIONS.values()},
    "receive": "受理",
    "reply": "答复反映人",
    "reopen": "不满意重办",
    "merged_in": "合并重复诉求",
    "overdue_notice": "超时提醒",
    "overdue_upper": "超时报上级督办",
}
# What the resident reads for each public event; notes are shown only where they are
# written for the resident (results, refusals), never staff names or internal reasons.
PUBLIC_LABELS = {
    "receive": "您的诉求已受理",
    "dispatch": "已派给工作人员办理",
    "accept": "工作人员已接单",
    "start": "开始办理",
    "transfer": "已转交其他工作人员办理",
    "escalate": "已提级，由上级协同办理",
    "suspend": "暂缓办理",
    "resume": "恢复办理",
    "handle": "已办理完毕，等待审核",
    "reply": "办理结果已答复",
    "visit": "已评价",
    "reject": "不予受理",
    "merge": "与他人反映的同一问题合并办理",
}
PUBLIC_NOTES = {"reply", "reject", "visit", "suspend"}
# The forward move of each status comes first and is the primary button; the ones that
# send a case back are drawn in red.
FORWARD = ["accept", "start", "handle", "approve", "visit", "dispatch", "resume", "approve_delay"]
BACKWARD = {"return", "send_back", "reject"}
TRIVIAL_NOTES = {"已接单", "开始办理", "恢复办理", "审核通过"}

# Inbox tabs (key, label); the supervisors' tabs only for those who dispatch and review.
TABS = [
    ("accept", "待接单"),
    ("doing", "办理中"),
    ("dispatch", "待派单"),
    ("review", "待审核"),
    ("visit", "待回访"),
    ("all", "全部"),
]
SUPERVISOR_TABS = {"dispatch", "review", "visit"}


def status_css(status: str) -> str:
    return STATUS_CSS.get(Status(status), "bg-secondary-lt")


def decorate(cases: list[Case], clock: WorkClock | None = None) -> list[Case]:
    """Attach the light and badge classes the list templates show."""
    clock = clock or WorkClock()
    now = timezone.now()
    for case in cases:
        light = sla.light_for(case, now, clock)
        case.light_value = light  # type: ignore[attr-defined]
        case.light_label = Light(light).label  # type: ignore[attr-defined]
        case.light_css = LIGHT_CSS[Light(light)]  # type: ignore[attr-defined]
        case.status_css = status_css(case.status)  # type: ignore[attr-defined]
    return cases


def geometry(area: Area | None) -> dict[str, Any] | None:
    if area is None or not area.boundary:
        return None
    shape = area.boundary
    return shape.get("geometry") if shape.get("type") == "Feature" else shape


def grid_features(grids: QuerySet[Area] | list[Area]) -> list[dict[str, Any]]:
    """Grid boundaries for Leaflet; ``full`` names the community too (两个社区都有第1网格)."""
    grids = list(grids)
    community_paths = {a.path.rsplit("/", 3)[0] + "/" for a in grids}
    communities = dict(Area.objects.filter(path__in=community_paths).values_list("path", "name"))
    return [
        {
            "type": "Feature",
            "geometry": g,
            "properties": {
                "name": a.name,
                "full": communities.get(a.path.rsplit("/", 3)[0] + "/", "") + a.name,
                "id": a.pk,
            },
        }
        for a in grids
        if (g := geometry(a)) is not None
    ]


# --- inboxes -------------------------------------------------------------------------------
def tab_querysets(user: Any) -> dict[str, QuerySet[Case]]:
    """What each inbox tab holds for ``user``."""
    visible = Case.objects.visible_to(user)
    supervised = Case.objects.visible_to(user, Perm.SUPERVISE)
    handling = (Status.ACCEPTED, Status.IN_PROGRESS, Status.SUSPENDED)
    return {
        "accept": visible.filter(status=Status.DISPATCHED, handler_user=user),
        "doing": visible.filter(status__in=handling, handler_user=user),
        "dispatch": supervised.filter(status=Status.RECEIVED),
        "review": supervised.filter(status=Status.HANDLED).exclude(handler_user=user),
        "visit": supervised.filter(status=Status.REPLIED),
        "all": visible,
    }


def filtered(queryset: QuerySet[Case], form: CaseFilterForm) -> QuerySet[Case]:
    if not form.is_valid():
        return queryset
    data = form.cleaned_data
    if data["q"]:
        term = data["q"]
        queryset = queryset.filter(
            Q(number__icontains=term) | Q(title__icontains=term) | Q(description__icontains=term)
        )
    if data["status"] == "open":
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif data["status"]:
        queryset = queryset.filter(status=data["status"])
    if data["category"]:
        queryset = queryset.filter(category__code__startswith=data["category"])
    if data["channel"]:
        queryset = queryset.filter(channel=data["channel"])
    if data["level"]:
        queryset = queryset.filter(level=data["level"])
    if data["overdue"]:
        queryset = queryset.filter(status__in=OPEN_STATUSES, stage_due_at__lt=timezone.now())
    return queryset


@page
def case_index(request: HttpRequest) -> HttpResponse:
    """诉求: the role inboxes — to accept, in progress, to dispatch, to review, to visit
    back — and all cases of the scope with filters."""
    user = request.user
    is_supervisor = has_perm_anywhere(user, Perm.SUPERVISE)
    sets = tab_querysets(user)
    tabs = [(k, label) for k, label in TABS if k not in SUPERVISOR_TABS or is_supervisor]
    keys = [k for k, _ in tabs]
    counts = {k: sets[k].count() for k in keys if k != "all"}
    tab = request.GET.get("tab", "")
    if tab not in keys:
        tab = next((k for k in keys if k != "all" and counts.get(k)), "all")
    form = CaseFilterForm(request.GET or None)
    queryset = sets[tab]
    if tab == "all":
        queryset = filtered(queryset, form).order_by("-received_at", "-pk")
    else:
        queryset = queryset.order_by("stage_due_at", "pk")
    queryset = queryset.select_related("category", "grid", "handler_user", "handler_department")
    paginator = Paginator(queryset, PER_PAGE)
    page_obj = paginator.get_page(request.GET.get("page"))
    decorate(list(page_obj.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "tabs": [(k, label, counts.get(k)) for k, label in tabs],
        "tab": tab,
        "cases": page_obj,
        "form": form,
        "query": query.urlencode(),
        "can_intake": has_perm_anywhere(user, Perm.VIEW),
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "case-list":
        return render(request, "cases/partials/case_list.html", context)
    return render(request, "cases/index.html", context)


# --- the case page ---------------------------------------------------------------------------
def stepper(case: Case, events: list[CaseEvent]) -> list[dict[str, Any]]:
    """The six steps with their state: done, current, skipped (never needed, e.g. no
    transfer) or todo."""
    reached = {e.step for e in events}
    current = STEP_OF_STATUS.get(Status(case.status))
    if case.status == Status.DISPATCHED and events:
        last = next((e for e in reversed(events) if e.to_status == Status.DISPATCHED), None)
        if last is not None and last.step == Step.TRANSFER:
            current = Step.TRANSFER
    order = list(Step)
    last_reached = max((order.index(Step(s)) for s in reached if s in Step.values), default=-1)
    steps = []
    for index, step in enumerate(order):
        if step == current and case.is_open:
            state = "current"
        elif step in reached:
            state = "done"
        elif index < last_reached or not case.is_open:
            state = "skipped"
        else:
            state = "todo"
        steps.append({"key": step.value, "label": step.label, "name": STEP_NAMES[step],
                      "state": state})  # fmt: skip
    return steps


def case_map_data(case: Case) -> dict[str, Any]:
    return {
        "grid": {"name": case.grid.name, "geometry": geometry(case.grid)},
        "point": [case.lat, case.lng] if case.lat is not None and case.lng is not None else None,
        "color": LIGHT_COLORS[Light(sla.light_for(case))],
        "label": case.number,
    }


def reporter_contact(case: Case) -> str:
    """The reporter's phone, masked: the case's own, or the registered person's."""
    if case.anonymous:
        return ""
    if case.reporter_phone_masked:
        return case.reporter_phone_masked
    if case.reporter is not None:
        return case.reporter.phone_masked
    return ""


@page
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """诉求详情: header, description, photos, map, reporter (masked), the six-step
    timeline and the buttons of the actions the user may take now."""
    case = services.visible_case(request.user, pk)
    case = (
        Case.objects.select_related(
            "category__parent", "grid", "owner_area", "handler_user", "handler_department",
            "reporter", "dwelling__unit__parent", "merged_into",
        ).get(pk=case.pk)
    )  # fmt: skip
    events = list(case.events.select_related("actor").order_by("at", "pk"))
    for event in events:
        event.label = EVENT_LABELS.get(event.action, event.action)  # type: ignore[attr-defined]
        if event.note in TRIVIAL_NOTES:  # "已接单" under 接单 says nothing new
            event.note = ""
        actor = event.actor
        if actor is not None:
            who = actor.get_full_name() or actor.username
        elif event.action == "visit":
            who = "反映人"  # through the tracking link
        else:
            who = event.actor_name or "系统"
        event.who = who  # type: ignore[attr-defined]
    decorate([case])
    photo_rows = list(case.photos.all())
    actions = sorted(
        services.available_actions(request.user, case),
        key=lambda t: FORWARD.index(t.action) if t.action in FORWARD else len(FORWARD),
    )
    buttons = [
        {
            "action": t.action,
            "label": t.label,
            "css": "btn-primary"
            if i == 0 and t.action in FORWARD
            else ("btn-outline-danger" if t.action in BACKWARD else "btn-outline-primary"),
        }
        for i, t in enumerate(actions)
    ]
    context = {
        "case": case,
        "events": events,
        "steps": stepper(case, events),
        "report_photos": [p for p in photo_rows if p.kind == CasePhoto.Kind.REPORT],
        "result_photos": [p for p in photo_rows if p.kind == CasePhoto.Kind.RESULT],
        "actions": buttons,
        "map_data": case_map_data(case),
        "reporter_contact": reporter_contact(case),
        "duplicates": case.duplicate_of_hint or [],
        "visits": list(case.visits.all()),
    }
    return render(request, "cases/detail.html", context)


def handler_choices(case: Case) -> list[tuple[int, str]]:
    rows = (
        Membership.objects.filter(area=case.owner_area, active=True, user__is_active=True)
        .select_related("user")
        .order_by("role", "user__username")
    )
    seen: dict[int, str] = {}
    for m in rows:
        name = m.user.get_full_name() or m.user.username
        seen.setdefault(m.user_id, f"{name}（{m.get_role_display()}）")
    return list(seen.items())


def action_form(action: str, case: Case, data: Any = None, files: Any = None) -> Any:
    form_class = ACTION_FORMS[action]
    kwargs: dict[str, Any] = {"case": case, "initial": {"version": case.version}}
    if form_class is DispatchForm:
        kwargs["handlers"] = handler_choices(case)
    return form_class(data, files, **kwargs)


@page
def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One action on a case: GET the small form, POST it to ``services.perform``.

    Through htmx the form opens in a dialog and a success reloads the case page; without
    JavaScript it is a page of its own.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise Http404("no such action")
    user = request.user
    case = services.visible_case(user, pk)
    if request.method == "POST":
        form = action_form(action, case, request.POST, request.FILES)
        if form.is_valid():
            try:
                with transaction.atomic():
                    version = form.cleaned_data.get("version")
                    case = services.perform(
                        case.pk, action, actor=user, expected_version=version, **form.params()
                    )
                    attach_photos(case, form.cleaned_data.get("photos"), "result", user)
            except BilingualError as exc:
                add_domain_error(form, exc)
            else:
                return done(request, case, f"已{transition.label}")
        status = 422
    else:
        allowed = {t.action for t in services.available_actions(user, case)}
        if action not in allowed:
            raise PermissionDenied(
                f"当前不能对该诉求执行「{transition.label}」", f"you may not {action} now"
            )
        form = action_form(action, case)
        status = 200
    context = {"case": case, "form": form, "transition": transition, "action": action}
    template = "cases/partials/action_form.html" if is_htmx(request) else "cases/action.html"
    return render(request, template, context, status=status)


def done(request: HttpRequest, case: Case, message: str) -> HttpResponse:
    """After an action: back to the case, or to the inbox once it left the user's scope
    (raised to the level above, transferred away)."""
    messages.success(request, f"{message}：{case.number}")
    if Case.objects.visible_to(request.user).filter(pk=case.pk).exists():
        target = reverse("cases:detail", args=[case.pk])
    else:
        target = reverse("cases:index")
    if is_htmx(request):
        return HttpResponse(status=200, headers={"HX-Redirect": target})
    return redirect(target)


def attach_photos(case: Case, uploads: list[Any] | None, kind: str, actor: Any) -> None:
    """Store uploaded photos through the photo module (type check, EXIF removed)."""
    rel = services.relations(actor, case) if actor is not None else set()
    for upload in uploads or []:
        case_photos.check_may_add(case, kind, rel)
        case_photos.attach(case, case_photos.read_upload(upload), kind=kind, actor=actor)


@page
def case_photo(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    """A photo of a case, for staff who may see the case (media is not public)."""
    case = services.visible_case(request.user, pk)
    photo = CasePhoto.objects.filter(case=case, pk=photo_pk).first()
    if photo is None:
        raise Http404("no such photo")
    return case_photos.response(photo)  # type: ignore[return-value]  # a streaming response


# --- intake ------------------------------------------------------------------------------------
def scope_grids(user: Any) -> QuerySet[Area]:
    return Area.objects.visible_to(user).filter(kind=AreaKind.GRID).order_by("path")


@page
def case_new(request: HttpRequest) -> HttpResponse:
    """新建诉求: a hotline order typed in by staff, or a grid worker's patrol finding."""
    user: Any = request.user
    grids = scope_grids(user)
    if not grids.exists():
        raise PermissionDenied("您的账号没有可登记诉求的网格", "no grid in your scope")
    is_grid_worker = Membership.objects.filter(
        user=user, role=Role.GRID_WORKER, active=True
    ).exists()
    initial: dict[str, Any] = {"channel": "patrol" if is_grid_worker else "hotline"}
    if grids.count() == 1:
        initial["grid"] = grids.first()
    form = IntakeForm(
        request.POST or None, request.FILES or None, user=user, grids=grids, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        dwelling = data["dwelling"]
        lat, lng = data["lat"], data["lng"]
        grid = None
        if dwelling is None and (lat is None or lng is None):
            grid = data["grid"]
            lat, lng = grid.centroid_lat, grid.centroid_lng
        try:
            with transaction.atomic():
                case = services.intake(
                    actor=user,
                    channel=data["channel"],
                    category=data["category"],
                    description=data["description"],
                    priority=data["priority"],
                    lat=lat,
                    lng=lng,
                    dwelling=dwelling,
                    grid=grid,
                    address=data["address"] or (str(dwelling) if dwelling else ""),
                    reporter_name=data["reporter_name"],
                    reporter_phone=data["reporter_phone"],
                    anonymous=data["anonymous"],
                    source_ref=data["source_ref"],
                )
                attach_photos(case, data["photos"], CasePhoto.Kind.REPORT, user)
        except BilingualError as exc:
            add_domain_error(form, exc)
        else:
            return done(request, case, "诉求已受理")
    context = {
        "form": form,
        "features": {"type": "FeatureCollection", "features": grid_features(grids)},
    }
    return render(request, "cases/new.html", context, status=422 if form.errors else 200)


@page
def dwelling_options(request: HttpRequest) -> HttpResponse:
    """The ``<option>``s of the dwellings of one grid (htmx, on choosing the grid)."""
    grid_id = request.GET.get("grid", "")
    grid = scope_grids(request.user).filter(pk=int(grid_id)).first() if grid_id.isdigit() else None
    dwellings = list(dwellings_of(request.user, grid)) if grid is not None else []
    return render(request, "cases/partials/dwelling_options.html", {"dwellings": dwellings})


# --- map and indicators -------------------------------------------------------------------
@page
def case_map(request: HttpRequest) -> HttpResponse:
    """诉求地图: the scope's open cases as points coloured by their light, on the grid
    boundaries."""
    user = request.user
    cases = list(
        Case.objects.visible_to(user)
        .filter(status__in=OPEN_STATUSES, lat__isnull=False, lng__isnull=False)
        .select_related("category")
        .order_by("-received_at")[:MAP_LIMIT]
    )
    clock = WorkClock()
    now = timezone.now()
    points = []
    lights = {k: 0 for k in LIGHT_CSS}
    for c in cases:
        light = Light(sla.light_for(c, now, clock))
        lights[light] += 1
        points.append(
            {
                "id": c.pk,
                "lat": c.lat,
                "lng": c.lng,
                "number": c.number,
                "title": c.title,
                "category": c.category.name,
                "status": c.get_status_display(),
                "light": light.value,
                "color": LIGHT_COLORS[light],
                "url": reverse("cases:detail", args=[c.pk]),
            }
        )
    grids = scope_grids(user)
    context = {
        "map_data": {"grids": grid_features(grids), "cases": points},
        "lights": [(Light(k).label, LIGHT_CSS[Light(k)], v) for k, v in lights.items()],
        "total": len(points),
        "limited": len(points) >= MAP_LIMIT,
    }
    return render(request, "cases/map.html", context)


def month_start(day: dt.date, back: int = 0) -> dt.date:
    month = day.month - 1 - back
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


# The dashboard's tiles: (indicator, label, unit); rates come as shares from indicators.
KPI_TILES = [
    ("received", "受理数", "件"),
    ("dispatch_on_time_rate", "按时派遣率", "%"),
    ("close_on_time_rate", "按期办结率", "%"),
    ("close_rate", "结案率", "%"),
    ("satisfaction_rate", "满意率", "%"),
    ("visit_rate", "回访率", "%"),
    ("first_time_rate", "首次办结率", "%"),
    ("rework_rate", "返工率", "%"),
    ("duplicate_rate", "重复诉求率", "%"),
    ("avg_handling_hours", "平均办理时长", "工作小时"),
    ("in_grid_rate", "不出格率", "%"),
    ("in_network_rate", "不出网率", "%"),
]


def ranking_rows(rows: list[Any], parents: bool = False) -> list[dict[str, Any]]:
    """Ranking rows for the template; with ``parents`` each grid names its community
    (both communities have a 第1网格)."""
    names: dict[str, str] = {}
    if parents:
        paths = {r.key.rsplit("/", 3)[0] + "/" for r in rows}
        names = dict(Area.objects.filter(path__in=paths).values_list("path", "name"))
    return [
        {
            "rank": r.extra.get("rank"),
            "name": r.label,
            "parent": names.get(r.key.rsplit("/", 3)[0] + "/", "") if parents else "",
            "received": r.received,
            "close_rate": percent(r.close_rate),
            "on_time_rate": percent(r.close_on_time_rate),
            "satisfaction_rate": percent(r.satisfaction_rate),
            "score": round(r.score, 1) if r.received else None,
        }
        for r in rows
    ]


def dashboard(user: Any, months: int = 12) -> dict[str, Any]:
    """The indicator dashboard of the user's scope over the last ``months`` months,
    computed by :mod:`jiayuan.cases.indicators` (cases counted by month of receipt)."""
    from . import indicators as ind

    today = timezone.localdate()
    first = month_start(today, months - 1)
    total = ind.summary(user, start=first)
    per_month = {row.key: row for row in ind.by_month(user, start=first)}
    labels = [month_start(today, back) for back in range(months - 1, -1, -1)]
    satisfaction = [
        {"name": Satisfaction(r["satisfaction"]).label, "value": r["n"], "key": r["satisfaction"]}
        for r in ind.cases_for(user, start=first)
        .exclude(satisfaction="")
        .values("satisfaction")
        .annotate(n=Count("pk"))
        .order_by("satisfaction")
    ]
    kpis = []
    for key, label, unit in KPI_TILES:
        value = getattr(total, key)
        if unit == "%":
            value = percent(value)
        elif isinstance(value, float):
            value = round(value, 1)
        kpis.append((label, value, unit))
    communities = ind.ranking(user, kind=AreaKind.COMMUNITY, start=first)
    changes = ind.month_over_month(user, today)
    return {
        "kpis": kpis,
        "chart": {
            "months": [f"{m.year}年1月" if m.month == 1 else f"{m.month}月" for m in labels],
            "received": [per_month[m].received if m in per_month else 0 for m in labels],
            "closed": [per_month[m].closed if m in per_month else 0 for m in labels],
            "satisfaction": satisfaction,
        },
        "grids": ranking_rows(ind.ranking(user, kind=AreaKind.GRID, start=first), parents=True),
        "communities": ranking_rows(communities) if len(communities) > 1 else [],
        "categories": [
            {
                "name": c.name,
                "now": c.current,
                "before": c.previous,
                "change": percent(c.change),
                "sentence": c.sentence,
            }
            for c in sorted(changes, key=lambda c: -(c.current + c.previous))
        ],
        "this_month": month_start(today),
        "last_month": month_start(today, 1),
        "since": first,
        "export_url": reverse("cases:indicators_export"),
    }


@page
def indicators(request: HttpRequest) -> HttpResponse:
    """指标: the indicators of the issue (受理数 … 不出网率), monthly received and closed,
    satisfaction, grid and community rankings and the change by category (ECharts)."""
    return render(request, "cases/indicators.html", dashboard(request.user))


@page
def indicators_export(request: HttpRequest) -> HttpResponse:
    """The indicator tables as an Excel workbook (audited by the indicators module)."""
    from . import indicators as ind

    first = month_start(timezone.localdate(), 11)
    data = ind.export_xlsx(request.user, start=first)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    name = f"indicators-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- the resident's pages (no login) ------------------------------------------------------
def public_not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/public/not_found.html", status=404)


def all_grid_features() -> dict[str, Any]:
    grids = (
        Area.objects.filter(kind=AreaKind.GRID).only("name", "path", "boundary").order_by("path")
    )
    return {"type": "FeatureCollection", "features": grid_features(grids)}


def report(request: HttpRequest) -> HttpResponse:
    """随手拍: a resident reports a problem with photos and a point on the map, and gets
    the tracking link."""
    form = ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                case = services.intake(
                    actor=None,
                    channel="snapshot",
                    category=data["category"],
                    description=data["description"],
                    lat=data["lat"],
                    lng=data["lng"],
                    address=data["address"],
                    reporter_name=data["reporter_name"],
                    reporter_phone=data["reporter_phone"],
                    anonymous=data["anonymous"],
                )
                attach_photos(case, data["photos"], CasePhoto.Kind.REPORT, None)
        except BilingualError as exc:
            add_domain_error(form, exc)
        else:
            return redirect("cases:track", case.tracking_token)
    context = {"form": form, "features": all_grid_features(), "leaflet": True}
    return render(request, "cases/public/report.html", context, status=422 if form.errors else 200)


def tracked_case(token: str) -> Case | None:
    if not token or len(token) > 40:
        return None
    return Case.objects.select_related("category").filter(tracking_token=token).first()


def track_context(case: Case, visit_form: PublicVisitForm | None = None) -> dict[str, Any]:
    events = list(case.events.filter(public=True).order_by("at", "pk"))
    rows = [
        {
            "at": e.at,
            "step": Step(e.step).label if e.step in Step.values else "",
            "label": PUBLIC_LABELS.get(e.action, EVENT_LABELS.get(e.action, "办理进展")),
            "note": e.note if e.action in PUBLIC_NOTES else "",
        }
        for e in events
    ]
    can_visit = case.status == Status.REPLIED
    return {
        "case": case,
        "events": rows,
        # Which steps were reached is no secret, though most of their events are.
        "steps": stepper(case, list(case.events.only("step", "to_status").order_by("at", "pk"))),
        "result_photos": list(case.photos.filter(kind=CasePhoto.Kind.RESULT)),
        "can_visit": can_visit,
        "visit_form": visit_form or (PublicVisitForm() if can_visit else None),
        "status_css": status_css(case.status),
        "show_result": case.status in (Status.REPLIED, Status.CLOSED),
    }


@never_cache
def track(request: HttpRequest, token: str) -> HttpResponse:
    """The resident's tracking page: status, the public timeline, the result and, once
    answered, the satisfaction form. The secret token is the only key."""
    case = tracked_case(token)
    if case is None:
        return public_not_found(request)
    return render(request, "cases/public/track.html", track_context(case))


@require_POST
def track_visit(request: HttpRequest, token: str) -> HttpResponse:
    """The resident's verdict (回访) through the tracking link."""
    case = tracked_case(token)
    if case is None:
        return public_not_found(request)
    form = PublicVisitForm(request.POST)
    if form.is_valid():
        try:
            services.visit_by_token(
                token, form.cleaned_data["satisfaction"], form.cleaned_data["comment"]
            )
        except BilingualError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "感谢您的评价！")
            return redirect("cases:track", token)
    case.refresh_from_db()
    return render(request, "cases/public/track.html", track_context(case, form), status=422)


def track_photo(request: HttpRequest, token: str, photo_pk: int) -> HttpResponse:
    """A result photo of the tracked case (the resident sees results, nothing else)."""
    case = tracked_case(token)
    photo = (
        CasePhoto.objects.filter(case=case, pk=photo_pk, kind=CasePhoto.Kind.RESULT).first()
        if case is not None
        else None
    )
    if photo is None:
        return public_not_found(request)
    return case_photos.response(photo)  # type: ignore[return-value]  # a streaming response
