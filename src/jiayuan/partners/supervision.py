"""监管: supervision groups, their inspections of projects, findings with rectification
deadlines, and the credit a missed deadline costs.

Who may do what:

- a supervision group (监督团, e.g. 永续社区's 食堂监督团) is managed by the holders of
  ``Perm.SUPERVISE`` at its area; its members are residents and cadres of that area
  (person records), and it watches projects of that area;
- an inspection and its findings are recorded by a holder of ``Perm.SUPERVISE`` or
  ``Perm.SERVE`` at the project's area, or by a member of a group watching the project
  (grid workers, branch secretaries and 三长 sit on the groups); only a project at least
  in 监管 (:func:`jiayuan.partners.stages.require`) can be inspected;
- the same people record a finding's rectification (its text and when it was done).

A finding past its deadline and not rectified costs the partner
``settings.PARTNERS_CREDIT_MISSED_RECTIFICATION`` once (:func:`penalise_overdue`, run by
the periodic job in :mod:`jiayuan.partners.supervision_jobs`): the ledger entry's
evidence is ``finding:<id>`` and ``Finding.penalised`` records that it was taken.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import FileResponse
from django.utils import timezone

from jiayuan.community.residents import person_of
from jiayuan.community.rooms import clean_text
from jiayuan.core import audit, images
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_q
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from . import credit, stages
from .choices import CreditReason, PartnerStatus, Severity, Stage
from .models import Finding, Inspection, Project, SupervisionGroup

MAX_ID = 2**63 - 1  # a larger id names no row (and SQLite cannot compare it)
MAX_MEMBERS = 200
MAX_PROJECTS = 200
MAX_FINDINGS = 20  # findings recorded with one inspection
MAX_DEADLINE_DAYS = 366  # a rectification deadline further away is a typing error
TEXT_MAX = 2000


def check_id(pk: Any, what: str = "对象", en: str = "object") -> int:
    """``pk`` as a row id, or 404 (ids beyond 64 bits name no row)."""
    if isinstance(pk, bool) or not isinstance(pk, int) or not 1 <= pk <= MAX_ID:
        raise NotFound(f"{what}不存在", f"{en} not found")
    return pk


# --- who watches what ---------------------------------------------------------------------
def member_project_ids(user: Any) -> list[int]:
    """Projects watched by a supervision group the user's person belongs to."""
    person = person_of(user)
    if person is None:
        return []
    cache = "_jy_supervised_projects"
    if not hasattr(user, cache):
        ids = SupervisionGroup.projects.through.objects.filter(
            supervisiongroup__members=person
        ).values_list("project_id", flat=True)
        setattr(user, cache, sorted(set(ids)))
    return list(getattr(user, cache))


def projects_visible_to(user: Any) -> QuerySet[Project]:
    """Projects the user may see here: staff scope, or the projects their group watches."""
    q = scope_q(user, Perm.VIEW)
    watched = member_project_ids(user)
    if watched:
        q |= Q(pk__in=watched)
    return Project.objects.filter(q).select_related("area", "partner")


def get_project(user: Any, project_id: int) -> Project:
    """One project the user may see (404 otherwise)."""
    project = projects_visible_to(user).filter(pk=check_id(project_id, "项目", "project")).first()
    if project is None:
        raise NotFound("项目不存在", "project not found")
    return project


def is_group_member(user: Any, project: Project) -> bool:
    return project.pk in member_project_ids(user)


def may_inspect(user: Any, project: Project) -> bool:
    """Whether ``user`` may record inspections, findings and rectifications of ``project``."""
    if user is None:
        return True
    return (
        path_allowed(user, project.area_path, Perm.SUPERVISE)
        or path_allowed(user, project.area_path, Perm.SERVE)
        or is_group_member(user, project)
    )


def inspectable_projects(user: Any) -> QuerySet[Project]:
    """Projects in operation the user may record inspections of (for the form's choices)."""
    q = scope_q(user, Perm.SUPERVISE) | scope_q(user, Perm.SERVE)
    watched = member_project_ids(user)
    if watched:
        q |= Q(pk__in=watched)
    return Project.objects.filter(q, stages.operating_q()).order_by("area_path", "name", "pk")


def _ensure_may_inspect(user: Any, project: Project) -> None:
    if not may_inspect(user, project):
        raise PermissionDenied(
            "只有社区工作人员或项目监督团成员可以记录监管检查",
            "only staff of the area or members of the project's supervision group may "
            "record inspections",
        )


# --- supervision groups -------------------------------------------------------------------
def groups_visible_to(user: Any) -> QuerySet[SupervisionGroup]:
    """Groups in the user's scope, and the groups the user's person belongs to."""
    q = scope_q(user, Perm.VIEW)
    person = person_of(user)
    if person is not None:
        q |= Q(members=person)
    pks = SupervisionGroup.objects.filter(q).values("pk")
    return SupervisionGroup.objects.filter(pk__in=pks).select_related("area")


def get_group(user: Any, group_id: int, *, detail: bool = False) -> SupervisionGroup:
    qs = groups_visible_to(user)
    if detail:
        qs = qs.prefetch_related("members", "projects")
    group = qs.filter(pk=check_id(group_id, "监督团", "group")).first()
    if group is None:
        raise NotFound("监督团不存在", "supervision group not found")
    return group


def _ensure_supervise(user: Any, path: str) -> None:
    if user is not None and not path_allowed(user, path, Perm.SUPERVISE):
        if path_allowed(user, path, Perm.VIEW):
            raise PermissionDenied(
                "只有社区党组织可以管理监督团", "only the community's party organisation "
                "(SUPERVISE) may manage supervision groups",
            )  # fmt: skip
        raise NotFound("区域不存在", "area not found")


def _members(area: Area, person_ids: Sequence[int]) -> list[Person]:
    raw = list(person_ids)
    if any(isinstance(pk, bool) or not isinstance(pk, int) or not 1 <= pk <= MAX_ID for pk in raw):
        raise ValidationFailed("编号无效", "an id is out of range", field="member_ids")
    ids = sorted(set(raw))
    if len(ids) > MAX_MEMBERS:
        raise ValidationFailed(
            f"监督团成员不能超过{MAX_MEMBERS}人", f"at most {MAX_MEMBERS} members",
            field="member_ids",
        )  # fmt: skip
    found = list(
        Person.objects.filter(
            pk__in=ids, area_path__startswith=area.path, death_date__isnull=True
        ).order_by("pk")
    )
    if len(found) != len(ids):
        raise ValidationFailed(
            "成员须是本区域的在世居民", "members are living residents of the group's area",
            field="member_ids",
        )  # fmt: skip
    return found


def _projects(area: Area, project_ids: Sequence[int]) -> list[Project]:
    raw = list(project_ids)
    if any(isinstance(pk, bool) or not isinstance(pk, int) or not 1 <= pk <= MAX_ID for pk in raw):
        raise ValidationFailed("编号无效", "an id is out of range", field="project_ids")
    ids = sorted(set(raw))
    if len(ids) > MAX_PROJECTS:
        raise ValidationFailed(
            f"监督项目不能超过{MAX_PROJECTS}个", f"at most {MAX_PROJECTS} projects",
            field="project_ids",
        )  # fmt: skip
    found = list(Project.objects.filter(pk__in=ids, area_path__startswith=area.path))
    if len(found) != len(ids):
        raise ValidationFailed(
            "只能监督本区域的项目", "a group watches projects of its own area",
            field="project_ids",
        )  # fmt: skip
    return found


def _forget(user: Any) -> None:
    if user is not None and hasattr(user, "_jy_supervised_projects"):
        delattr(user, "_jy_supervised_projects")


def create_group(
    actor: Any,
    *,
    area_id: int,
    name: str,
    member_ids: Sequence[int] = (),
    project_ids: Sequence[int] = (),
) -> SupervisionGroup:
    """Form a supervision group (监督团) in an area, with its members and projects."""
    area = Area.objects.filter(pk=check_id(area_id, "区域", "area")).first()
    if area is None:
        raise NotFound("区域不存在", "area not found")
    _ensure_supervise(actor, area.path)
    group = SupervisionGroup(
        area=area, name=clean_text(name, field="name", label="监督团名称", max_length=100)
    )
    members = _members(area, member_ids)
    projects = _projects(area, project_ids)
    with transaction.atomic():
        group.save()
        group.members.set(members)
        group.projects.set(projects)
        changes = audit.snapshot(group)
        changes["members"] = [p.pk for p in members]
        changes["projects"] = [p.pk for p in projects]
        audit.record(AuditEntry.Action.CREATE, group, actor, changes)
    _forget(actor)
    return group


def update_group(
    actor: Any,
    group_id: int,
    *,
    name: str | None = None,
    member_ids: Sequence[int] | None = None,
    project_ids: Sequence[int] | None = None,
) -> SupervisionGroup:
    """Rename a group, or replace its members or its projects (audited)."""
    group = get_group(actor, group_id) if actor is not None else None
    if group is None:
        group = SupervisionGroup.objects.select_related("area").get(pk=group_id)
    if actor is not None and not path_allowed(actor, group.area_path, Perm.SUPERVISE):
        # the actor sees the group (get_group): a member, or staff without SUPERVISE
        raise PermissionDenied(
            "只有社区党组织可以管理监督团",
            "only the community's party organisation (SUPERVISE) may manage supervision groups",
        )
    with transaction.atomic():
        group = SupervisionGroup.objects.select_for_update().select_related("area").get(pk=group.pk)
        changes: dict[str, Any] = {}
        if name is not None:
            new = clean_text(name, field="name", label="监督团名称", max_length=100)
            if new != group.name:
                changes["name"] = [group.name, new]
                group.name = new
                group.save(update_fields=["name", "updated_at"])
        if member_ids is not None:
            before = sorted(group.members.values_list("pk", flat=True))
            members = _members(group.area, member_ids)
            group.members.set(members)
            after = [p.pk for p in members]
            if before != after:
                changes["members"] = [before, after]
        if project_ids is not None:
            before = sorted(group.projects.values_list("pk", flat=True))
            projects = _projects(group.area, project_ids)
            group.projects.set(projects)
            after = sorted(p.pk for p in projects)
            if before != after:
                changes["projects"] = [before, after]
        if changes:
            audit.record(AuditEntry.Action.UPDATE, group, actor, changes)
    _forget(actor)
    return group


# --- inspections and findings -------------------------------------------------------------
@dataclass(frozen=True)
class FindingIn:
    """A finding as typed on the inspection form or sent to the API."""

    text: str
    severity: str
    rectify_by: dt.date
    photo: Any = None  # an uploaded file or raw bytes


def inspections_visible_to(user: Any) -> QuerySet[Inspection]:
    q = scope_q(user, Perm.VIEW)
    watched = member_project_ids(user)
    if watched:
        q |= Q(project_id__in=watched)
    return Inspection.objects.filter(q).select_related("project", "group", "inspector")


def findings_visible_to(user: Any) -> QuerySet[Finding]:
    q = scope_q(user, Perm.VIEW)
    watched = member_project_ids(user)
    if watched:
        q |= Q(project_id__in=watched)
    return Finding.objects.filter(q).select_related("project", "project__partner", "inspection")


def get_finding(user: Any, finding_id: int) -> Finding:
    finding = findings_visible_to(user).filter(pk=check_id(finding_id, "问题", "finding")).first()
    if finding is None:
        raise NotFound("问题不存在", "finding not found")
    return finding


def _check_when(value: dt.datetime | None, field: str, label: str) -> dt.datetime:
    now = timezone.now()
    if value is None:
        return now
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + dt.timedelta(minutes=5):
        raise ValidationFailed(f"{label}不能晚于现在", f"{field} is in the future", field=field)
    if value < now - dt.timedelta(days=MAX_DEADLINE_DAYS):
        raise ValidationFailed(f"{label}早于一年前", f"{field} is over a year ago", field=field)
    return value


def _clean_finding(item: FindingIn, index: int, *, today: dt.date) -> FindingIn:
    prefix = f"findings.{index}." if index >= 0 else ""
    text = clean_text(item.text, field=f"{prefix}text", label="问题描述", max_length=TEXT_MAX)
    if item.severity not in Severity.values:
        raise ValidationFailed("问题程度无效", "unknown severity", field=f"{prefix}severity")
    if not isinstance(item.rectify_by, dt.date) or isinstance(item.rectify_by, dt.datetime):
        raise ValidationFailed(
            "请填写整改期限", "rectify_by is a date", field=f"{prefix}rectify_by"
        )
    if item.rectify_by < today:
        raise ValidationFailed(
            "整改期限不能早于今天", "the deadline is in the past", field=f"{prefix}rectify_by"
        )
    if item.rectify_by > today + dt.timedelta(days=MAX_DEADLINE_DAYS):
        raise ValidationFailed(
            "整改期限不能超过一年", "the deadline is more than a year away",
            field=f"{prefix}rectify_by",
        )  # fmt: skip
    return FindingIn(text, item.severity, item.rectify_by, item.photo)


def _image(photo: Any) -> images.CleanImage | None:
    if photo is None or photo == b"":
        return None
    raw = photo if isinstance(photo, bytes) else images.read_upload(photo)
    return images.clean(raw)


def _group_of(user: Any, project: Project, group_id: int | None) -> SupervisionGroup | None:
    groups = SupervisionGroup.objects.filter(projects=project)
    if group_id is not None:
        group = groups.filter(pk=check_id(group_id, "监督团", "group")).first()
        if group is None:
            raise ValidationFailed(
                "该监督团不监督此项目", "the group does not watch this project", field="group_id"
            )
        return group  # type: ignore[no-any-return]
    person = person_of(user)
    if person is not None:
        return groups.filter(members=person).order_by("pk").first()  # type: ignore[no-any-return]
    return None


def _snapshot(finding: Finding) -> dict[str, Any]:
    data = audit.snapshot(finding)
    data["photo"] = finding.photo.name or ""  # the stored name, not the file object
    return data


def _save_finding(
    actor: Any, project: Project, inspection: Inspection | None, item: FindingIn
) -> Finding:
    finding = Finding(
        project=project,
        inspection=inspection,
        text=item.text,
        severity=item.severity,
        rectify_by=item.rectify_by,
    )
    image = _image(item.photo)
    if image is not None:
        name = f"{secrets.token_hex(16)}.{image.ext}"
        finding.photo.save(name, ContentFile(image.data), save=False)
    try:
        finding.save()
        audit.record(AuditEntry.Action.CREATE, finding, actor, _snapshot(finding))
    except Exception:
        if finding.photo:
            finding.photo.delete(save=False)
        raise
    return finding


def record_inspection(
    actor: Any,
    project_id: int,
    *,
    summary: str,
    inspected_at: dt.datetime | None = None,
    group_id: int | None = None,
    findings: Iterable[FindingIn] = (),
) -> Inspection:
    """Record an inspection of a project in operation (at least in 监管) with its findings,
    each with a severity, a rectification deadline and optionally a photo (cleaned by
    :mod:`jiayuan.core.images`). All of it or nothing."""
    project = (
        get_project(actor, project_id) if actor is not None else Project.objects.get(pk=project_id)
    )
    _ensure_may_inspect(actor, project)
    stages.require(project, Stage.SUPERVISION)
    summary = clean_text(summary, field="summary", label="检查情况", max_length=TEXT_MAX)
    when = _check_when(inspected_at, "inspected_at", "检查时间")
    items = list(findings)
    if len(items) > MAX_FINDINGS:
        raise ValidationFailed(
            f"一次检查最多记录{MAX_FINDINGS}个问题", f"at most {MAX_FINDINGS} findings",
            field="findings",
        )  # fmt: skip
    today = timezone.localdate()
    cleaned = [_clean_finding(item, i, today=today) for i, item in enumerate(items)]
    group = _group_of(actor, project, group_id)
    with transaction.atomic():
        inspection = Inspection(
            project=project,
            group=group,
            inspected_at=when,
            summary=summary,
            inspector=actor if getattr(actor, "pk", None) else None,
        )
        inspection.save()
        audit.record(AuditEntry.Action.CREATE, inspection, actor, audit.snapshot(inspection))
        for item in cleaned:
            _save_finding(actor, project, inspection, item)
    return inspection


def report_finding(actor: Any, project_id: int, item: FindingIn) -> Finding:
    """Record a problem between inspections (an incident): a finding of no inspection."""
    project = (
        get_project(actor, project_id) if actor is not None else Project.objects.get(pk=project_id)
    )
    _ensure_may_inspect(actor, project)
    stages.require(project, Stage.SUPERVISION)
    cleaned = _clean_finding(item, -1, today=timezone.localdate())
    with transaction.atomic():
        return _save_finding(actor, project, None, cleaned)


def rectify(
    actor: Any, finding_id: int, *, text: str, rectified_at: dt.datetime | None = None
) -> Finding:
    """Record that a finding was rectified: what was done and when (not in the future).
    A finding is rectified once; one rectified after its deadline keeps its penalty."""
    finding = (
        get_finding(actor, finding_id) if actor is not None else Finding.objects.get(pk=finding_id)
    )
    _ensure_may_inspect(actor, finding.project)
    text = clean_text(text, field="text", label="整改情况", max_length=TEXT_MAX)
    when = _check_when(rectified_at, "rectified_at", "整改时间")
    with transaction.atomic():
        finding = Finding.objects.select_for_update().select_related("project").get(pk=finding.pk)
        if finding.rectified_at is not None:
            raise Conflict("该问题已整改", "the finding is rectified already")
        if when < finding.created_at - dt.timedelta(minutes=5):
            raise ValidationFailed(
                "整改时间不能早于发现问题的时间", "rectified before it was found",
                field="rectified_at",
            )  # fmt: skip
        finding.rectified_at = when
        finding.rectification = text
        finding.save(update_fields=["rectified_at", "rectification", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            finding,
            actor,
            {"rectified_at": [None, when.isoformat()], "rectification": ["", text]},
        )
    return finding


def attach_photo(actor: Any, finding_id: int, upload: Any) -> Finding:
    """Add the photo of a finding that has none yet (cleaned by :mod:`jiayuan.core.images`)."""
    finding = (
        get_finding(actor, finding_id) if actor is not None else Finding.objects.get(pk=finding_id)
    )
    _ensure_may_inspect(actor, finding.project)
    image = _image(upload)
    if image is None:
        raise ValidationFailed("请选择照片", "no photo was sent", field="file")
    with transaction.atomic():
        finding = Finding.objects.select_for_update().select_related("project").get(pk=finding.pk)
        if finding.photo:
            raise Conflict("该问题已有照片", "the finding has a photo already")
        finding.photo.save(
            f"{secrets.token_hex(16)}.{image.ext}", ContentFile(image.data), save=False
        )
        try:
            finding.save(update_fields=["photo", "updated_at"])
            audit.record(
                AuditEntry.Action.UPDATE, finding, actor, {"photo": ["", finding.photo.name]}
            )
        except Exception:
            finding.photo.delete(save=False)
            raise
    return finding


def is_overdue(finding: Finding, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return finding.rectified_at is None and finding.rectify_by < today


def deadline_words(finding: Finding, today: dt.date | None = None) -> str:
    """The deadline in words: 已整改, 逾期N天, 今天到期, 还剩N天."""
    today = today or timezone.localdate()
    if finding.rectified_at is not None:
        late = timezone.localdate(finding.rectified_at) > finding.rectify_by
        return "逾期后整改" if late else "已按期整改"
    days = (finding.rectify_by - today).days
    if days < 0:
        return f"逾期{-days}天未整改"
    if days == 0:
        return "今天到期"
    return f"还剩{days}天"


def overdue_findings(today: dt.date | None = None) -> QuerySet[Finding]:
    """Findings past their deadline, not rectified and not yet penalised."""
    today = today or timezone.localdate()
    return (
        Finding.objects.filter(rectified_at__isnull=True, rectify_by__lt=today, penalised=False)
        .exclude(project__partner__status=PartnerStatus.DISMISSED)  # a frozen ledger
        .order_by("pk")
    )


def penalise_overdue(today: dt.date | None = None) -> int:
    """Deduct ``PARTNERS_CREDIT_MISSED_RECTIFICATION`` from the partner of each finding past
    its deadline and not rectified, once per finding (the finding is locked and marked
    ``penalised``; the ledger refuses the same evidence twice). Returns how many."""
    delta = settings.PARTNERS_CREDIT_MISSED_RECTIFICATION
    done = 0
    for pk in list(overdue_findings(today).values_list("pk", flat=True)):
        with transaction.atomic():
            finding = (
                Finding.objects.select_for_update(of=("self",))
                .select_related("project__partner")
                .filter(pk=pk, penalised=False, rectified_at__isnull=True)
                .first()
            )
            if finding is None:
                continue  # rectified or penalised since the list was read
            partner = finding.project.partner
            if partner is None:
                continue  # nobody to deduct from (a project in 监管 always has a partner)
            credit.record(
                partner,
                delta,
                CreditReason.MISSED_RECTIFICATION,
                note=f"逾期未整改：{finding.text[:60]}",
                evidence=f"finding:{finding.pk}",
                decided_by=None,
            )
            finding.penalised = True
            finding.save(update_fields=["penalised", "updated_at"])
            audit.record(
                AuditEntry.Action.UPDATE, finding, None, {"penalised": [False, True]},
                "missed rectification deadline",
            )  # fmt: skip
            done += 1
    return done


def photo_response(user: Any, finding_id: int) -> FileResponse:
    """Stream a finding's photo to a user who may see the finding (404 otherwise)."""
    finding = get_finding(user, finding_id)
    if not finding.photo:
        raise NotFound("照片不存在", "no photo")
    try:
        handle = finding.photo.open("rb")
    except FileNotFoundError:
        raise NotFound("照片文件不存在", "the photo file is missing") from None
    ext = finding.photo.name.rsplit(".", 1)[-1]
    content_type = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(
        ext, "application/octet-stream"
    )
    resp = FileResponse(handle, content_type=content_type)
    resp["Content-Disposition"] = f'inline; filename="finding-{finding.pk}.{ext}"'
    resp["Cache-Control"] = "private, max-age=3600"
    resp["X-Content-Type-Options"] = "nosniff"
    return resp
