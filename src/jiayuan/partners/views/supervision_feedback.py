"""Pages of residents' feedback (居民评价): the list with the supervision group's verify
buttons, and the grid worker's return-visit form (网格员回访), where the rating written
down is the resident's own. Each step is one action of :mod:`jiayuan.partners.feedback`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, scope_paths
from jiayuan.core.views import page
from jiayuan.people.models import Person

from .. import feedback as fb
from .. import stages
from ..models import Project
from .supervision import as_id

PER_PAGE = 30
CHOICE_LIMIT = 500
TABS = [("pending", "待核实差评"), ("negative", "差评"), ("all", "全部")]
RATINGS = [(n, fb.RATING_WORDS[n]) for n in range(5, 0, -1)]


def verification_words(row: Any) -> str:
    if row.rating > fb.NEGATIVE:
        return ""
    if row.verified_at is None:
        return "待监督团核实"
    return "经核实属实" if row.upheld else "经核实不属实"


@page
def feedback_index(request: HttpRequest) -> HttpResponse:
    """居民评价: residents' ratings of the projects the user may see; a negative one
    carries the verify buttons for the supervision group."""
    user: Any = request.user
    tab = request.GET.get("tab") or "all"
    if tab not in dict(TABS):
        tab = "all"
    qs = fb.feedback_visible_to(user)
    if tab == "pending":
        qs = qs.filter(rating__lte=fb.NEGATIVE, verified_at__isnull=True)
    elif tab == "negative":
        qs = qs.filter(rating__lte=fb.NEGATIVE)
    project_id = as_id(request.GET.get("project"))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    page_obj = Paginator(qs.order_by("-submitted_at", "-pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    for row in page_obj:
        row.words = fb.RATING_WORDS.get(row.rating, "")  # type: ignore[attr-defined]
        row.resident = (  # type: ignore[attr-defined]
            row.person.name if row.person and fb.shows_names(user, row) else "居民"
        )
        row.verification = verification_words(row)  # type: ignore[attr-defined]
        row.may_verify = (  # type: ignore[attr-defined]
            row.rating <= fb.NEGATIVE
            and row.verified_at is None
            and fb.may_verify(user, row.project)
        )
    context = {
        "rows": page_obj,
        "tab": tab,
        "tabs": TABS,
        "project_id": project_id,
        "may_visit": has_perm_anywhere(user, Perm.SERVE),
    }
    return render(request, "partners/supervision/feedback.html", context)


@require_POST
@page
def feedback_verify(request: HttpRequest, pk: int) -> HttpResponse:
    """The group's verdict on a negative rating: 属实 (the partner's credit) or 不属实."""
    user: Any = request.user
    fb.get_feedback(user, pk)
    upheld = {"1": True, "0": False}.get(request.POST.get("upheld", ""))
    try:
        fb.verify(user, pk, upheld=upheld, note=request.POST.get("note", ""))
    except NotFound:
        raise
    except BilingualError as exc:
        messages.error(request, f"未能核实：{exc.zh}")
    else:
        messages.success(
            request, "已核实：属实，已扣减合伙人信用分。" if upheld else "已核实：不属实。"
        )
    return redirect(reverse("partners:feedback") + "?tab=pending")


def _visit_choices(user: Any) -> tuple[list[Any], list[Any]]:
    residents = list(
        Person.objects.visible_to(user, Perm.SERVE)
        .filter(death_date__isnull=True)
        .order_by("name", "pk")
        .values_list("pk", "name")[:CHOICE_LIMIT]
    )
    q = Q(pk__in=[])
    for path in scope_paths(user, Perm.SERVE):
        q |= fb.serving_q(path) if path else Q()
    projects = list(
        Project.objects.filter(q, stages.operating_q())
        .order_by("name", "pk")
        .values_list("pk", "name")[:CHOICE_LIMIT]
    )
    return residents, projects


@page
def feedback_visit(request: HttpRequest) -> HttpResponse:
    """网格员回访: write down a resident's own rating and words about a project."""
    user: Any = request.user
    if not has_perm_anywhere(user, Perm.SERVE):
        raise NotFound()
    data = request.POST if request.method == "POST" else request.GET
    error = ""
    if request.method == "POST":
        try:
            project_id, person_id = as_id(data.get("project")), as_id(data.get("person"))
            if project_id is None or person_id is None:
                raise BilingualError("请选择居民和项目", "choose a resident and a project")
            rating = as_id(data.get("rating"))
            fb.record_visit(
                user,
                project_id,
                person_id=person_id,
                rating=rating if rating is not None else 0,
                text=data.get("text", ""),
                confirmed=data.get("confirmed") == "1",
            )
        except BilingualError as exc:
            error = exc.zh
        else:
            messages.success(request, "已记录回访评价。")
            return redirect("partners:feedback")
    residents, projects = _visit_choices(user)
    context = {
        "residents": residents,
        "projects": projects,
        "ratings": RATINGS,
        "data": data,
        "error": error,
    }
    status = 422 if error else 200
    return render(request, "partners/supervision/visit.html", context, status=status)
