"""The JSON API of the partners app's supervision part: supervision groups (监督团),
inspections and findings with their rectification (监管), residents' feedback (the
resident's own and the staff list, return visits, verification) and the quarterly
evaluations (评估) with a project's trend. Handlers parse, call one action of
:mod:`jiayuan.partners.supervision`, :mod:`~jiayuan.partners.feedback` or
:mod:`~jiayuan.partners.evaluation`, and answer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.schemas import Page, PageParams

from .. import evaluation as evals
from .. import feedback as fb
from .. import supervision as svc
from ..choices import Dimension, FeedbackChannel, Grade, Severity
from ..models import Evaluation, Feedback, Finding, Inspection, SupervisionGroup

router = Router(tags=["红色合伙人"])
TAGS = ["partners-supervision"]
ID = Field(..., ge=1, le=svc.MAX_ID)


# --- schemas ------------------------------------------------------------------------------
class GroupOut(Schema):
    """A supervision group (监督团): its area, members and the projects it watches."""

    id: int
    name: str
    area: int = Field(alias="area_id")
    area_name: str
    member_ids: list[int]
    project_ids: list[int]

    @staticmethod
    def resolve_area_name(obj: SupervisionGroup) -> str:
        return obj.area.name

    @staticmethod
    def resolve_member_ids(obj: SupervisionGroup) -> list[int]:
        return sorted(p.pk for p in obj.members.all())

    @staticmethod
    def resolve_project_ids(obj: SupervisionGroup) -> list[int]:
        return sorted(p.pk for p in obj.projects.all())


class GroupIn(Schema):
    area_id: int = ID
    name: str = Field(..., max_length=100)
    member_ids: list[int] = Field(default_factory=list, max_length=svc.MAX_MEMBERS)
    project_ids: list[int] = Field(default_factory=list, max_length=svc.MAX_PROJECTS)


class GroupPatch(Schema):
    name: str | None = Field(None, max_length=100)
    member_ids: list[int] | None = Field(None, max_length=svc.MAX_MEMBERS)
    project_ids: list[int] | None = Field(None, max_length=svc.MAX_PROJECTS)


class FindingOut(Schema):
    """A finding (问题) with its deadline in words and whether it is overdue."""

    id: int
    project: int = Field(alias="project_id")
    project_name: str
    inspection: int | None = Field(alias="inspection_id")
    text: str
    severity: Severity
    rectify_by: dt.date
    rectified_at: dt.datetime | None
    rectification: str
    penalised: bool
    overdue: bool
    deadline_words: str
    has_photo: bool

    @staticmethod
    def resolve_project_name(obj: Finding) -> str:
        return obj.project.name

    @staticmethod
    def resolve_overdue(obj: Finding) -> bool:
        return svc.is_overdue(obj)

    @staticmethod
    def resolve_deadline_words(obj: Finding) -> str:
        return svc.deadline_words(obj)

    @staticmethod
    def resolve_has_photo(obj: Finding) -> bool:
        return bool(obj.photo)

    @staticmethod
    def resolve_rectified_at(obj: Finding) -> dt.datetime | None:
        return timezone.localtime(obj.rectified_at) if obj.rectified_at else None


class FindingIn(Schema):
    text: str = Field(..., max_length=svc.TEXT_MAX)
    severity: Severity
    rectify_by: dt.date


class IncidentIn(FindingIn):
    project_id: int = ID


class InspectionOut(Schema):
    """An inspection (监管检查) of a project and its findings."""

    id: int
    project: int = Field(alias="project_id")
    project_name: str
    group: int | None = Field(alias="group_id")
    inspected_at: dt.datetime
    summary: str
    inspector: str
    findings: list[FindingOut]

    @staticmethod
    def resolve_project_name(obj: Inspection) -> str:
        return obj.project.name

    @staticmethod
    def resolve_inspector(obj: Inspection) -> str:
        return obj.inspector.get_username() if obj.inspector else ""

    @staticmethod
    def resolve_inspected_at(obj: Inspection) -> dt.datetime:
        return timezone.localtime(obj.inspected_at)

    @staticmethod
    def resolve_findings(obj: Inspection) -> list[Finding]:
        return list(obj.findings.all())


class InspectionIn(Schema):
    project_id: int = ID
    summary: str = Field(..., max_length=svc.TEXT_MAX)
    inspected_at: dt.datetime | None = None
    group_id: int | None = Field(None, ge=1, le=svc.MAX_ID)
    findings: list[FindingIn] = Field(default_factory=list, max_length=svc.MAX_FINDINGS)


class RectifyIn(Schema):
    text: str = Field(..., max_length=svc.TEXT_MAX)
    rectified_at: dt.datetime | None = None


class FindingFilters(Schema):
    project: int | None = Field(None, ge=1, le=svc.MAX_ID)
    open: bool | None = Field(None, description="未整改 / not rectified")
    overdue: bool | None = Field(None, description="逾期未整改 / past the deadline")


class InspectionFilters(Schema):
    project: int | None = Field(None, ge=1, le=svc.MAX_ID)


class FeedbackOut(Schema):
    """A resident's rating (1–5) and words on a project; the resident's name only for
    staff of the area."""

    id: int
    project: int = Field(alias="project_id")
    project_name: str
    channel: FeedbackChannel
    rating: int
    rating_words: str
    text: str
    submitted_at: dt.datetime
    resident: str
    visited_by: str
    negative: bool
    verified_at: dt.datetime | None
    upheld: bool | None

    @staticmethod
    def resolve_project_name(obj: Feedback) -> str:
        return obj.project.name

    @staticmethod
    def resolve_rating_words(obj: Feedback) -> str:
        return fb.RATING_WORDS.get(obj.rating, "")

    @staticmethod
    def resolve_submitted_at(obj: Feedback) -> dt.datetime:
        return timezone.localtime(obj.submitted_at)

    @staticmethod
    def resolve_resident(obj: Feedback, context: Any) -> str:
        user = acting_user(context["request"])
        if obj.person is None or not fb.shows_names(user, obj):
            return "居民"
        return obj.person.name

    @staticmethod
    def resolve_visited_by(obj: Feedback) -> str:
        return obj.visited_by.get_username() if obj.visited_by else ""

    @staticmethod
    def resolve_negative(obj: Feedback) -> bool:
        return obj.rating <= fb.NEGATIVE


class MyFeedbackOut(Schema):
    """One of the resident's own ratings."""

    id: int
    project: int = Field(alias="project_id")
    project_name: str
    rating: int
    text: str
    submitted_at: dt.datetime
    verified: bool

    @staticmethod
    def resolve_project_name(obj: Feedback) -> str:
        return obj.project.name

    @staticmethod
    def resolve_verified(obj: Feedback) -> bool:
        return obj.verified_at is not None


class FeedbackIn(Schema):
    project_id: int = ID
    rating: int = Field(..., ge=1, le=5)
    text: str = Field("", max_length=fb.TEXT_MAX)


class VisitIn(FeedbackIn):
    person_id: int = ID
    confirmed: bool = Field(False, description="评分和意见是居民本人的表达")


class VerifyIn(Schema):
    upheld: bool
    note: str = Field("", max_length=200)


class FeedbackFilters(Schema):
    project: int | None = Field(None, ge=1, le=svc.MAX_ID)
    negative: bool | None = None
    unverified: bool | None = None


class ScoreIn(Schema):
    weight: int = Field(..., ge=0, le=100)
    score: Decimal = Field(..., ge=0, le=100, max_digits=5, decimal_places=2)
    evidence: str = Field("", max_length=evals.EVIDENCE_MAX)


class ScoreOut(Schema):
    dimension: Dimension
    name: str
    weight: int
    score: Decimal
    evidence: str

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return str(Dimension(obj.dimension).label)


class EvaluationOut(Schema):
    """A quarter's evaluation (季度评估): its four dimensions, total, grade and the
    quarter's feedback."""

    id: int
    project: int = Field(alias="project_id")
    project_name: str
    quarter: str
    total: Decimal
    grade: Grade
    grade_name: str
    feedback_count: int
    feedback_average: Decimal | None
    summary: str
    evaluated_at: dt.datetime
    scores: list[ScoreOut]

    @staticmethod
    def resolve_project_name(obj: Evaluation) -> str:
        return obj.project.name

    @staticmethod
    def resolve_grade_name(obj: Evaluation) -> str:
        return str(Grade(obj.grade).label)

    @staticmethod
    def resolve_scores(obj: Evaluation) -> list[Any]:
        return list(obj.scores.all())


class EvaluationIn(Schema):
    project_id: int = ID
    quarter: str = Field(..., max_length=6, description="如 2026Q3")
    scores: dict[Dimension, ScoreIn]
    summary: str = Field("", max_length=evals.SUMMARY_MAX)


class EvaluationFilters(Schema):
    project: int | None = Field(None, ge=1, le=svc.MAX_ID)
    quarter: str | None = Field(None, max_length=6)


class TrendSeries(Schema):
    key: str
    name: str
    data: list[float | None]


class TrendOut(Schema):
    """A project's evaluations by quarter: totals, grades and each dimension's scores."""

    project: int
    quarters: list[str]
    totals: list[float]
    grades: list[str]
    feedback_average: list[float | None]
    dimensions: list[TrendSeries]


# --- supervision groups -------------------------------------------------------------------
@router.get("/supervision-groups", response=responses(Page[GroupOut]), tags=TAGS)
def list_supervision_groups(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Supervision groups in the user's scope, and the ones the user's person is on."""
    qs = svc.groups_visible_to(acting_user(request)).prefetch_related("members", "projects")
    return paginate(qs.order_by("area_path", "name", "pk"), page)


@router.post("/supervision-groups", response=responses(GroupOut, 201), tags=TAGS)
def create_supervision_group(request: HttpRequest, body: GroupIn) -> Status[Any]:
    """Form a group in an area (SUPERVISE there) with its members and projects."""
    user = acting_user(request)
    group = svc.create_group(user, **body.dict())
    return Status(201, svc.get_group(user, group.pk, detail=True))


@router.get("/supervision-groups/{group_id}", response=responses(GroupOut), tags=TAGS)
def get_supervision_group(request: HttpRequest, group_id: int) -> SupervisionGroup:
    """One group (404 outside the scope)."""
    return svc.get_group(acting_user(request), group_id, detail=True)


@router.patch("/supervision-groups/{group_id}", response=responses(GroupOut), tags=TAGS)
def update_supervision_group(request: HttpRequest, group_id: int, body: GroupPatch) -> Any:
    """Rename a group or replace its members or projects."""
    user = acting_user(request)
    svc.update_group(user, group_id, **body.dict())
    return svc.get_group(user, group_id, detail=True)


# --- inspections and findings -------------------------------------------------------------
def _inspection(user: Any, inspection_id: int) -> Inspection:
    from jiayuan.core.errors import NotFound

    row = (
        svc.inspections_visible_to(user)
        .prefetch_related("findings__project")
        .filter(pk=svc.check_id(inspection_id, "检查", "inspection"))
        .first()
    )
    if row is None:
        raise NotFound("检查记录不存在", "inspection not found")
    return row


@router.get("/inspections", response=responses(Page[InspectionOut]), tags=TAGS)
def list_inspections(
    request: HttpRequest, filters: Query[InspectionFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Inspections the user may see, newest first, with their findings."""
    qs = svc.inspections_visible_to(acting_user(request)).prefetch_related("findings__project")
    if filters.project is not None:
        qs = qs.filter(project_id=filters.project)
    return paginate(qs.order_by("-inspected_at", "-pk"), page)


@router.post("/inspections", response=responses(InspectionOut, 201), tags=TAGS)
def create_inspection(request: HttpRequest, body: InspectionIn) -> Status[Any]:
    """Record an inspection of a project in operation, with its findings (photos are
    added to a finding afterwards: ``POST /findings/{id}/photo``)."""
    user = acting_user(request)
    data = body.dict()
    items = [svc.FindingIn(**item) for item in data.pop("findings")]
    inspection = svc.record_inspection(user, findings=items, **data)
    return Status(201, _inspection(user, inspection.pk))


@router.get("/inspections/{inspection_id}", response=responses(InspectionOut), tags=TAGS)
def get_inspection(request: HttpRequest, inspection_id: int) -> Inspection:
    """One inspection with its findings."""
    return _inspection(acting_user(request), inspection_id)


@router.get("/findings", response=responses(Page[FindingOut]), tags=TAGS)
def list_findings(
    request: HttpRequest, filters: Query[FindingFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Findings the user may see, the nearest deadline first."""
    qs = svc.findings_visible_to(acting_user(request))
    if filters.project is not None:
        qs = qs.filter(project_id=filters.project)
    if filters.open is not None:
        qs = qs.filter(rectified_at__isnull=filters.open)
    if filters.overdue is not None:
        late = {"rectified_at__isnull": True, "rectify_by__lt": timezone.localdate()}
        qs = qs.filter(**late) if filters.overdue else qs.exclude(**late)
    return paginate(qs.order_by("rectify_by", "pk"), page)


@router.post("/findings", response=responses(FindingOut, 201), tags=TAGS)
def create_finding(request: HttpRequest, body: IncidentIn) -> Status[Any]:
    """Record a problem between inspections (an incident) with its deadline."""
    user = acting_user(request)
    data = body.dict()
    project_id = data.pop("project_id")
    finding = svc.report_finding(user, project_id, svc.FindingIn(**data))
    return Status(201, svc.get_finding(user, finding.pk))


@router.post("/findings/{finding_id}/rectify", response=responses(FindingOut), tags=TAGS)
def rectify_finding(request: HttpRequest, finding_id: int, body: RectifyIn) -> Finding:
    """Record a finding's rectification: what was done and when."""
    user = acting_user(request)
    svc.rectify(user, finding_id, **body.dict())
    return svc.get_finding(user, finding_id)


@router.post("/findings/{finding_id}/photo", response=responses(FindingOut), tags=TAGS)
def add_finding_photo(request: HttpRequest, finding_id: int, file: File[UploadedFile]) -> Finding:
    """Add the photo of a finding (JPEG, PNG or WebP; stored without its metadata)."""
    user = acting_user(request)
    svc.attach_photo(user, finding_id, file)
    return svc.get_finding(user, finding_id)


@router.get("/findings/{finding_id}/photo", tags=TAGS)
def get_finding_photo(request: HttpRequest, finding_id: int) -> FileResponse:
    """A finding's photo (404 for whoever may not see the finding)."""
    return svc.photo_response(acting_user(request), finding_id)


# --- feedback -----------------------------------------------------------------------------
@router.get("/partner-feedback", response=responses(Page[FeedbackOut]), tags=TAGS)
def list_feedback(
    request: HttpRequest, filters: Query[FeedbackFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Residents' feedback the user may read (staff scope, or the projects their group
    watches), newest first."""
    qs = fb.feedback_visible_to(acting_user(request))
    if filters.project is not None:
        qs = qs.filter(project_id=filters.project)
    if filters.negative is not None:
        qs = qs.filter(rating__lte=fb.NEGATIVE) if filters.negative else qs.filter(rating__gt=2)
    if filters.unverified is not None:
        qs = qs.filter(verified_at__isnull=filters.unverified)
    return paginate(qs.order_by("-submitted_at", "-pk"), page)


@router.get("/partner-feedback/mine", response=responses(Page[MyFeedbackOut]), tags=TAGS)
def list_my_feedback(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """The signed-in resident's own ratings."""
    return paginate(fb.own_feedback(acting_user(request)).order_by("-submitted_at", "-pk"), page)


@router.post("/partner-feedback", response=responses(MyFeedbackOut, 201), tags=TAGS)
def give_feedback(request: HttpRequest, body: FeedbackIn) -> Status[Any]:
    """满意度信箱: the resident rates a project serving their community (404 for another
    community's project, 409 for a second rating the same day)."""
    row = fb.submit(acting_user(request), **body.dict())
    return Status(201, Feedback.objects.select_related("project").get(pk=row.pk))


@router.post("/partner-feedback/visits", response=responses(FeedbackOut, 201), tags=TAGS)
def record_visit(request: HttpRequest, body: VisitIn) -> Status[Any]:
    """网格员回访: a grid worker records a resident's own rating of a project."""
    user = acting_user(request)
    row = fb.record_visit(user, **body.dict())
    return Status(201, fb.get_feedback(user, row.pk))


@router.post("/partner-feedback/{feedback_id}/verify", response=responses(FeedbackOut), tags=TAGS)
def verify_feedback(request: HttpRequest, feedback_id: int, body: VerifyIn) -> Feedback:
    """The supervision group verifies a negative rating (upheld: the partner's credit)."""
    user = acting_user(request)
    fb.verify(user, feedback_id, **body.dict())
    return fb.get_feedback(user, feedback_id)


# --- evaluations --------------------------------------------------------------------------
@router.get("/evaluations", response=responses(Page[EvaluationOut]), tags=TAGS)
def list_evaluations(
    request: HttpRequest, filters: Query[EvaluationFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Quarterly evaluations the user may see, latest quarter first."""
    qs = evals.evaluations_visible_to(acting_user(request)).prefetch_related("scores")
    if filters.project is not None:
        qs = qs.filter(project_id=filters.project)
    if filters.quarter:
        qs = qs.filter(quarter=filters.quarter)
    return paginate(qs.order_by("-quarter", "project_id", "pk"), page)


@router.post("/evaluations", response=responses(EvaluationOut, 201), tags=TAGS)
def create_evaluation(request: HttpRequest, body: EvaluationIn) -> Status[Any]:
    """Evaluate a project's quarter on the four dimensions (SUPERVISE at its area)."""
    user = acting_user(request)
    data = body.dict()
    row = evals.evaluate(user, **data)
    return Status(201, evals.get_evaluation(user, row.pk))


@router.get("/evaluations/{evaluation_id}", response=responses(EvaluationOut), tags=TAGS)
def get_evaluation(request: HttpRequest, evaluation_id: int) -> Evaluation:
    """One evaluation with its four dimensions."""
    return evals.get_evaluation(acting_user(request), evaluation_id)


@router.get("/evaluation-trends/{project_id}", response=responses(TrendOut), tags=TAGS)
def get_evaluation_trend(request: HttpRequest, project_id: int) -> dict[str, Any]:
    """A project's evaluations by quarter, for a chart."""
    project = svc.get_project(acting_user(request), project_id)
    return {"project": project.pk, **evals.trend(project)}
