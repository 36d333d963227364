"""Pages of partner projects: the list by stage, a project with its five-stage stepper,
documents, missing items, decision history and a form for each step; the open calls
with their scoring tables; the agreements.

Views are thin: parse a form, call one action of :mod:`jiayuan.partners`, redirect or
re-render with the refusal on the form. Every read starts from the user's scope; a
project, call or agreement outside it is a 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jiayuan.community.models import Room, ServicePosition
from jiayuan.core.errors import BilingualError, NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_q
from jiayuan.core.views import page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.org.paths import paths_above

from .. import agreements, calls, documents, projects, stages
from ..choices import STAGE_ORDER, CallStatus, PartnerStatus, ProjectStatus, Stage
from ..models import Call, Document, Partner
from .projects_forms import (
    ApplicationForm,
    CallForm,
    DecisionForm,
    DocumentForm,
    ProjectForm,
    PublishForm,
    SelectionForm,
    TermsForm,
    add_error,
    panel_candidates,
)

PER_PAGE = 30


# --- the list ------------------------------------------------------------------------------
@page
def project_index(request: HttpRequest) -> HttpResponse:
    """合伙项目: the projects in scope, by stage (a stepper with the count of each)."""
    user: Any = request.user
    stage = request.GET.get("stage", "")
    status = request.GET.get("status", "")
    q = (request.GET.get("q") or "").strip()[:50]
    visible = projects.visible_projects(user)
    counts = dict(
        visible.filter(status=ProjectStatus.OPEN)
        .order_by()
        .values_list("stage")
        .annotate(n=Count("pk"))
    )
    steps = [
        {"stage": s, "label": Stage(s).label, "n": counts.get(s, 0), "active": s == stage}
        for s in STAGE_ORDER
    ]
    rows = projects.filter_projects(projects.with_related(visible), stage=stage, status=status, q=q)
    page_obj = Paginator(rows.order_by("area_path", "name", "pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "projects": page_obj,
        "steps": steps,
        "stage": stage,
        "status": status,
        "q": q,
        "statuses": ProjectStatus.choices,
        "stage_index": {s: i for i, s in enumerate(STAGE_ORDER)},
        "may_propose": _proposal_areas(user) != [],
    }
    return render(request, "partners/projects/index.html", context)


# --- proposing -----------------------------------------------------------------------------
def _proposal_areas(user: Any) -> list[Area]:
    qs = Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("path")
    serve, supervise = scope_q(user, Perm.SERVE, "path"), scope_q(user, Perm.SUPERVISE, "path")
    return list(qs.filter(serve | supervise)[:200])


def _project_form(user: Any, data: Any = None, initial: Any = None) -> ProjectForm:
    areas = _proposal_areas(user)
    paths = [a.path for a in areas]
    in_areas = Q(pk__in=[])
    for p in paths:
        in_areas |= Q(area_path__startswith=p)
    spaces: list[tuple[str, str]] = []
    for pos in ServicePosition.objects.filter(in_areas, active=True).order_by("area_path", "name")[
        :300
    ]:
        spaces.append((f"position:{pos.pk}", pos.name))
    for room in (
        Room.objects.filter(in_areas).select_related("position").order_by("area_path", "name")[:300]
    ):
        spaces.append((f"room:{room.pk}", f"{room.position.name} · {room.name}"))
    funds = [
        (str(f.pk), f"{f.year} {f.name}（{f.amount} 元）") for f in projects.funds_for(user)[:100]
    ]
    return ProjectForm(data, initial=initial, areas=areas, spaces=spaces, funds=funds)


@page
def project_new(request: HttpRequest) -> HttpResponse:
    """立项申报: propose a project in one of the user's communities."""
    user: Any = request.user
    form = _project_form(user, request.POST or None, {"price_class": "low_cost"})
    if request.method == "POST" and form.is_valid():
        try:
            project = projects.propose(user, form.project_input())
        except BilingualError as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"已申报项目“{project.name}”，请上传项目申报书。")
            return redirect("partners:project", project.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "partners/projects/form.html", {"form": form}, status=status)


@page
def project_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a proposal before its 立项 is decided."""
    user: Any = request.user
    project = projects.get_project(user, pk)
    space = f"room:{project.room_id}" if project.room_id else f"position:{project.position_id}"
    hours = project.hours or {}
    first = next(iter(hours.values()), [["", ""]])[0] if hours else ["", ""]
    initial = {
        "name": project.name,
        "content": project.content,
        "area": str(project.area_id),
        "space": space,
        "days": list(hours),
        "start": first[0],
        "end": first[1],
        "price_class": project.price_class,
        "price_cap": project.price_cap or "",
        "target_groups": project.target_groups,
        "budget": project.budget,
        "fund": str(project.fund_id or ""),
    }
    form = _project_form(user, request.POST or None, initial)
    if request.method == "POST" and form.is_valid():
        try:
            projects.edit(user, project.pk, form.project_input())
        except BilingualError as exc:
            add_error(form, exc)
        else:
            messages.success(request, "已保存。")
            return redirect("partners:project", project.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "partners/projects/form.html", {"form": form, "project": project}, status=status
    )


# --- a project -----------------------------------------------------------------------------
def _project_page(
    request: HttpRequest, pk: int, forms: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    user: Any = request.user
    qs = projects.with_history(projects.visible_projects(user))
    project = qs.filter(pk=projects.check_id(pk)).first()
    if project is None:
        raise NotFound()
    live = project.status == ProjectStatus.OPEN
    may_act = live and projects.may_propose(user, project.area_path)
    may_decide = live and stages.may_decide(user, project)
    docs = list(project.documents.all())
    by_stage = [
        {"stage": s, "label": Stage(s).label, "documents": [d for d in docs if d.stage == s]}
        for s in STAGE_ORDER
    ]
    call_list = list(project.calls.all())
    agreement_list = list(project.agreements.all())
    running_call = any(c.status != CallStatus.PUBLISHED for c in call_list)
    forms = forms or {}
    context = {
        "project": project,
        "space": projects.space_label(project),
        "steps": stages.stepper(project),
        "missing": stages.missing(project, project.stage) if live else [],
        "decision_name": stages.DECISION_NAMES[project.stage],
        "by_stage": by_stage,
        "decisions": list(project.decisions.all()),
        "calls": call_list,
        "agreements": agreement_list,
        "may_act": may_act,
        "may_decide": may_decide,
        "may_edit": may_act and project.stage == Stage.PROPOSAL,
        "may_open_call": may_act and project.stage == Stage.CALL and not running_call,
        "may_draft": may_act
        and project.partner_id is not None
        and (
            (
                project.stage == Stage.AGREEMENT
                and not any(a.status in agreements.LIVE for a in agreement_list)
            )
            or agreements.may_renew(project)
        ),
        "operating": stages.index(project.stage) >= stages.index(Stage.SUPERVISION),
        "decision_form": forms.get("decision") or DecisionForm(),
        "document_form": forms.get("document")
        or DocumentForm(stage=project.stage, operating=stages.in_operation(project)),
        "call_form": forms.get("call")
        or CallForm(
            candidates=panel_candidates(project.area_path),
            initial={
                "label_1": "服务方案",
                "weight_1": 40,
                "label_2": "价格",
                "weight_2": 30,
                "label_3": "服务口碑与资质",
                "weight_3": 30,
                "title": f"{project.name}公开招募",
            },
        ),
        "terms_form": forms.get("terms")
        or TermsForm(
            initial={
                "starts_on": timezone.localdate(),
                "price_cap": project.price_cap or "",
                "warning_threshold": settings.PARTNERS_WARNING_THRESHOLD,
                "dismissal_threshold": settings.PARTNERS_DISMISSAL_THRESHOLD,
            }
        ),
    }
    return render(request, "partners/projects/detail.html", context, status=status)


@page
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A project: the five-stage stepper, what the stage lacks, documents by stage,
    decisions, calls, agreements, and the form of each next step."""
    return _project_page(request, pk)


@require_POST
@page
def project_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """The committee decides the project's current stage."""
    user: Any = request.user
    project = projects.get_project(user, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _project_page(request, pk, {"decision": form}, status=422)
    try:
        stages.decide(
            project,
            project.stage,
            form.cleaned_data["decision"],
            form.cleaned_data["reasons"],
            user,
        )
    except BilingualError as exc:
        add_error(form, exc)
        return _project_page(request, pk, {"decision": form}, status=exc.status)
    messages.success(request, "已记录决定。")
    return redirect("partners:project", project.pk)


@require_POST
@page
def project_document_new(request: HttpRequest, pk: int) -> HttpResponse:
    """File a document under the project's current stage."""
    user: Any = request.user
    project = projects.get_project(user, pk)
    form = DocumentForm(
        request.POST, request.FILES, stage=project.stage, operating=stages.in_operation(project)
    )
    if not form.is_valid():
        return _project_page(request, pk, {"document": form}, status=422)
    try:
        projects.add_document(
            user,
            project.pk,
            form.cleaned_data["file"],
            kind=form.cleaned_data["kind"],
            title=form.cleaned_data["title"],
        )
    except BilingualError as exc:
        add_error(form, exc)
        return _project_page(request, pk, {"document": form}, status=exc.status)
    messages.success(request, "已上传文件。")
    return redirect("partners:project", project.pk)


@page
def project_document_open(request: HttpRequest, pk: int, document_pk: int) -> HttpResponse:
    """Download a project's document (scope checked)."""
    user: Any = request.user
    project = projects.get_project(user, pk)
    document = Document.objects.filter(project=project, pk=projects.check_id(document_pk)).first()
    if document is None:
        raise NotFound()
    return documents.response(user, document)  # type: ignore[return-value]


@require_POST
@page
def project_call_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Open the project's call (发布公开招募)."""
    user: Any = request.user
    project = projects.get_project(user, pk)
    form = CallForm(request.POST, candidates=panel_candidates(project.area_path))
    if not form.is_valid():
        return _project_page(request, pk, {"call": form}, status=422)
    data = form.cleaned_data
    try:
        call = calls.open_call(
            user,
            project.pk,
            title=data["title"],
            text=data["text"],
            criteria=form.criteria(),
            closes_at=data["closes_at"],
            panel=list(data["panel"]),
        )
    except BilingualError as exc:
        add_error(form, exc)
        return _project_page(request, pk, {"call": form}, status=exc.status)
    messages.success(request, "已发布公开招募。")
    return redirect("partners:call", call.pk)


@require_POST
@page
def project_agreement_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Draft the agreement (or its renewal) with the selected partner."""
    user: Any = request.user
    project = projects.get_project(user, pk)
    form = TermsForm(request.POST)
    if not form.is_valid():
        return _project_page(request, pk, {"terms": form}, status=422)
    try:
        agreement = agreements.draft(user, project.pk, agreements.Terms(**form.cleaned_data))
    except BilingualError as exc:
        add_error(form, exc)
        return _project_page(request, pk, {"terms": form}, status=exc.status)
    messages.success(request, "已拟定协议，请上传双方签字盖章的协议文件后签订。")
    return redirect("partners:agreement", agreement.pk)


# --- calls ---------------------------------------------------------------------------------
@page
def call_index(request: HttpRequest) -> HttpResponse:
    """公开招募: the calls in scope, newest first, with their number of applications."""
    user: Any = request.user
    rows = (
        calls.visible_calls(user)
        .select_related("project")
        .annotate(n=Count("applications", filter=Q(applications__withdrawn=False)))
        .order_by("-opens_at", "pk")
    )
    page_obj = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "partners/projects/calls.html", {"calls": page_obj, "now": timezone.now()}
    )


def _applicants(user: Any, call: Call) -> list[Partner]:
    """Partners in good standing who may still apply: registered in the user's scope or
    above the project (a street's partners)."""
    above = paths_above(call.area_path)
    return list(
        Partner.objects.filter(Q(area_path__in=above) | Q(pk__in=Partner.objects.visible_to(user)))
        .filter(status__in=[PartnerStatus.ACTIVE, PartnerStatus.WARNED])
        .exclude(applications__call=call)
        .order_by("name")[:300]
    )


def _call_page(
    request: HttpRequest, pk: int, forms: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    user: Any = request.user
    call = calls.get_call(user, pk)
    project = call.project
    panel = calls.panel_of(call)
    ranked = calls.ranking(call)
    keys = [c["key"] for c in call.criteria]
    # the panel, and anyone else whose scores are on record (a panel changed since)
    scored = {rid for row in ranked for rid in row.scores} - {m.pk for m in panel}
    reviewers = panel + list(get_user_model().objects.filter(pk__in=scored).order_by("pk"))
    for row in ranked:
        row.reviews = [  # type: ignore[attr-defined]
            {"reviewer": m, "scores": [row.scores.get(m.pk, {}).get(k) for k in keys]}
            for m in reviewers
        ]
        row.mean_list = [calls.shown(row.means[k]) for k in keys]  # type: ignore[attr-defined]
    live = project.status == ProjectStatus.OPEN and project.stage == Stage.CALL
    may_act = live and projects.may_propose(user, project.area_path)
    is_panel = live and any(m.pk == user.pk for m in panel) and calls.scoring_open(call)
    partners = _applicants(user, call) if may_act else []
    forms = forms or {}
    context = {
        "call": call,
        "project": project,
        "panel": panel,
        "ranked": ranked,
        "criteria": call.criteria,
        "complete": calls.scoring_complete(call, ranked, panel),
        "accepts": calls.accepts_applications(call),
        "scoring_open": calls.scoring_open(call),
        "may_act": may_act,
        "is_panel": is_panel,
        "may_select": live
        and path_allowed(user, call.area_path, Perm.SUPERVISE)
        and call.status != CallStatus.PUBLISHED,
        "selected": next((r for r in ranked if r.application.pk == call.selected_id), None),
        "apply_form": forms.get("apply") or ApplicationForm(partners=partners),
        "select_form": forms.get("select") or SelectionForm(ranked=ranked),
        "publish_form": forms.get("publish") or PublishForm(),
        "score_error": forms.get("score_error", ""),
    }
    return render(request, "partners/projects/call.html", context, status=status)


@page
def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A call: applications, the scoring table (each reviewer's scores, the means, the
    weighted totals and the ranking), the selection and the published result."""
    return _call_page(request, pk)


def _call_action(request: HttpRequest, pk: int, name: str, form: Any, action: Any) -> HttpResponse:
    try:
        action()
    except BilingualError as exc:
        if form is not None:
            add_error(form, exc)
            return _call_page(request, pk, {name: form}, status=exc.status)
        return _call_page(request, pk, {"score_error": exc.zh}, status=exc.status)
    return redirect("partners:call", pk)


@require_POST
@page
def call_apply(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    call = calls.get_call(user, pk)
    form = ApplicationForm(request.POST, partners=_applicants(user, call))
    if not form.is_valid():
        return _call_page(request, pk, {"apply": form}, status=422)
    data = form.cleaned_data
    return _call_action(
        request,
        call.pk,
        "apply",
        form,
        lambda: calls.apply(
            user,
            call.pk,
            partner_id=data["partner"],
            plan=data["plan"],
            offered_price=data["offered_price"],
        ),
    )


@require_POST
@page
def call_close(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    call = calls.get_call(user, pk)
    return _call_action(request, call.pk, "", None, lambda: calls.close(user, call.pk))


@require_POST
@page
def call_score(request: HttpRequest, pk: int, application_pk: int) -> HttpResponse:
    """A panel member's scores of one application (one field per criterion)."""
    user: Any = request.user
    call = calls.get_call(user, pk)
    if not call.applications.filter(pk=projects.check_id(application_pk)).exists():
        raise NotFound()
    scores = {c["key"]: request.POST.get(f"score_{c['key']}", "") or None for c in call.criteria}
    return _call_action(
        request, call.pk, "", None, lambda: calls.score(user, application_pk, scores)
    )


@require_POST
@page
def call_select(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    call = calls.get_call(user, pk)
    form = SelectionForm(request.POST, ranked=calls.ranking(call))
    if not form.is_valid():
        return _call_page(request, pk, {"select": form}, status=422)
    data = form.cleaned_data
    return _call_action(
        request,
        call.pk,
        "select",
        form,
        lambda: calls.select(
            user, call.pk, application_id=data["application"] or None, reasons=data["reasons"]
        ),
    )


@require_POST
@page
def call_publish(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    call = calls.get_call(user, pk)
    form = PublishForm(request.POST, request.FILES)
    if not form.is_valid():
        return _call_page(request, pk, {"publish": form}, status=422)
    data = form.cleaned_data
    return _call_action(
        request,
        call.pk,
        "publish",
        form,
        lambda: calls.publish(user, call.pk, data["file"], title=data["title"]),
    )


# --- agreements ----------------------------------------------------------------------------
def _agreement_page(
    request: HttpRequest, pk: int, error: str = "", status: int = 200
) -> HttpResponse:
    user: Any = request.user
    agreement = agreements.get_agreement(user, pk)
    context = {
        "agreement": agreement,
        "project": agreement.project,
        "signed_copy": agreements.signed_copy(agreement),
        "may_sign": agreement.status == "draft"
        and path_allowed(user, agreement.area_path, Perm.SUPERVISE),
        "error": error,
    }
    return render(request, "partners/projects/agreement.html", context, status=status)


@page
def agreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An agreement: its terms, status, signed copy and the sign button."""
    return _agreement_page(request, pk)


@require_POST
@page
def agreement_sign(request: HttpRequest, pk: int) -> HttpResponse:
    """The committee signs a draft once its signed copy is filed."""
    user: Any = request.user
    agreement = agreements.get_agreement(user, pk)
    try:
        agreements.sign(user, agreement.pk)
    except BilingualError as exc:
        return _agreement_page(request, pk, error=exc.zh, status=exc.status)
    messages.success(request, "协议已签订。")
    return redirect("partners:agreement", agreement.pk)
