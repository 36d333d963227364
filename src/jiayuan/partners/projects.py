"""Partner projects (项目+市场): proposing and editing a project, its documents, the funds
projects draw on.

A project belongs to a community. It uses one space of that community — a service
position (阵地) or a room of one — and a space holds one live project (status 进行中) at a
time; a project that ended, was dismissed or was not approved frees its space. It says
when it uses the space (hours, as a room's opening hours), its price class (免费: no price
cap; 低偿 and 微利: a price cap every price stays under), the 一老一小 groups it serves
(the labels the community services use, :data:`jiayuan.community.wishes.TARGET_GROUPS`)
and its budget, which the year's fund must still hold: the budgets of the fund's live
projects never exceed its amount (exact :class:`~decimal.Decimal`, the fund row locked).

Who acts: proposing and editing needs ``Perm.SERVE`` or ``Perm.SUPERVISE`` in the
community; a user who only sees the project gets 403, anyone else 404. A project is
edited only while its 立项 is undecided. Its stages move through
:mod:`jiayuan.partners.stages`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet, Sum

from jiayuan.community.models import Room, ServicePosition
from jiayuan.community.rooms import clean_text, parse_hours
from jiayuan.community.wishes import TARGET_GROUPS
from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.errors import row_id as check_id
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.org.paths import paths_above

from . import stages
from .choices import DocumentKind, PriceClass, ProjectStatus, Stage
from .models import Agreement, Call, Document, Fund, Project, StageDecision

#: The groups a project may serve: the short 一老一小 labels of the community services.
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(TARGET_GROUPS.values()))
MAX_AMOUNT = Decimal("9999999999.99")  # money fields hold 12 digits, 2 after the point
MIN_YEAR, MAX_YEAR = 2000, 2100


# --- input --------------------------------------------------------------------------------
def amount(value: Any, *, field: str, label: str, required: bool = True) -> Decimal | None:
    """An amount in yuan: a finite, non-negative number of at most 12 digits with at most
    two after the point (422 otherwise); ``None`` when empty and not required."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(f"请填写{label}", f"{field} is required", field=field)
        return None
    if isinstance(value, bool):
        raise ValidationFailed(f"{label}无效", f"{field} is not a number", field=field)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{label}无效", f"{field} is not a number", field=field) from None
    if not number.is_finite():
        raise ValidationFailed(f"{label}无效", f"{field} is not a finite number", field=field)
    if number < 0:
        raise ValidationFailed(f"{label}不能为负数", f"{field} is negative", field=field)
    if number > MAX_AMOUNT:
        raise ValidationFailed(f"{label}超出上限", f"{field} is over {MAX_AMOUNT}", field=field)
    if number != number.quantize(Decimal("0.01")):
        raise ValidationFailed(
            f"{label}最多两位小数", f"{field} has more than two decimals", field=field
        )
    return number.quantize(Decimal("0.01"))


def target_groups(values: Any) -> list[str]:
    """The 一老一小 groups a project serves, each one of :data:`GROUPS`, in that order."""
    if values in (None, ""):
        return []
    if isinstance(values, str):
        values = [v for v in values.replace("，", ",").split(",") if v.strip()]
    if not isinstance(values, list | tuple) or len(values) > len(GROUPS):
        raise ValidationFailed(
            "服务对象无效", "target_groups is a list of groups", field="target_groups"
        )
    chosen = {str(v).strip() for v in values}
    unknown = chosen - set(GROUPS)
    if unknown:
        raise ValidationFailed(
            f"服务对象无效：{'、'.join(sorted(unknown))}",
            f"unknown target groups {sorted(unknown)}",
            field="target_groups",
        )
    return [g for g in GROUPS if g in chosen]


@dataclass
class ProjectInput:
    """What a proposal says (raw values from a form or a JSON body; checked by
    :func:`propose` and :func:`edit`)."""

    name: Any = ""
    content: Any = ""
    area_id: Any = None
    position_id: Any = None
    room_id: Any = None
    hours: Any = None
    price_class: Any = ""
    price_cap: Any = None
    target_groups: Any = field(default_factory=list)
    budget: Any = None
    fund_id: Any = None


# --- reading ------------------------------------------------------------------------------
def visible_projects(user: Any) -> QuerySet[Project]:
    """The projects ``user`` may read (their area in the user's VIEW scope)."""
    return Project.objects.visible_to(user)


def with_related(qs: QuerySet[Project]) -> QuerySet[Project]:
    return qs.select_related("area", "position", "room", "room__position", "partner", "fund")


def with_history(qs: QuerySet[Project]) -> QuerySet[Project]:
    """``with_related`` plus a project's decisions, documents, calls and agreements, each
    in its order (a project's page and its API detail)."""
    return with_related(qs).prefetch_related(
        Prefetch(
            "decisions",
            queryset=StageDecision.objects.select_related("decided_by").order_by(
                "decided_at", "pk"
            ),
        ),
        Prefetch("documents", queryset=Document.objects.order_by("created_at", "pk")),
        Prefetch("calls", queryset=Call.objects.order_by("opens_at", "pk")),
        Prefetch(
            "agreements",
            queryset=Agreement.objects.select_related("partner").order_by("starts_on", "pk"),
        ),
    )


def get_project(user: Any, pk: Any, *, for_update: bool = False) -> Project:
    """The project ``pk`` if ``user`` may read it, else 404 (absent and hidden alike)."""
    qs = visible_projects(user)
    qs = qs.select_for_update(of=("self",)) if for_update else with_related(qs)
    project = qs.filter(pk=check_id(pk)).first()
    if project is None:
        raise NotFound("项目不存在", "project not found")
    return project


def may_propose(user: Any, path: str) -> bool:
    return path_allowed(user, path, Perm.SERVE) or path_allowed(user, path, Perm.SUPERVISE)


def ensure_may_act(user: Any, project: Project) -> None:
    """403 when ``user`` sees the project but may not work on it; 404 when not even that."""
    if user is None or may_propose(user, project.area_path):
        return
    if path_allowed(user, project.area_path, Perm.VIEW):
        raise PermissionDenied("没有办理该项目的权限", "you may view but not work on this project")
    raise NotFound("项目不存在", "project not found")


def space_label(project: Project) -> str:
    if project.room_id and project.room is not None:
        return f"{project.room.position.name} · {project.room.name}"
    return project.position.name if project.position is not None else ""


def fund_balance(fund: Fund, *, exclude: int | None = None) -> Decimal:
    """What ``fund`` still holds: its amount less the budgets of its live projects."""
    live = Project.objects.filter(fund=fund, status=ProjectStatus.OPEN)
    if exclude is not None:
        live = live.exclude(pk=exclude)
    used = live.aggregate(total=Sum("budget"))["total"] or Decimal(0)
    return fund.amount - used


def fund_balances(fund_ids: list[int]) -> dict[int, Decimal]:
    """What the live projects of each fund use, in one query (a page of funds)."""
    rows = (
        Project.objects.filter(fund_id__in=fund_ids, status=ProjectStatus.OPEN)
        .order_by()
        .values_list("fund_id")
        .annotate(total=Sum("budget"))
    )
    return {fund_id: total or Decimal(0) for fund_id, total in rows}


# --- checking a proposal ------------------------------------------------------------------
def _community(user: Any, area_id: Any) -> Area:
    area = Area.objects.filter(pk=check_id(area_id)).first() if area_id else None
    if area is None or (user is not None and not path_allowed(user, area.path, Perm.VIEW)):
        raise ValidationFailed("请选择社区", "area_id names no community in scope", field="area_id")
    if area.kind != AreaKind.COMMUNITY:
        raise ValidationFailed(
            "项目须属于一个社区", "a project belongs to a community", field="area_id"
        )
    return area


def _space(data: ProjectInput, area: Area) -> tuple[ServicePosition | None, Room | None]:
    """The position or room the project uses (exactly one), inside its community, locked
    so that two proposals for one space are decided one after the other."""
    if bool(data.position_id) == bool(data.room_id):
        raise ValidationFailed(
            "请选择一个阵地或一个活动室", "name exactly one position_id or room_id", field="space"
        )
    if data.position_id:
        position = (
            ServicePosition.objects.select_for_update()
            .filter(pk=check_id(data.position_id), area_path__startswith=area.path)
            .first()
        )
        if position is None:
            raise ValidationFailed(
                "阵地不在该社区", "the position is not in the community", field="position_id"
            )
        return position, None
    room = (
        Room.objects.select_for_update()
        .filter(pk=check_id(data.room_id), area_path__startswith=area.path)
        .first()
    )
    if room is None:
        raise ValidationFailed(
            "活动室不在该社区", "the room is not in the community", field="room_id"
        )
    return None, room


def _space_free(project_pk: int | None, position: Any, room: Any) -> None:
    live = Project.objects.filter(status=ProjectStatus.OPEN)
    live = live.filter(position=position) if position is not None else live.filter(room=room)
    if project_pk is not None:
        live = live.exclude(pk=project_pk)
    other = live.first()
    if other is not None:
        raise Conflict(
            f"该场地已有进行中的项目“{other.name}”", "the space already holds a live project"
        )


def _fund(user: Any, fund_id: Any, area: Area) -> Fund | None:
    if not fund_id:
        return None
    fund = Fund.objects.select_for_update().filter(pk=check_id(fund_id)).first()
    if fund is None or not area.path.startswith(fund.area_path):
        raise ValidationFailed(
            "资金不适用于该社区", "the fund does not cover the community", field="fund_id"
        )
    return fund


def _clean(user: Any, data: ProjectInput, project_pk: int | None) -> dict[str, Any]:
    area = _community(user, data.area_id)
    if user is not None and not may_propose(user, area.path):
        raise PermissionDenied("没有在该社区申报项目的权限", "you may not propose projects here")
    name = clean_text(data.name, field="name", label="项目名称", max_length=100)
    content = clean_text(data.content, field="content", label="服务内容", max_length=4000)
    parse_hours(data.hours, field="hours")
    if data.price_class not in PriceClass.values:
        raise ValidationFailed("价格类别无效", "invalid price_class", field="price_class")
    cap = amount(data.price_cap, field="price_cap", label="限价", required=False)
    if data.price_class == PriceClass.FREE and cap:
        raise ValidationFailed(
            "免费项目不设限价", "a free project has no price cap", field="price_cap"
        )
    if data.price_class != PriceClass.FREE and cap is None:
        raise ValidationFailed(
            "低偿、微利项目须填写限价", "a low-cost or small-profit project needs a price cap",
            field="price_cap",
        )  # fmt: skip
    budget = amount(data.budget, field="budget", label="预算", required=False) or Decimal(0)
    groups = target_groups(data.target_groups)
    position, room = _space(data, area)
    _space_free(project_pk, position, room)
    fund = _fund(user, data.fund_id, area)
    if budget and fund is None:
        raise ValidationFailed(
            "有预算的项目须选择资金来源", "a budget needs a fund", field="fund_id"
        )
    if fund is not None:
        left = fund_balance(fund, exclude=project_pk)
        if budget > left:
            raise ValidationFailed(
                f"预算超出{fund.name}的剩余额度（{left} 元）",
                f"the budget exceeds what the fund still holds ({left})",
                field="budget",
            )
    return {
        "area": area, "name": name, "content": content, "position": position, "room": room,
        "hours": data.hours or {}, "price_class": data.price_class,
        "price_cap": None if data.price_class == PriceClass.FREE else cap,
        "target_groups": groups, "budget": budget, "fund": fund,
    }  # fmt: skip


# --- actions ------------------------------------------------------------------------------
def propose(user: Any, data: ProjectInput) -> Project:
    """Propose a project (立项申报) in a community: it starts in 立项, status 进行中."""
    with transaction.atomic():
        fields = _clean(user, data, None)
        project = Project(**fields, proposed_by=user if getattr(user, "pk", None) else None)
        project.area_path = project.derive_area_path()
        project.save()
        audit.record(AuditEntry.Action.CREATE, project, user, audit.snapshot(project), "立项申报")
    return project


def edit(user: Any, pk: Any, data: ProjectInput) -> Project:
    """Change a proposal while its 立项 is undecided (and it stays in its community)."""
    with transaction.atomic():
        project = get_project(user, pk, for_update=True)
        ensure_may_act(user, project)
        stages.require(project, Stage.PROPOSAL)
        if project.stage != Stage.PROPOSAL:
            raise Conflict("项目已立项，不能再修改申报内容", "the proposal is approved already")
        before = audit.snapshot(project)
        for name, value in _clean(user, data, project.pk).items():
            setattr(project, name, value)
        project.area_path = project.derive_area_path()
        project.save()
        delta = audit.diff(before, audit.snapshot(project))
        if delta:
            audit.record(AuditEntry.Action.UPDATE, project, user, delta, "修改申报")
    return project


#: The kinds of document a project's stage may hold: its required ones, the committee's
#: opinion and anything else.
STAGE_KINDS: dict[str, list[str]] = {
    stage: [*kinds, DocumentKind.APPROVAL, DocumentKind.OTHER]
    for stage, kinds in stages.REQUIRED_DOCUMENTS.items()
}


def add_document(user: Any, pk: Any, upload: Any, *, kind: str, title: str) -> Document:
    """File a document under the project's current stage (申报书, 招募公告, 协议 …),
    stored and checked by :func:`jiayuan.partners.documents.save_document`."""
    from .documents import save_document

    project = get_project(user, pk)
    ensure_may_act(user, project)
    stages.require(project, Stage.PROPOSAL)
    stage = project.stage
    if kind == DocumentKind.AGREEMENT and stages.in_operation(project):
        stage = Stage.AGREEMENT  # a renewal's signed copy is filed with the agreements
    if kind not in STAGE_KINDS[stage]:
        raise ValidationFailed(
            f"{project.get_stage_display()}阶段不收该类文件",
            f"the {project.stage} stage takes no {kind} document",
            field="kind",
        )
    title = clean_text(title, field="title", label="标题", max_length=120)
    return save_document(
        user,
        upload,
        kind=kind,
        title=title,
        project=project,
        stage=stage,
        perm=Perm.VIEW,  # ensure_may_act checked SERVE or SUPERVISE
    )


def create_fund(user: Any, *, area_id: Any, year: Any, name: Any, amount_value: Any) -> Fund:
    """Register a year's fund (社区公益金 …) of an area; ``Perm.SUPERVISE`` there."""
    area = Area.objects.filter(pk=check_id(area_id)).first()
    if area is None or (user is not None and not path_allowed(user, area.path, Perm.VIEW)):
        raise NotFound("区域不存在", "area not found")
    if user is not None and not path_allowed(user, area.path, Perm.SUPERVISE):
        raise PermissionDenied("只有党委可以登记资金", "only the party committee registers funds")
    try:
        year_number = int(year)
    except (TypeError, ValueError):
        year_number = 0
    if not MIN_YEAR <= year_number <= MAX_YEAR:
        raise ValidationFailed("年度无效", "invalid year", field="year")
    title = clean_text(name, field="name", label="名称", max_length=100)
    total = amount(amount_value, field="amount", label="总额") or Decimal(0)
    with transaction.atomic():
        if Fund.objects.filter(area=area, year=year_number, name=title).exists():
            raise Conflict("该资金已登记", "the fund is registered already")
        fund = Fund(area=area, year=year_number, name=title, amount=total)
        fund.area_path = area.path
        fund.save()
        audit.record(AuditEntry.Action.CREATE, fund, user, audit.snapshot(fund), "登记资金")
    return fund


def funds_for(user: Any, area_path: str = "") -> QuerySet[Fund]:
    """The funds ``user`` sees (those covering ``area_path``, when given), newest first."""
    qs = Fund.objects.visible_to(user)
    if area_path:
        qs = qs.filter(area_path__in=paths_above(area_path))
    return qs.order_by("-year", "area_path", "name")


def filter_projects(
    qs: QuerySet[Project], *, stage: str = "", status: str = "", q: str = ""
) -> QuerySet[Project]:
    if stage in Stage.values:
        qs = qs.filter(stage=stage)
    if status in ProjectStatus.values:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(name__icontains=q[:50]) | Q(content__icontains=q[:50]))
    return qs
