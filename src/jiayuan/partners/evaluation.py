"""评估: the quarterly evaluation of a partner project.

One evaluation per project and quarter (``2026Q3``; not a quarter still to come), taken
by a holder of ``Perm.SUPERVISE`` at the project's area once the project is in operation
(at least in 监管). Four dimensions (运营成效, 财务可持续, 社会效益, 服务质量), each with
a whole-number weight (the four sum to 100), a score from 0 to 100 (at most two decimals)
and the evidence it rests on. The quarter's feedback count and average rating are read
from the :class:`Feedback` rows of the quarter, never typed.

The total is Σ weight × score / 100, computed in exact :class:`~decimal.Decimal` and
rounded once, half up, to the two decimals the field keeps; the grade follows from the
stored total through :data:`GRADE_BANDS`, the one place the bands live. A quarter rated
优 adds ``settings.PARTNERS_CREDIT_EXCELLENT_QUARTER`` to the partner's credit once
(evidence ``evaluation:<id>``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from jiayuan.community.rooms import clean_text
from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_q

from . import credit, stages
from .choices import CreditReason, Dimension, Grade, Stage
from .models import DimensionScore, Evaluation, Feedback, Project
from .supervision import check_id, get_project, member_project_ids

#: The grade bands, highest first: a total at or above the bound earns the grade.
GRADE_BANDS: list[tuple[Decimal, str]] = [
    (Decimal(90), Grade.EXCELLENT),
    (Decimal(75), Grade.GOOD),
    (Decimal(60), Grade.FAIR),
    (Decimal(0), Grade.POOR),
]
#: The weights the evaluation form starts with (operating results and service quality
#: weigh most; the committee may change them, the four summing to 100).
DEFAULT_WEIGHTS: dict[str, int] = {
    Dimension.OPERATIONS: 30,
    Dimension.FINANCE: 20,
    Dimension.SOCIAL: 25,
    Dimension.QUALITY: 25,
}
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
CENT = Decimal("0.01")
EVIDENCE_MAX = 2000
SUMMARY_MAX = 2000


def grade_of(total: Decimal) -> str:
    """The grade of a total (优 ≥ 90, 良 ≥ 75, 中 ≥ 60, 差 below)."""
    for bound, grade in GRADE_BANDS:
        if total >= bound:
            return grade
    return Grade.POOR


# --- quarters -----------------------------------------------------------------------------
def parse_quarter(text: Any) -> tuple[int, int]:
    match = QUARTER.match(text) if isinstance(text, str) else None
    if match is None or not 2000 <= int(match.group(1)) <= 2100:
        raise ValidationFailed(
            "季度格式应为 2026Q3", f"the quarter reads like 2026Q3, got {text!r}", field="quarter"
        )
    return int(match.group(1)), int(match.group(2))


def quarter_of(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_span(quarter: str) -> tuple[dt.datetime, dt.datetime]:
    """The quarter's first instant and the next quarter's, in local time."""
    year, q = parse_quarter(quarter)
    start = dt.datetime(year, 3 * q - 2, 1)  # noqa: DTZ001 - made aware below
    end = dt.datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)  # noqa: DTZ001
    return timezone.make_aware(start), timezone.make_aware(end)


def feedback_figures(project: Project, quarter: str) -> tuple[int, Decimal | None]:
    """The quarter's feedback count and average rating (two decimals, half up) from the
    project's :class:`Feedback` rows."""
    start, end = quarter_span(quarter)
    row = Feedback.objects.filter(
        project=project, submitted_at__gte=start, submitted_at__lt=end
    ).aggregate(n=Count("pk"), total=Sum("rating"))
    n = int(row["n"] or 0)
    if not n:
        return 0, None
    return n, (Decimal(int(row["total"])) / Decimal(n)).quantize(CENT, ROUND_HALF_UP)


# --- scores -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreIn:
    weight: int
    score: Decimal
    evidence: str = ""


def _weight(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationFailed(
            "权重须为 0 到 100 的整数", f"{field} is a whole number 0–100", field=field
        )
    return value


def _score(value: Any, field: str) -> Decimal:
    try:
        score = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        score = Decimal("NaN")
    if isinstance(value, bool) or not score.is_finite() or not 0 <= score <= 100:
        raise ValidationFailed("得分须在 0 到 100 之间", f"{field} is a number 0–100", field=field)
    if score != score.quantize(CENT):
        raise ValidationFailed("得分最多两位小数", f"{field} has at most two decimals", field=field)
    return score.quantize(CENT)


def clean_scores(scores: Mapping[str, Any]) -> dict[str, ScoreIn]:
    """The four dimensions' weights (summing to 100), scores and evidence, checked."""
    if not isinstance(scores, Mapping) or set(scores) != set(Dimension.values):
        raise ValidationFailed(
            "须填写四个维度：运营成效、财务可持续、社会效益、服务质量",
            "scores name exactly the four dimensions", field="scores",
        )  # fmt: skip
    out: dict[str, ScoreIn] = {}
    for dim in Dimension.values:
        item = scores[dim]
        get = (
            item.get if isinstance(item, Mapping) else (lambda k, d=None, i=item: getattr(i, k, d))
        )
        label = Dimension(dim).label
        out[dim] = ScoreIn(
            weight=_weight(get("weight"), f"scores.{dim}.weight"),
            score=_score(get("score"), f"scores.{dim}.score"),
            evidence=clean_text(
                get("evidence", ""), field=f"scores.{dim}.evidence", label=f"{label}依据",
                max_length=EVIDENCE_MAX, required=False,
            ),
        )  # fmt: skip
    weight_sum = sum(s.weight for s in out.values())
    if weight_sum != 100:
        raise ValidationFailed(
            f"四个维度的权重之和须为 100（现为 {weight_sum}）",
            f"the weights sum to {weight_sum}, not 100", field="scores",
        )  # fmt: skip
    return out


def exact_total(rows: Mapping[str, ScoreIn] | list[DimensionScore]) -> Decimal:
    """Σ weight × score / 100, exact."""
    items = list(rows.values()) if isinstance(rows, Mapping) else rows
    return sum((Decimal(r.weight) * Decimal(r.score) for r in items), Decimal(0)) / Decimal(100)


def total_of(rows: Mapping[str, ScoreIn] | list[DimensionScore]) -> Decimal:
    """The stored total: the exact one rounded half up to two decimals."""
    return exact_total(rows).quantize(CENT, ROUND_HALF_UP)


# --- reading ------------------------------------------------------------------------------
def evaluations_visible_to(user: Any) -> QuerySet[Evaluation]:
    q = scope_q(user, Perm.VIEW)
    watched = member_project_ids(user)
    if watched:
        q |= Q(project_id__in=watched)
    return Evaluation.objects.filter(q).select_related("project", "evaluated_by")


def get_evaluation(user: Any, evaluation_id: int) -> Evaluation:
    row = (
        evaluations_visible_to(user)
        .prefetch_related("scores")
        .filter(pk=check_id(evaluation_id, "评估", "evaluation"))
        .first()
    )
    if row is None:
        raise NotFound("评估不存在", "evaluation not found")
    return row


def trend(project: Project) -> dict[str, Any]:
    """The project's evaluations by quarter for a chart: quarters, totals, grades and each
    dimension's scores (two queries)."""
    rows = list(
        Evaluation.objects.filter(project=project).order_by("quarter").prefetch_related("scores")
    )
    series: dict[str, list[float | None]] = {d: [] for d in Dimension.values}
    for row in rows:
        by_dim = {s.dimension: s.score for s in row.scores.all()}
        for dim in Dimension.values:
            value = by_dim.get(dim)
            series[dim].append(float(value) if value is not None else None)
    return {
        "quarters": [r.quarter for r in rows],
        "totals": [float(r.total) for r in rows],
        "grades": [str(Grade(r.grade).label) for r in rows],
        "feedback_average": [
            float(r.feedback_average) if r.feedback_average is not None else None for r in rows
        ],
        "dimensions": [
            {"key": d, "name": str(Dimension(d).label), "data": series[d]} for d in Dimension.values
        ],
    }


# --- writing ------------------------------------------------------------------------------
def may_evaluate(user: Any, project: Project) -> bool:
    return user is None or path_allowed(user, project.area_path, Perm.SUPERVISE)


def evaluate(
    actor: Any,
    project_id: int,
    *,
    quarter: str,
    scores: Mapping[str, Any],
    summary: str = "",
    today: dt.date | None = None,
) -> Evaluation:
    """Record a project's evaluation of ``quarter`` (see the module's docstring)."""
    project = (
        get_project(actor, project_id) if actor is not None else Project.objects.get(pk=project_id)
    )
    if not may_evaluate(actor, project):
        raise PermissionDenied(
            "只有社区党组织可以作出季度评估", "only SUPERVISE holders evaluate a project"
        )
    stages.require(project, Stage.SUPERVISION)
    year, q = parse_quarter(quarter)
    today = today or timezone.localdate()
    if (year, q) > (today.year, (today.month - 1) // 3 + 1):
        raise ValidationFailed(
            "不能评估尚未到来的季度", "the quarter is in the future", field="quarter"
        )
    rows = clean_scores(scores)
    summary = clean_text(
        summary, field="summary", label="评估意见", max_length=SUMMARY_MAX, required=False
    )
    count, average = feedback_figures(project, quarter)
    total = total_of(rows)
    grade = grade_of(total)
    try:
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project.pk).first()
            if Evaluation.objects.filter(project=project, quarter=quarter).exists():
                raise Conflict(f"{quarter}已评估", f"{quarter} is evaluated already")
            evaluation = Evaluation(
                project=project,
                quarter=quarter,
                total=total,
                grade=grade,
                feedback_count=count,
                feedback_average=average,
                summary=summary,
                evaluated_by=actor if getattr(actor, "pk", None) else None,
                evaluated_at=timezone.now(),
            )
            evaluation.save()
            DimensionScore.objects.bulk_create(
                DimensionScore(
                    evaluation=evaluation,
                    dimension=dim,
                    weight=row.weight,
                    score=row.score,
                    evidence=row.evidence,
                )
                for dim, row in rows.items()
            )
            changes = audit.snapshot(evaluation)
            changes["scores"] = {
                dim: {"weight": r.weight, "score": str(r.score)} for dim, r in rows.items()
            }
            audit.record(AuditEntry.Action.CREATE, evaluation, actor, changes, quarter)
            if grade == Grade.EXCELLENT and project.partner_id is not None:
                credit.record(
                    project.partner,  # type: ignore[arg-type]
                    settings.PARTNERS_CREDIT_EXCELLENT_QUARTER,
                    CreditReason.EXCELLENT_QUARTER,
                    note=f"{project.name} {quarter}季度评估为优",
                    evidence=f"evaluation:{evaluation.pk}",
                    decided_by=actor if getattr(actor, "pk", None) else None,
                )
    except IntegrityError:  # the same quarter evaluated at the same moment elsewhere
        raise Conflict(f"{quarter}已评估", f"{quarter} is evaluated already") from None
    return evaluation
