"""The five-stage rule of a partner project (立项 → 发包 → 协议 → 监管 → 评估), in one place.

A project is in one stage at a time (``Project.stage``). It moves on only through an
approved :class:`~jiayuan.partners.models.StageDecision` of the stage it is in, taken by
the community party committee (``Perm.SUPERVISE`` where the project lives), and only
when nothing is :func:`missing` for that stage: the stage's documents
(:data:`REQUIRED_DOCUMENTS`) and its prerequisites (the call's published selection
before 发包 is approved, a signed agreement before 协议, an inspection before 监管, a
quarterly evaluation before 评估). A stage is never skipped, only the current stage can
be decided, and two decisions at once are serialised by a row lock on the project.

A rejection of 立项 ends the project (status 未通过); a rejection of a later stage
leaves the project where it is, to be decided again once the committee's reasons are
met. Approving 发包 sets the project's partner (the selected application's).

In operation (监管 and 评估 repeat every quarter): after 监管 is approved the project's
stage reads 评估 and stays there for as long as it runs. Inspections go on (监管 is "at
least" reached), each quarter's evaluation is an :class:`Evaluation` row, and 评估 is
approved once per evaluated quarter: an approval of 评估 needs one more quarterly
evaluation than there are approvals of 评估 already.

Callers in other parts ask :func:`require` ("the project is at least in 监管 and still
running") and :func:`in_operation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed

from .choices import (
    STAGE_ORDER,
    AgreementStatus,
    CallStatus,
    Decision,
    DocumentKind,
    ProjectStatus,
    Stage,
)
from .models import Project, StageDecision

__all__ = [
    "REQUIRED_DOCUMENTS",
    "STAGE_ORDER",
    "Missing",
    "decide",
    "in_operation",
    "index",
    "missing",
    "next_stage",
    "operating_q",
    "require",
    "stepper",
]

#: The documents each stage needs before the committee may approve it.
REQUIRED_DOCUMENTS: dict[str, list[str]] = {
    Stage.PROPOSAL: [DocumentKind.PROPOSAL],
    Stage.CALL: [DocumentKind.CALL, DocumentKind.RESULT],
    Stage.AGREEMENT: [DocumentKind.AGREEMENT],
    Stage.SUPERVISION: [DocumentKind.INSPECTION],
    Stage.EVALUATION: [DocumentKind.EVALUATION],
}
#: What the committee's decision of each stage is called.
DECISION_NAMES: dict[str, str] = {
    Stage.PROPOSAL: "立项审批",
    Stage.CALL: "遴选结果审定",
    Stage.AGREEMENT: "协议审定",
    Stage.SUPERVISION: "监管报告审定",
    Stage.EVALUATION: "季度评估审定",
}
MAX_REASONS = 2000
_OPERATING = (Stage.SUPERVISION, Stage.EVALUATION)


def index(stage: str) -> int:
    """The position of ``stage`` in :data:`STAGE_ORDER` (立项 is 0)."""
    try:
        return STAGE_ORDER.index(stage)
    except ValueError:
        raise ValidationFailed("阶段无效", f"unknown stage {stage!r}", field="stage") from None


def next_stage(stage: str) -> str:
    """The stage after ``stage``; 评估 is followed by itself (quarter after quarter)."""
    i = index(stage)
    return STAGE_ORDER[min(i + 1, len(STAGE_ORDER) - 1)]


def operating_q(prefix: str = "") -> Q:
    """Projects in operation (running, past 协议): ``Project.objects.filter(operating_q())``
    or, through a relation, ``Feedback.objects.filter(operating_q("project__"))``."""
    return Q(**{f"{prefix}status": ProjectStatus.OPEN, f"{prefix}stage__in": _OPERATING})


def in_operation(project: Project) -> bool:
    """Whether ``project`` runs its services now (its agreement approved, not ended)."""
    return project.status == ProjectStatus.OPEN and project.stage in _OPERATING


def require(project: Project, at_least: str, *, live: bool = True) -> None:
    """409 unless ``project`` has reached ``at_least`` (and, with ``live``, still runs)."""
    if live and project.status != ProjectStatus.OPEN:
        raise Conflict(
            f"项目{project.get_status_display()}，不能再办理",
            f"the project is {project.status}",
        )
    if index(project.stage) < index(at_least):
        label = Stage(at_least).label
        raise Conflict(
            f"项目尚未进入{label}阶段（当前：{project.get_stage_display()}）",
            f"the project has not reached the {at_least} stage (it is in {project.stage})",
        )


@dataclass(frozen=True)
class Missing:
    """One thing a stage still lacks: a document of ``kind``, or another prerequisite."""

    code: str
    zh: str
    en: str
    kind: str = ""

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "zh": self.zh, "en": self.en, "kind": self.kind}


def missing(project: Project, stage: str) -> list[Missing]:
    """What ``stage`` of ``project`` still lacks before it can be approved, in order: the
    earlier stages' approvals, the stage's documents, its prerequisites. Empty when the
    committee may approve it."""
    from .models import Agreement, Call, Document, Evaluation, Inspection

    position = index(stage)
    out: list[Missing] = []
    if index(project.stage) < position:
        before = STAGE_ORDER[position - 1]
        out.append(
            Missing(
                "previous_stage",
                f"{Stage(before).label}阶段尚未通过审批",
                f"the {before} stage is not approved yet",
            )
        )
    held = set(Document.objects.filter(project=project, stage=stage).values_list("kind", flat=True))
    for kind in REQUIRED_DOCUMENTS[stage]:
        if kind not in held:
            label = DocumentKind(kind).label
            out.append(Missing("document", f"缺少{label}", f"the {kind} document is missing", kind))
    if stage == Stage.CALL:
        published = Call.objects.filter(
            project=project, status=CallStatus.PUBLISHED, selected__isnull=False
        ).exists()
        if not published:
            out.append(
                Missing(
                    "published_selection",
                    "公开招募尚未公示遴选结果",
                    "no open call of the project has a published selection",
                )
            )
    elif stage == Stage.AGREEMENT:
        if not Agreement.objects.filter(project=project, status=AgreementStatus.ACTIVE).exists():
            out.append(
                Missing("signed_agreement", "合作协议尚未签订", "no signed agreement is in force")
            )
    elif stage == Stage.SUPERVISION:
        if not Inspection.objects.filter(project=project).exists():
            out.append(Missing("inspection", "尚无监管检查记录", "no inspection is recorded"))
    elif stage == Stage.EVALUATION:
        approved = _approvals(project, Stage.EVALUATION)
        if Evaluation.objects.filter(project=project).count() <= approved:
            out.append(
                Missing(
                    "evaluation",
                    "尚无待审定的季度评估",
                    "no quarterly evaluation awaits approval",
                )
            )
    return out


def _approvals(project: Project, stage: str) -> int:
    return StageDecision.objects.filter(
        project=project, stage=stage, decision=Decision.APPROVED
    ).count()


def may_decide(user: Any, project: Project) -> bool:
    """Whether ``user`` speaks for the community party committee where ``project`` is."""
    return path_allowed(user, project.area_path, Perm.SUPERVISE)


def decide(
    project: Project | int, stage: str, decision: str, reasons: str, user: Any
) -> StageDecision:
    """The community party committee decides ``stage`` of ``project``.

    Only the project's current stage can be decided, only while the project runs. An
    approval needs nothing :func:`missing` and moves the project to the next stage (评估
    stays 评估, one approval per evaluated quarter); approving 发包 also sets the
    project's partner. A rejection needs reasons; rejecting 立项 ends the project (未通过).
    ``user`` holding ``Perm.SUPERVISE`` at the project's area decides; a user who only
    sees the project gets 403, anyone else 404. ``user=None`` is the system (demo)."""
    from .models import Call

    pk = project.pk if isinstance(project, Project) else project
    if decision not in Decision.values:
        raise ValidationFailed("决定无效", f"invalid decision {decision!r}", field="decision")
    index(stage)
    reasons = (reasons or "").strip()
    if len(reasons) > MAX_REASONS:
        raise ValidationFailed(
            f"理由最多 {MAX_REASONS} 个字",
            f"reasons over {MAX_REASONS} characters",
            field="reasons",
        )
    if decision == Decision.REJECTED and not reasons:
        raise ValidationFailed("不通过须写明理由", "a rejection needs reasons", field="reasons")
    with transaction.atomic():
        locked = Project.objects.select_for_update().filter(pk=pk).first()
        if locked is None:
            raise NotFound()
        if user is not None and not may_decide(user, locked):
            if path_allowed(user, locked.area_path, Perm.VIEW):
                raise PermissionDenied(
                    "只有社区党委可以作出阶段决定",
                    "only the community party committee decides a stage",
                )
            raise NotFound()
        require(locked, Stage.PROPOSAL)
        if locked.stage != stage:
            raise Conflict(
                f"项目当前处于{locked.get_stage_display()}阶段，不能对{Stage(stage).label}阶段作出决定",
                f"the project is in the {locked.stage} stage, not {stage}",
            )
        before = audit.snapshot(locked)
        if decision == Decision.APPROVED:
            lacking = missing(locked, stage)
            if lacking:
                raise Conflict(
                    "尚不能通过：" + "；".join(m.zh for m in lacking),
                    "cannot approve yet: " + "; ".join(m.en for m in lacking),
                    detail=[m.as_json() for m in lacking],
                )
            if stage == Stage.CALL:
                call = (
                    Call.objects.filter(project=locked, status=CallStatus.PUBLISHED)
                    .exclude(selected=None)
                    .select_related("selected")
                    .order_by("-published_at", "-pk")
                    .first()
                )
                if call is None or call.selected is None:  # missing() checked it
                    raise Conflict("遴选结果尚未公示", "no published selection")
                locked.partner_id = call.selected.partner_id
            locked.stage = next_stage(stage)
        elif stage == Stage.PROPOSAL:
            locked.status = ProjectStatus.REJECTED
        row = StageDecision(
            project=locked,
            stage=stage,
            decision=decision,
            reasons=reasons,
            decided_by=user,
            decided_at=timezone.now(),
        )
        row.area_path = locked.area_path
        row.save()
        locked.save(update_fields=["stage", "status", "partner", "updated_at"])
        audit.record(
            AuditEntry.Action.CREATE, row, user, audit.snapshot(row), DECISION_NAMES[stage]
        )
        delta = audit.diff(before, audit.snapshot(locked))
        if delta:
            audit.record(AuditEntry.Action.UPDATE, locked, user, delta, DECISION_NAMES[stage])
    if isinstance(project, Project):
        project.stage, project.status = locked.stage, locked.status
        project.partner_id = locked.partner_id
    return row


def stepper(project: Project) -> list[dict[str, Any]]:
    """The five stages as a page's stepper shows them: label, and whether each is done,
    the current one, or still ahead (in words, not colour only)."""
    current = index(project.stage)
    operating_done = project.stage == Stage.EVALUATION and _approvals(project, Stage.EVALUATION)
    steps = []
    for i, stage in enumerate(STAGE_ORDER):
        if i < current or (i == current and operating_done):
            state, word = "done", "已通过"
        elif i == current and project.status == ProjectStatus.OPEN:
            state, word = "current", "进行中"
        elif i == current:
            state, word = "stopped", project.get_status_display()
        else:
            state, word = "ahead", "未开始"
        steps.append(
            {"stage": stage, "label": str(Stage(stage).label), "state": state, "word": word}
        )
    return steps
