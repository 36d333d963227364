"""Pages of the quarterly evaluation (季度评估): the list, the form (four dimensions with
weights prefilled 30/20/25/25, scores and evidence; the quarter's feedback is read from
the ratings, not typed) and one evaluation beside its project's trend chart."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from jiayuan.core.errors import BilingualError
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, scope_q
from jiayuan.core.views import page

from .. import evaluation as evals
from .. import stages
from ..choices import Dimension, Grade
from ..models import Project
from .supervision import as_id

PER_PAGE = 30
CHOICE_LIMIT = 500
GRADE_CSS: dict[str, str] = {
    Grade.EXCELLENT: "bg-green-lt",
    Grade.GOOD: "bg-blue-lt",
    Grade.FAIR: "bg-yellow-lt",
    Grade.POOR: "bg-red-lt",
}
BANDS = "优 ≥ 90，良 ≥ 75，中 ≥ 60，差 < 60"


@page
def evaluation_index(request: HttpRequest) -> HttpResponse:
    """季度评估: evaluations the user may see, the latest quarter first."""
    user: Any = request.user
    qs = evals.evaluations_visible_to(user)
    project_id = as_id(request.GET.get("project"))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    page_obj = Paginator(qs.order_by("-quarter", "project__name", "pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    for row in page_obj:
        row.grade_css = GRADE_CSS.get(row.grade, "")  # type: ignore[attr-defined]
    context = {
        "evaluations": page_obj,
        "project_id": project_id,
        "may_evaluate": has_perm_anywhere(user, Perm.SUPERVISE),
        "bands": BANDS,
    }
    return render(request, "partners/supervision/evaluations.html", context)


def _form_context(user: Any, data: Any, error: str = "") -> dict[str, Any]:
    projects = list(
        Project.objects.filter(scope_q(user, Perm.SUPERVISE), stages.operating_q())
        .order_by("name", "pk")
        .values_list("pk", "name")[:CHOICE_LIMIT]
    )
    dims = []
    for dim in Dimension.values:
        dims.append(
            {
                "key": dim,
                "label": Dimension(dim).label,
                "weight": data.get(f"{dim}-weight", evals.DEFAULT_WEIGHTS[dim]),
                "score": data.get(f"{dim}-score", ""),
                "evidence": data.get(f"{dim}-evidence", ""),
            }
        )
    return {
        "projects": projects,
        "chosen": as_id(data.get("project")),
        "quarter": data.get("quarter") or evals.quarter_of(timezone.localdate()),
        "summary": data.get("summary", ""),
        "dims": dims,
        "error": error,
        "bands": BANDS,
    }


@page
def evaluation_new(request: HttpRequest) -> HttpResponse:
    """评估一个季度: the four dimensions' weights, scores and evidence."""
    user: Any = request.user
    data = request.POST if request.method == "POST" else request.GET
    if request.method == "POST":
        try:
            project_id = as_id(data.get("project"))
            if project_id is None:
                raise BilingualError("请选择项目", "choose a project")
            scores = {}
            for dim in Dimension.values:
                weight = (data.get(f"{dim}-weight") or "").strip()
                scores[dim] = {
                    "weight": int(weight) if weight.isdigit() and len(weight) <= 3 else -1,
                    "score": (data.get(f"{dim}-score") or "").strip()[:20],
                    "evidence": data.get(f"{dim}-evidence", ""),
                }
            row = evals.evaluate(
                user,
                project_id,
                quarter=(data.get("quarter") or "").strip(),
                scores=scores,
                summary=data.get("summary", ""),
            )
        except BilingualError as exc:
            context = _form_context(user, data, exc.zh)
            return render(request, "partners/supervision/evaluation_new.html", context, status=422)
        messages.success(
            request, f"已完成{row.quarter}评估：{row.total} 分，{row.get_grade_display()}。"
        )
        return redirect("partners:evaluation", pk=row.pk)
    return render(request, "partners/supervision/evaluation_new.html", _form_context(user, data))


@page
def evaluation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One evaluation: its dimensions, the quarter's feedback, and the project's trend."""
    user: Any = request.user
    row = evals.get_evaluation(user, pk)
    scores = sorted(row.scores.all(), key=lambda s: Dimension.values.index(s.dimension))
    for s in scores:
        s.weighted = s.weight * s.score / 100  # type: ignore[attr-defined]
    context = {
        "evaluation": row,
        "scores": scores,
        "grade_css": GRADE_CSS.get(row.grade, ""),
        "trend": evals.trend(row.project),
        "bands": BANDS,
    }
    return render(request, "partners/supervision/evaluation.html", context)
