"""``{% supervision_panel project %}``: the 监管 and 评估 panel of a project's page — open
and overdue findings, the latest inspection, residents' feedback, the latest quarter's
grade and the evaluation trend chart (``partners/supervision/project_panel.html``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Avg, Count, Max, Q
from django.utils import timezone

from .. import evaluation as evals
from .. import feedback as fb
from .. import stages
from .. import supervision as svc
from ..models import Evaluation, Feedback, Finding, Inspection, Project

register = template.Library()


def panel(user: Any, project: Project) -> dict[str, Any]:
    """The panel's figures for ``project`` (a handful of queries, whatever its rows)."""
    today = timezone.localdate()
    findings = Finding.objects.filter(project=project).aggregate(
        open=Count("pk", filter=Q(rectified_at__isnull=True)),
        overdue=Count("pk", filter=Q(rectified_at__isnull=True, rectify_by__lt=today)),
    )
    inspections = Inspection.objects.filter(project=project).aggregate(
        n=Count("pk"), last=Max("inspected_at")
    )
    feedback = Feedback.objects.filter(project=project).aggregate(
        n=Count("pk"),
        average=Avg("rating"),
        pending=Count("pk", filter=Q(rating__lte=fb.NEGATIVE, verified_at__isnull=True)),
    )
    latest = Evaluation.objects.filter(project=project).order_by("-quarter").first()
    operating = stages.in_operation(project)
    return {
        "project": project,
        "operating": operating,
        "findings": findings,
        "inspections": inspections,
        "feedback": feedback,
        "latest": latest,
        "trend": evals.trend(project),
        "may_inspect": operating and svc.may_inspect(user, project),
        "may_evaluate": operating and evals.may_evaluate(user, project),
    }


@register.inclusion_tag("partners/supervision/project_panel.html", takes_context=True)
def supervision_panel(context: template.Context, project: Project) -> dict[str, Any]:
    request = context.get("request")
    return panel(getattr(request, "user", None), project)
