"""The JSON API of the partners app's projects part: projects and their stage decisions
and documents, the funds, open calls with applications, scores, selection and published
result, and agreements.

Reads start from the user's scope (404 outside it, and for ids beyond 64 bits); every
change is one action of :mod:`jiayuan.partners.projects`, :mod:`~jiayuan.partners.stages`,
:mod:`~jiayuan.partners.calls` or :mod:`~jiayuan.partners.agreements`. A step the state
does not allow answers 409, bad input 422, both with a Chinese and an English message.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import MAX_ROW_ID as MAX_ID
from jiayuan.core.errors import NotFound, row_id
from jiayuan.core.schemas import Page, PageParams

from .. import agreements, calls, documents, projects, stages
from ..choices import ProjectStatus, Stage
from ..models import Agreement, Document, Fund, Project, StageDecision

router = Router(tags=["红色合伙人 · 项目 / partner projects"])

Amount = str | int | float | None  # checked by projects.amount: NaN, negatives, 12+ digits → 422


# --- schemas -------------------------------------------------------------------------------
class ProjectOut(Schema):
    id: int
    name: str
    area_id: int
    area_name: str
    area_path: str
    space: str
    position_id: int | None
    room_id: int | None
    stage: str
    stage_label: str
    status: str
    status_label: str
    price_class: str
    price_class_label: str
    price_cap: Decimal | None
    target_groups: list[str]
    budget: Decimal
    fund_id: int | None
    partner_id: int | None
    partner_name: str
    created_at: dt.datetime


class StepOut(Schema):
    stage: str
    label: str
    state: str
    word: str


class MissingOut(Schema):
    code: str
    zh: str
    en: str
    kind: str


class DecisionOut(Schema):
    id: int
    stage: str
    stage_label: str
    decision: str
    decision_label: str
    reasons: str
    decided_by: str
    decided_at: dt.datetime


class DocumentOut(Schema):
    id: int
    stage: str
    kind: str
    kind_label: str
    title: str
    content_type: str
    size: int
    sha256: str
    url: str
    created_at: dt.datetime


class CallRef(Schema):
    id: int
    title: str
    status: str
    status_label: str
    closes_at: dt.datetime


class AgreementOut(Schema):
    id: int
    project_id: int
    partner_id: int
    partner_name: str
    starts_on: dt.date
    ends_on: dt.date
    obligations: str
    price_cap: Decimal | None
    exit_conditions: str
    warning_threshold: int
    dismissal_threshold: int
    status: str
    status_label: str
    signed_on: dt.date | None
    ended_on: dt.date | None
    end_reason: str


class ProjectDetail(ProjectOut):
    content: str
    hours: dict[str, Any]
    steps: list[StepOut]
    missing: list[MissingOut] = Field(description="当前阶段尚缺 / what the current stage lacks")
    decisions: list[DecisionOut]
    documents: list[DocumentOut]
    calls: list[CallRef]
    agreements: list[AgreementOut]


class ProjectFilters(Schema):
    stage: Stage | None = Field(None, description="阶段 / stage")
    status: ProjectStatus | None = Field(None, description="状态 / status")
    q: str = Field("", max_length=50, description="名称或内容 / name or content")


class ProjectIn(Schema):
    name: str
    content: str
    area_id: int = Field(..., ge=1, le=MAX_ID, description="社区 / the community")
    position_id: int | None = Field(None, ge=1, le=MAX_ID, description="阵地 / a position")
    room_id: int | None = Field(None, ge=1, le=MAX_ID, description="活动室 / or a room")
    hours: dict[str, Any] = Field(default_factory=dict, description='{"1": [["08:30", "12:00"]]}')
    price_class: str = Field(..., description="free 免费, low_cost 低偿, small_profit 微利")
    price_cap: Amount = None
    target_groups: list[str] = Field(default_factory=list, description="高龄、独居、留守儿童……")
    budget: Amount = None
    fund_id: int | None = Field(None, ge=1, le=MAX_ID)


class DecisionIn(Schema):
    stage: str
    decision: str = Field(..., description="approved 通过 / rejected 不通过")
    reasons: str = ""


class FundOut(Schema):
    id: int
    area_id: int
    year: int
    name: str
    amount: Decimal
    remaining: Decimal


class FundIn(Schema):
    area_id: int = Field(..., ge=1, le=MAX_ID)
    year: int
    name: str
    amount: Amount


class CallIn(Schema):
    title: str
    text: str = ""
    criteria: list[dict[str, Any]]
    closes_at: dt.datetime
    opens_at: dt.datetime | None = None
    panel: list[int] = Field(..., description="评审组成员的用户编号 / the panel's user ids")


class ScoreRow(Schema):
    reviewer_id: int
    reviewer: str
    scores: dict[str, Decimal]


class RankedOut(Schema):
    application_id: int
    partner_id: int
    partner_name: str
    plan: str
    offered_price: Decimal | None
    submitted_at: dt.datetime
    rank: int
    means: dict[str, Decimal]
    total: Decimal
    reviews: list[ScoreRow]


class CallDetail(Schema):
    id: int
    project_id: int
    title: str
    text: str
    criteria: list[dict[str, Any]]
    opens_at: dt.datetime
    closes_at: dt.datetime
    status: str
    status_label: str
    panel: list[str]
    accepts_applications: bool
    scoring_open: bool
    scoring_complete: bool
    selected_id: int | None
    reasons: str
    published_at: dt.datetime | None
    ranking: list[RankedOut]


class ApplicationIn(Schema):
    partner_id: int = Field(..., ge=1, le=MAX_ID)
    plan: str
    offered_price: Amount = None


class ApplicationOut(Schema):
    id: int
    call_id: int
    partner_id: int
    offered_price: Decimal | None
    submitted_at: dt.datetime


class ScoresIn(Schema):
    scores: dict[str, Any] = Field(..., description='{"plan": 85, "price": 90}')


class SelectionIn(Schema):
    application_id: int | None = Field(None, ge=1, le=MAX_ID)
    reasons: str = ""


class TermsIn(Schema):
    starts_on: dt.date
    ends_on: dt.date
    obligations: str
    price_cap: Amount = None
    exit_conditions: str
    warning_threshold: int | None = None
    dismissal_threshold: int | None = None


# --- rendering -----------------------------------------------------------------------------
def project_out(p: Project) -> dict[str, Any]:
    return {
        "id": p.pk, "name": p.name, "area_id": p.area_id, "area_name": p.area.name,
        "area_path": p.area_path, "space": projects.space_label(p),
        "position_id": p.position_id, "room_id": p.room_id, "stage": p.stage,
        "stage_label": p.get_stage_display(), "status": p.status,
        "status_label": p.get_status_display(), "price_class": p.price_class,
        "price_class_label": p.get_price_class_display(), "price_cap": p.price_cap,
        "target_groups": list(p.target_groups or []), "budget": p.budget, "fund_id": p.fund_id,
        "partner_id": p.partner_id, "partner_name": p.partner.name if p.partner else "",
        "created_at": p.created_at,
    }  # fmt: skip


def decision_out(d: StageDecision) -> dict[str, Any]:
    return {
        "id": d.pk, "stage": d.stage, "stage_label": d.get_stage_display(),
        "decision": d.decision, "decision_label": d.get_decision_display(),
        "reasons": d.reasons, "decided_by": d.decided_by.username if d.decided_by else "",
        "decided_at": d.decided_at,
    }  # fmt: skip


def document_out(d: Document) -> dict[str, Any]:
    return {
        "id": d.pk, "stage": d.stage, "kind": d.kind, "kind_label": d.get_kind_display(),
        "title": d.title, "content_type": d.content_type, "size": d.size, "sha256": d.sha256,
        "url": f"/api/v1/partner-projects/{d.project_id}/documents/{d.pk}",
        "created_at": d.created_at,
    }  # fmt: skip


def agreement_out(a: Agreement) -> dict[str, Any]:
    return {
        "id": a.pk, "project_id": a.project_id, "partner_id": a.partner_id,
        "partner_name": a.partner.name, "starts_on": a.starts_on, "ends_on": a.ends_on,
        "obligations": a.obligations, "price_cap": a.price_cap,
        "exit_conditions": a.exit_conditions, "warning_threshold": a.warning_threshold,
        "dismissal_threshold": a.dismissal_threshold, "status": a.status,
        "status_label": a.get_status_display(), "signed_on": a.signed_on,
        "ended_on": a.ended_on, "end_reason": a.end_reason,
    }  # fmt: skip


def project_detail(user: Any, pk: int) -> dict[str, Any]:
    qs = projects.with_history(projects.visible_projects(user))
    project = qs.filter(pk=row_id(pk)).first()
    if project is None:
        raise NotFound("项目不存在", "project not found")
    return {
        **project_out(project),
        "content": project.content,
        "hours": project.hours or {},
        "steps": stages.stepper(project),
        "missing": [m.as_json() for m in stages.missing(project, project.stage)]
        if project.status == ProjectStatus.OPEN
        else [],
        "decisions": [decision_out(d) for d in project.decisions.all()],
        "documents": [document_out(d) for d in project.documents.all()],
        "calls": [
            {
                "id": c.pk,
                "title": c.title,
                "status": c.status,
                "status_label": c.get_status_display(),
                "closes_at": c.closes_at,
            }
            for c in project.calls.all()
        ],
        "agreements": [agreement_out(a) for a in project.agreements.all()],
    }


def call_detail(user: Any, pk: int) -> dict[str, Any]:
    call = calls.get_call(user, row_id(pk))
    panel = calls.panel_of(call)
    names = {u.pk: u.username for u in panel}
    ranked = calls.ranking(call)
    return {
        "id": call.pk, "project_id": call.project_id, "title": call.title, "text": call.text,
        "criteria": call.criteria, "opens_at": call.opens_at, "closes_at": call.closes_at,
        "status": call.status, "status_label": call.get_status_display(),
        "panel": [u.username for u in panel],
        "accepts_applications": calls.accepts_applications(call),
        "scoring_open": calls.scoring_open(call),
        "scoring_complete": calls.scoring_complete(call, ranked, panel),
        "selected_id": call.selected_id, "reasons": call.reasons,
        "published_at": call.published_at,
        "ranking": [
            {
                "application_id": r.application.pk, "partner_id": r.application.partner_id,
                "partner_name": r.application.partner.name, "plan": r.application.plan,
                "offered_price": r.application.offered_price,
                "submitted_at": r.application.submitted_at, "rank": r.rank,
                "means": {k: calls.shown(v) for k, v in r.means.items()},
                "total": r.total_decimal,
                "reviews": [
                    {"reviewer_id": rid, "reviewer": names.get(rid, str(rid)), "scores": s}
                    for rid, s in sorted(r.scores.items())
                ],
            }
            for r in ranked
        ],
    }  # fmt: skip


def _input(body: ProjectIn) -> projects.ProjectInput:
    return projects.ProjectInput(**body.dict())


# --- projects ------------------------------------------------------------------------------
@router.get("/partner-projects", response=responses(Page[ProjectOut]))
def list_projects(
    request: HttpRequest, filters: Query[ProjectFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """合伙项目列表（按阶段、状态、名称筛选）。/ The partner projects in the user's scope,
    filtered by stage, status or name."""
    user = acting_user(request)
    qs = projects.filter_projects(
        projects.with_related(projects.visible_projects(user)),
        stage=filters.stage or "", status=filters.status or "", q=filters.q,
    )  # fmt: skip
    result = paginate(qs, page)
    return {"items": [project_out(p) for p in result["items"]], "count": result["count"]}


@router.post("/partner-projects", response=responses(ProjectDetail, 201))
def create_project(request: HttpRequest, body: ProjectIn) -> Status[dict[str, Any]]:
    """立项申报：社区一个阵地或活动室（同一场地同时只有一个进行中的项目）、使用时段、价格类别
    （免费不设限价；低偿、微利须限价）、一老一小服务对象、预算（不超过年度资金剩余额度）。
    / Propose a project in a community space (one live project per space), with hours, a
    price class (a cap unless free), the 一老一小 groups and a budget within the fund."""
    user = acting_user(request)
    project = projects.propose(user, _input(body))
    return Status(201, project_detail(user, project.pk))


@router.get("/partner-projects/{project_id}", response=responses(ProjectDetail))
def get_project(request: HttpRequest, project_id: int) -> dict[str, Any]:
    """一个项目：五个阶段、当前阶段尚缺的文件和条件、决定记录、文件、招募和协议。/ One
    project: its five stages, what the current stage lacks, decisions, documents, calls
    and agreements."""
    return project_detail(acting_user(request), project_id)


@router.put("/partner-projects/{project_id}", response=responses(ProjectDetail))
def edit_project(request: HttpRequest, project_id: int, body: ProjectIn) -> dict[str, Any]:
    """修改申报内容（仅立项审批前）。/ Change a proposal before its 立项 is decided."""
    user = acting_user(request)
    projects.edit(user, row_id(project_id), _input(body))
    return project_detail(user, project_id)


@router.post("/partner-projects/{project_id}/decisions", response=responses(ProjectDetail, 201))
def decide_stage(request: HttpRequest, project_id: int, body: DecisionIn) -> Status[dict[str, Any]]:
    """社区党委对当前阶段作出决定（通过须无缺项；不通过须写理由；立项不通过即终止）。
    / The community party committee decides the current stage (an approval needs nothing
    missing, a rejection reasons; rejecting 立项 ends the project)."""
    user = acting_user(request)
    project = projects.get_project(user, row_id(project_id))
    stages.decide(project, body.stage, body.decision, body.reasons, user)
    return Status(201, project_detail(user, project_id))


@router.post("/partner-projects/{project_id}/documents", response=responses(DocumentOut, 201))
def upload_document(
    request: HttpRequest,
    project_id: int,
    file: File[UploadedFile],
    kind: Form[str],
    title: Form[str],
) -> Status[dict[str, Any]]:
    """为当前阶段上传文件（申报书、招募公告、协议、监管记录、评估报告、党委意见等；PDF、
    JPEG/PNG、Office）。/ File a document under the project's current stage."""
    user = acting_user(request)
    document = projects.add_document(user, row_id(project_id), file, kind=kind, title=title)
    return Status(201, document_out(document))


@router.get("/partner-projects/{project_id}/documents/{document_id}", response=responses(None))
def download_document(request: HttpRequest, project_id: int, document_id: int) -> FileResponse:
    """下载项目文件（仅对能看到该项目的用户）。/ A project's document, to users who see it."""
    user = acting_user(request)
    project = projects.get_project(user, row_id(project_id))
    document = Document.objects.filter(project=project, pk=row_id(document_id)).first()
    if document is None:
        raise NotFound("文件不存在", "document not found")
    return documents.response(user, document)


# --- funds ---------------------------------------------------------------------------------
@router.get("/partner-funds", response=responses(Page[FundOut]))
def list_funds(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """年度资金及其剩余额度。/ The yearly funds in scope and what each still holds."""
    result = paginate(projects.funds_for(acting_user(request)), page)
    left = projects.fund_balances([f.pk for f in result["items"]])
    return {
        "items": [
            {
                "id": f.pk,
                "area_id": f.area_id,
                "year": f.year,
                "name": f.name,
                "amount": f.amount,
                "remaining": f.amount - left.get(f.pk, Decimal(0)),
            }
            for f in result["items"]
        ],
        "count": result["count"],
    }


@router.post("/partner-funds", response=responses(FundOut, 201))
def create_fund(request: HttpRequest, body: FundIn) -> Status[dict[str, Any]]:
    """登记年度资金（社区党委）。/ Register a year's fund (the party committee)."""
    fund: Fund = projects.create_fund(
        acting_user(request), area_id=body.area_id, year=body.year, name=body.name,
        amount_value=body.amount,
    )  # fmt: skip
    return Status(
        201,
        {"id": fund.pk, "area_id": fund.area_id, "year": fund.year, "name": fund.name,
         "amount": fund.amount, "remaining": projects.fund_balance(fund)},
    )  # fmt: skip


# --- calls ---------------------------------------------------------------------------------
@router.post("/partner-projects/{project_id}/calls", response=responses(CallDetail, 201))
def open_call(request: HttpRequest, project_id: int, body: CallIn) -> Status[dict[str, Any]]:
    """发布公开招募：评分标准（权重为整数，合计 100）、报名截止时间、评审组。/ Open a call
    with criteria (whole weights summing to 100), a closing time and the panel."""
    user = acting_user(request)
    call = calls.open_call(
        user, row_id(project_id), title=body.title, text=body.text, criteria=body.criteria,
        closes_at=body.closes_at, opens_at=body.opens_at, panel=body.panel,
    )  # fmt: skip
    return Status(201, call_detail(user, call.pk))


@router.get("/partner-calls/{call_id}", response=responses(CallDetail))
def get_call(request: HttpRequest, call_id: int) -> dict[str, Any]:
    """一次公开招募：报名、每位评审的评分、加权得分与排名、遴选结果。/ A call with its
    applications, every reviewer's scores, the weighted totals, ranking and selection."""
    return call_detail(acting_user(request), call_id)


@router.post("/partner-calls/{call_id}/applications", response=responses(ApplicationOut, 201))
def apply(request: HttpRequest, call_id: int, body: ApplicationIn) -> Status[dict[str, Any]]:
    """录入合伙人报名（截止前；每个合伙人一次；报价不超过项目限价）。/ Enter a partner's
    application before the call closes (one each; the price under the project's cap)."""
    app = calls.apply(
        acting_user(request), row_id(call_id), partner_id=body.partner_id, plan=body.plan,
        offered_price=body.offered_price,
    )  # fmt: skip
    return Status(
        201,
        {"id": app.pk, "call_id": app.call_id, "partner_id": app.partner_id,
         "offered_price": app.offered_price, "submitted_at": app.submitted_at},
    )  # fmt: skip


@router.post("/partner-calls/{call_id}/close", response=responses(CallDetail))
def close_call(request: HttpRequest, call_id: int) -> dict[str, Any]:
    """截止报名，开始评审。/ Close applications; the panel scores next."""
    user = acting_user(request)
    calls.close(user, row_id(call_id))
    return call_detail(user, call_id)


@router.post("/partner-applications/{application_id}/scores", response=responses(CallDetail))
def score(request: HttpRequest, application_id: int, body: ScoresIn) -> dict[str, Any]:
    """评审组成员为一份报名逐项评分（0–100）。/ A panel member scores one application on
    every criterion (0–100)."""
    user = acting_user(request)
    rows = calls.score(user, row_id(application_id), body.scores)
    return call_detail(user, rows[0].application.call_id)


@router.post("/partner-calls/{call_id}/selection", response=responses(CallDetail))
def select(request: HttpRequest, call_id: int, body: SelectionIn) -> dict[str, Any]:
    """社区党委审定遴选结果：得分最高者，或写明理由另选。/ The committee selects the top
    application, or another with its reasons."""
    user = acting_user(request)
    calls.select(user, row_id(call_id), application_id=body.application_id, reasons=body.reasons)
    return call_detail(user, call_id)


@router.post("/partner-calls/{call_id}/publish", response=responses(CallDetail))
def publish(
    request: HttpRequest, call_id: int, file: File[UploadedFile], title: Form[str] = ""
) -> dict[str, Any]:
    """公示遴选结果（上传公示文件）。/ Publish the result with its notice document."""
    user = acting_user(request)
    calls.publish(user, row_id(call_id), file, title=title)
    return call_detail(user, call_id)


# --- agreements ----------------------------------------------------------------------------
@router.post("/partner-projects/{project_id}/agreements", response=responses(AgreementOut, 201))
def draft_agreement(request: HttpRequest, project_id: int, body: TermsIn) -> Status[dict[str, Any]]:
    """拟定协议（或到期后续签）：期限、双方义务、限价（不高于项目限价）、退出条件、预警与
    清退信用分。/ Draft the agreement (or its renewal) with the selected partner."""
    agreement = agreements.draft(
        acting_user(request), row_id(project_id), agreements.Terms(**body.dict())
    )
    return Status(201, agreement_out(agreement))


@router.get("/partner-agreements/{agreement_id}", response=responses(AgreementOut))
def get_agreement(request: HttpRequest, agreement_id: int) -> dict[str, Any]:
    """一份合作协议。/ One agreement."""
    return agreement_out(agreements.get_agreement(acting_user(request), row_id(agreement_id)))


@router.post("/partner-agreements/{agreement_id}/sign", response=responses(AgreementOut))
def sign_agreement(request: HttpRequest, agreement_id: int) -> dict[str, Any]:
    """签订协议（须先上传签字盖章的协议文件；社区党委）。/ Sign a draft once its signed copy
    is filed (the committee)."""
    user = acting_user(request)
    agreements.sign(user, row_id(agreement_id))
    return agreement_out(agreements.get_agreement(user, agreement_id))
