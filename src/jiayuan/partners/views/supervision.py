"""Pages of 监管: inspections with their findings and photos, the findings list with
deadlines in words, rectification, and the supervision groups (监督团).

Views are thin: read the form, call one action of :mod:`jiayuan.partners.supervision`,
render. A refusal comes back on the page in Chinese; a row outside the user's scope is
a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, path_allowed, scope_q
from jiayuan.core.views import page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from .. import supervision as svc
from ..choices import Severity
from ..models import Project

PER_PAGE = 30
CHOICE_LIMIT = 500
FINDING_ROWS = 3  # finding lines on the inspection form
SEVERITY_CSS: dict[str, str] = {
    Severity.MINOR: "bg-yellow-lt",
    Severity.MAJOR: "bg-orange-lt",
    Severity.SEVERE: "bg-red-lt",
}


def as_id(value: Any) -> int | None:
    """A form's id field as an int (``None`` if empty or not a valid row id)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= svc.MAX_ID else None


def as_date(value: Any) -> dt.date | None:
    try:
        return parse_date(str(value or "").strip())
    except ValueError:
        return None


def as_datetime(value: Any) -> dt.datetime | None:
    try:
        parsed = parse_datetime(str(value or "").strip())
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def decorate_findings(findings: list[Any]) -> list[Any]:
    today = timezone.localdate()
    for f in findings:
        f.overdue = svc.is_overdue(f, today)
        f.deadline_words = svc.deadline_words(f, today)
        f.severity_css = SEVERITY_CSS.get(f.severity, "")
    return findings


# --- inspections --------------------------------------------------------------------------
@page
def inspection_index(request: HttpRequest) -> HttpResponse:
    """监管检查: the inspections the user may see, newest first, with their findings'
    counts; the overdue findings' count; the way to record a new one."""
    user: Any = request.user
    qs = svc.inspections_visible_to(user).prefetch_related("findings")
    project_id = as_id(request.GET.get("project"))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    page_obj = Paginator(qs.order_by("-inspected_at", "-pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    for row in page_obj:
        found = list(row.findings.all())
        row.finding_count = len(found)  # type: ignore[attr-defined]
        row.open_count = sum(1 for f in found if f.rectified_at is None)  # type: ignore[attr-defined]
    overdue = (
        svc.findings_visible_to(user)
        .filter(rectified_at__isnull=True, rectify_by__lt=timezone.localdate())
        .count()
    )
    context = {
        "inspections": page_obj,
        "overdue": overdue,
        "project_id": project_id,
        "may_inspect": svc.inspectable_projects(user).exists(),
        "may_manage_groups": has_perm_anywhere(user, Perm.SUPERVISE),
    }
    return render(request, "partners/supervision/index.html", context)


def _inspection_form_context(user: Any, data: Any, error: str = "") -> dict[str, Any]:
    projects = list(svc.inspectable_projects(user).values_list("pk", "name")[:CHOICE_LIMIT])
    chosen = as_id(data.get("project"))
    groups = list(
        svc.groups_visible_to(user)
        .filter(projects__in=[chosen] if chosen else [])
        .values_list("pk", "name")[:CHOICE_LIMIT]
    )
    rows = []
    for i in range(FINDING_ROWS):
        rows.append(
            {
                "i": i,
                "text": data.get(f"finding-{i}-text", ""),
                "severity": data.get(f"finding-{i}-severity", Severity.MINOR),
                "rectify_by": data.get(f"finding-{i}-rectify_by", ""),
            }
        )
    return {
        "projects": projects,
        "groups": groups,
        "chosen": chosen,
        "data": data,
        "rows": rows,
        "severities": Severity.choices,
        "error": error,
        "now": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "default_deadline": (timezone.localdate() + dt.timedelta(days=7)).isoformat(),
    }


@page
def inspection_new(request: HttpRequest) -> HttpResponse:
    """记录监管检查: the project, the group, what was seen, and up to three findings each
    with its severity, deadline and photo."""
    user: Any = request.user
    data = request.POST if request.method == "POST" else request.GET
    if request.method == "POST":
        findings = []
        for i in range(FINDING_ROWS):
            text = (data.get(f"finding-{i}-text") or "").strip()
            photo = request.FILES.get(f"finding-{i}-photo")
            if not text and photo is None:
                continue
            deadline = as_date(data.get(f"finding-{i}-rectify_by"))
            findings.append(
                svc.FindingIn(
                    text=text,
                    severity=data.get(f"finding-{i}-severity") or "",
                    rectify_by=deadline,  # type: ignore[arg-type]  # checked by the action
                    photo=photo,
                )
            )
        try:
            project_id = as_id(data.get("project"))
            if project_id is None:
                raise BilingualError("请选择项目", "choose a project")
            inspection = svc.record_inspection(
                user,
                project_id,
                summary=data.get("summary", ""),
                inspected_at=as_datetime(data.get("inspected_at")),
                group_id=as_id(data.get("group")),
                findings=findings,
            )
        except BilingualError as exc:
            context = _inspection_form_context(user, data, exc.zh)
            return render(request, "partners/supervision/inspection_new.html", context, status=422)
        messages.success(request, "已记录监管检查。")
        return redirect("partners:inspection", pk=inspection.pk)
    return render(
        request, "partners/supervision/inspection_new.html", _inspection_form_context(user, data)
    )


@page
def inspection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One inspection: what was seen, its findings with deadlines and rectification."""
    user: Any = request.user
    inspection = (
        svc.inspections_visible_to(user)
        .prefetch_related("findings")
        .filter(pk=min(pk, svc.MAX_ID))
        .first()
    )
    if inspection is None:
        raise NotFound()
    findings = decorate_findings(list(inspection.findings.all()))
    context = {
        "inspection": inspection,
        "findings": findings,
        "may_inspect": svc.may_inspect(user, inspection.project),
    }
    return render(request, "partners/supervision/inspection.html", context)


# --- findings -----------------------------------------------------------------------------
FINDING_TABS = [("open", "未整改"), ("overdue", "逾期未整改"), ("done", "已整改"), ("all", "全部")]


@page
def finding_index(request: HttpRequest) -> HttpResponse:
    """整改跟踪: findings with their deadlines in words (逾期N天未整改, 还剩N天 …)."""
    user: Any = request.user
    tab = request.GET.get("tab") or "open"
    if tab not in dict(FINDING_TABS):
        tab = "open"
    qs = svc.findings_visible_to(user)
    today = timezone.localdate()
    if tab == "open":
        qs = qs.filter(rectified_at__isnull=True)
    elif tab == "overdue":
        qs = qs.filter(rectified_at__isnull=True, rectify_by__lt=today)
    elif tab == "done":
        qs = qs.filter(rectified_at__isnull=False)
    project_id = as_id(request.GET.get("project"))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    page_obj = Paginator(qs.order_by("rectify_by", "pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    decorate_findings(list(page_obj))
    for f in page_obj:
        f.may_rectify = f.rectified_at is None and svc.may_inspect(user, f.project)  # type: ignore[attr-defined]
    context = {"findings": page_obj, "tab": tab, "tabs": FINDING_TABS, "project_id": project_id}
    return render(request, "partners/supervision/findings.html", context)


@require_POST
@page
def finding_rectify(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a finding's rectification from the findings list or an inspection page."""
    user: Any = request.user
    finding = svc.get_finding(user, pk)
    try:
        svc.rectify(
            user,
            finding.pk,
            text=request.POST.get("text", ""),
            rectified_at=as_datetime(request.POST.get("rectified_at")),
        )
    except NotFound:
        raise
    except BilingualError as exc:
        messages.error(request, f"未能记录整改：{exc.zh}")
    else:
        messages.success(request, "已记录整改情况。")
    back = request.POST.get("next") or ""
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect("partners:findings")


@page
def finding_photo(request: HttpRequest, pk: int) -> HttpResponse:
    return svc.photo_response(request.user, pk)  # type: ignore[return-value]  # streamed


@require_POST
@page
def finding_photo_new(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    finding = svc.get_finding(user, pk)
    try:
        svc.attach_photo(user, finding.pk, request.FILES.get("photo"))
    except NotFound:
        raise
    except BilingualError as exc:
        messages.error(request, exc.zh)
    else:
        messages.success(request, "已上传照片。")
    if finding.inspection_id:
        return redirect("partners:inspection", pk=finding.inspection_id)
    return redirect("partners:findings")


# --- supervision groups -------------------------------------------------------------------
def _group_areas(user: Any) -> list[tuple[int, str]]:
    rows = (
        Area.objects.filter(
            scope_q(user, Perm.SUPERVISE, field="path"),
            kind__in=[AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.ZONE],
        )
        .order_by("path")
        .values_list("pk", "name")[:CHOICE_LIMIT]
    )
    return list(rows)


def _candidates(area_path: str, keep: list[int]) -> list[tuple[int, str]]:
    """People who may sit on a group of the area: residents of it with an account
    (cadres, grid workers, 三长 and registered residents), and the current members."""
    from django.db.models import Q

    rows = (
        Person.objects.filter(area_path__startswith=area_path, death_date__isnull=True)
        .filter(Q(user__isnull=False) | Q(pk__in=keep))
        .order_by("name", "pk")
        .values_list("pk", "name")[:CHOICE_LIMIT]
    )
    return list(rows)


@page
def group_index(request: HttpRequest) -> HttpResponse:
    """监督团: the groups in the user's scope with their members and projects; a form to
    form one (SUPERVISE)."""
    user: Any = request.user
    groups = list(
        svc.groups_visible_to(user)
        .prefetch_related("members", "projects")
        .order_by("area_path", "name", "pk")[:CHOICE_LIMIT]
    )
    context = {"groups": groups, "areas": _group_areas(user), "error": ""}
    return render(request, "partners/supervision/groups.html", context)


@require_POST
@page
def group_new(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    try:
        area_id = as_id(request.POST.get("area"))
        if area_id is None:
            raise BilingualError("请选择区域", "choose an area")
        group = svc.create_group(user, area_id=area_id, name=request.POST.get("name", ""))
    except BilingualError as exc:
        messages.error(request, exc.zh)
        return redirect("partners:groups")
    messages.success(request, f"已成立“{group.name}”，请选择成员和监督的项目。")
    return redirect("partners:group", pk=group.pk)


@page
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One group: its members and projects, editable by SUPERVISE holders."""
    user: Any = request.user
    group = svc.get_group(user, pk, detail=True)
    may_manage = path_allowed(user, group.area_path, Perm.SUPERVISE)
    error = ""
    if request.method == "POST":
        try:
            svc.update_group(
                user,
                group.pk,
                name=request.POST.get("name", group.name),
                member_ids=[i for i in map(as_id, request.POST.getlist("members")) if i],
                project_ids=[i for i in map(as_id, request.POST.getlist("projects")) if i],
            )
        except NotFound:
            raise
        except BilingualError as exc:
            error = exc.zh
        else:
            messages.success(request, "已保存监督团。")
            return redirect("partners:group", pk=group.pk)
    members = [p.pk for p in group.members.all()]
    projects = [p.pk for p in group.projects.all()]
    context = {
        "group": group,
        "may_manage": may_manage,
        "error": error,
        "member_ids": members,
        "project_ids": projects,
        "candidates": _candidates(group.area_path, members) if may_manage else [],
        "project_choices": list(
            Project.objects.filter(area_path__startswith=group.area_path)
            .order_by("name", "pk")
            .values_list("pk", "name")[:CHOICE_LIMIT]
        )
        if may_manage
        else [],
    }
    return render(request, "partners/supervision/group.html", context, status=422 if error else 200)
