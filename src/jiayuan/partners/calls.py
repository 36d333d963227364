"""发包: a project's open call (公开招募), the partners' applications, the panel's scores,
the ranking, the selection and the published result.

A call is opened for a project in its 发包 stage, with scoring criteria whose weights sum
to 100 and a panel of users who see the project (``Perm.VIEW`` at its area). Partners
apply until the call closes (one application each; only partners in good standing —
合作中 or 已预警, never 已清退 or 已退出; a price above the project's cap, or any price
for a free project, is refused). After it closes each panel member scores each
application 0–100 on every criterion. An application's weighted score is

    Σ weight × (mean of the reviewers' scores on the criterion) / 100

counted exactly (:class:`~fractions.Fraction`; shown as a two-place
:class:`~decimal.Decimal`), ties broken by the earlier submission. The committee
(``Perm.SUPERVISE``) selects the top application, or another one with its reasons on
record, once every panel member has scored every application; staff then publish the
result (a 遴选结果公示 document) and the committee's approval of 发包
(:func:`jiayuan.partners.stages.decide`) makes the selected partner the project's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from jiayuan.community.rooms import clean_text
from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.org.paths import paths_above

from . import stages
from .choices import CallStatus, DocumentKind, PartnerStatus, PriceClass, Stage
from .models import Application, Call, Document, PanelScore, Partner, Project
from .projects import amount, check_id, ensure_may_act, get_project

MAX_CRITERIA = 10
MAX_PANEL = 15
MAX_CALL_DAYS = 366
GOOD_STANDING = (PartnerStatus.ACTIVE, PartnerStatus.WARNED)
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
HUNDRED = Decimal(100)


# --- reading ------------------------------------------------------------------------------
def visible_calls(user: Any) -> QuerySet[Call]:
    return Call.objects.visible_to(user)


def get_call(user: Any, pk: Any, *, for_update: bool = False) -> Call:
    """The call ``pk`` if ``user`` may read it, else 404."""
    qs = visible_calls(user)
    qs = qs.select_for_update(of=("self",)) if for_update else qs.select_related("project")
    call = qs.filter(pk=check_id(pk)).first()
    if call is None:
        raise NotFound("公开招募不存在", "call not found")
    return call


def applications_of(call: Call) -> list[Application]:
    return list(
        call.applications.filter(withdrawn=False)
        .select_related("partner")
        .order_by("submitted_at", "pk")
    )


def panel_of(call: Call) -> list[Any]:
    return list(call.panel.order_by("pk"))


def is_panel_member(user: Any, call: Call) -> bool:
    return (
        user is not None
        and getattr(user, "pk", None) is not None
        and path_allowed(user, call.area_path, Perm.VIEW)
        and call.panel.filter(pk=user.pk).exists()
    )


def accepts_applications(call: Call, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return call.status == CallStatus.OPEN and call.opens_at <= now < call.closes_at


def scoring_open(call: Call, now: dt.datetime | None = None) -> bool:
    """Scores are given after the call closes and until a selection is made."""
    now = now or timezone.now()
    closed = call.status == CallStatus.CLOSED or (
        call.status == CallStatus.OPEN and call.closes_at <= now
    )
    return closed and call.selected_id is None


# --- criteria -----------------------------------------------------------------------------
def parse_criteria(data: Any) -> list[dict[str, Any]]:
    """Scoring criteria ``[{"key", "label", "weight"}]``: 1–10 of them, unique keys
    (given, or ``c1``, ``c2`` …), labels of up to 50 characters, whole weights from 1 to
    100 summing to exactly 100."""
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_CRITERIA:
        raise ValidationFailed(
            f"评分标准须有 1 至 {MAX_CRITERIA} 项",
            f"1 to {MAX_CRITERIA} criteria",
            field="criteria",
        )
    out: list[dict[str, Any]] = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ValidationFailed("评分标准格式无效", "a criterion is an object", field="criteria")
        key = str(item.get("key") or f"c{i}")
        if not _KEY.match(key):
            raise ValidationFailed(
                "评分项代码无效", f"invalid criterion key {key!r}", field="criteria"
            )
        label = clean_text(item.get("label"), field="criteria", label="评分项", max_length=50)
        weight = item.get("weight")
        if isinstance(weight, str) and weight.strip().isdigit():
            weight = int(weight.strip())
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
            raise ValidationFailed(
                f"“{label}”的权重须为 1 至 100 的整数",
                f"the weight of {key} is a whole number from 1 to 100",
                field="criteria",
            )
        out.append({"key": key, "label": label, "weight": weight})
    if len({c["key"] for c in out}) != len(out):
        raise ValidationFailed("评分项代码重复", "criterion keys repeat", field="criteria")
    total = sum(c["weight"] for c in out)
    if total != 100:
        raise ValidationFailed(
            f"各项权重之和须为 100（现为 {total}）",
            f"the weights sum to {total}, not 100",
            field="criteria",
        )
    return out


def _score(value: Any, key: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValidationFailed("请为每一项评分", f"a score for {key} is required", field=key)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            "评分无效", f"the score of {key} is not a number", field=key
        ) from None
    if not number.is_finite() or not 0 <= number <= HUNDRED:
        raise ValidationFailed("评分须在 0 至 100 之间", f"{key} scores 0 to 100", field=key)
    if number != number.quantize(Decimal("0.01")):
        raise ValidationFailed("评分最多两位小数", f"{key} has more than two decimals", field=key)
    return number.quantize(Decimal("0.01"))


# --- the ranking --------------------------------------------------------------------------
@dataclass
class Ranked:
    """One application in the ranking: every reviewer's scores, the mean per criterion,
    and the exact weighted total."""

    application: Application
    scores: dict[int, dict[str, Decimal]] = field(default_factory=dict)  # reviewer → key → score
    means: dict[str, Fraction] = field(default_factory=dict)
    total: Fraction = Fraction(0)
    rank: int = 0

    @property
    def total_decimal(self) -> Decimal:
        return shown(self.total)


def shown(value: Fraction) -> Decimal:
    """An exact value as a two-place Decimal (half up), for pages and JSON only."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def weighted(
    criteria: list[dict[str, Any]], scores: dict[int, dict[str, Decimal]]
) -> tuple[dict[str, Fraction], Fraction]:
    """(mean per criterion over the reviewers who scored it, Σ weight × mean / 100)."""
    means: dict[str, Fraction] = {}
    total = Fraction(0)
    for criterion in criteria:
        key = criterion["key"]
        given = [Fraction(s[key]) for s in scores.values() if key in s]
        mean = sum(given, Fraction(0)) / len(given) if given else Fraction(0)
        means[key] = mean
        total += Fraction(criterion["weight"]) * mean / 100
    return means, total


def ranking(call: Call, applications: list[Application] | None = None) -> list[Ranked]:
    """The call's applications, best first: highest weighted score, then the earlier
    submission (then the lower id)."""
    apps = applications if applications is not None else applications_of(call)
    by_app: dict[int, dict[int, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    rows = PanelScore.objects.filter(application__in=[a.pk for a in apps]).values_list(
        "application_id", "reviewer_id", "criterion", "score"
    )
    for app_id, reviewer_id, criterion, score in rows:
        by_app[app_id][reviewer_id][criterion] = score
    ranked = []
    for app in apps:
        scores = {r: dict(s) for r, s in by_app.get(app.pk, {}).items()}
        means, total = weighted(call.criteria, scores)
        ranked.append(Ranked(application=app, scores=scores, means=means, total=total))
    ranked.sort(key=lambda r: (-r.total, r.application.submitted_at, r.application.pk))
    for i, row in enumerate(ranked, 1):
        row.rank = i
    return ranked


def scoring_complete(call: Call, ranked: list[Ranked], panel: list[Any]) -> bool:
    """Every panel member scored every application on every criterion."""
    keys = {c["key"] for c in call.criteria}
    return bool(ranked) and all(
        keys <= set(row.scores.get(member.pk, {})) for row in ranked for member in panel
    )


# --- actions ------------------------------------------------------------------------------
def _panel(ids: Any, project: Project) -> list[Any]:
    if not isinstance(ids, list | tuple) or not 1 <= len(ids) <= MAX_PANEL:
        raise ValidationFailed(
            f"评审组须有 1 至 {MAX_PANEL} 人", f"a panel of 1 to {MAX_PANEL}", field="panel"
        )
    wanted = {check_id(i) for i in ids}
    users = list(get_user_model().objects.filter(pk__in=wanted, is_active=True))
    members = [u for u in users if path_allowed(u, project.area_path, Perm.VIEW)]
    if len(members) != len(wanted):
        raise ValidationFailed(
            "评审组成员须是能查看该项目的工作人员",
            "panel members are users who see the project",
            field="panel",
        )
    return members


def open_call(
    user: Any,
    project_id: Any,
    *,
    title: Any,
    text: Any = "",
    criteria: Any,
    closes_at: dt.datetime | None,
    panel: Any,
    opens_at: dt.datetime | None = None,
) -> Call:
    """Open a call (发布招募公告) for a project in its 发包 stage; one running call at a
    time (a new one only after the last was published, e.g. when 发包 was rejected)."""
    now = timezone.now()
    with transaction.atomic():
        project = get_project(user, project_id, for_update=True)
        ensure_may_act(user, project)
        stages.require(project, Stage.CALL)
        if project.stage != Stage.CALL:
            raise Conflict("项目不在发包阶段", "the project is not in its call stage")
        if project.calls.exclude(status=CallStatus.PUBLISHED).exists():
            raise Conflict("该项目已有进行中的公开招募", "the project has a running call")
        title_text = clean_text(title, field="title", label="公告标题", max_length=120)
        body = clean_text(text, field="text", label="公告内容", max_length=4000, required=False)
        parsed = parse_criteria(criteria)
        members = _panel(panel, project)
        opens = opens_at or now
        if closes_at is None:
            raise ValidationFailed("请填写报名截止时间", "closes_at is required", field="closes_at")
        if closes_at <= max(opens, now) or closes_at - opens > dt.timedelta(days=MAX_CALL_DAYS):
            raise ValidationFailed(
                "报名截止须晚于现在和开始时间，且在一年之内",
                "closes_at lies after now and opens_at, within a year",
                field="closes_at",
            )
        call = Call(
            project=project, title=title_text, text=body, criteria=parsed, opens_at=opens,
            closes_at=closes_at,
        )  # fmt: skip
        call.area_path = project.area_path
        call.save()
        call.panel.set(members)
        changes = {**audit.snapshot(call), "panel": sorted(m.pk for m in members)}
        audit.record(AuditEntry.Action.CREATE, call, user, changes, "发布公开招募")
    return call


def _partner(user: Any, partner_id: Any, project: Project) -> Partner:
    """A partner registered in the user's scope or with an area above the project's (a
    street's partners serve its communities)."""
    above = paths_above(project.area_path)
    qs = Partner.objects.filter(pk=check_id(partner_id))
    if user is not None:
        qs = qs.filter(Q(area_path__in=above) | Q(pk__in=Partner.objects.visible_to(user)))
    partner = qs.first()
    if partner is None:
        raise ValidationFailed("合伙人不存在", "no such partner", field="partner_id")
    return partner


def apply(
    user: Any, call_id: Any, *, partner_id: Any, plan: Any, offered_price: Any
) -> Application:
    """Enter a partner's application (报名) to an open call, before it closes."""
    with transaction.atomic():
        call = get_call(user, call_id, for_update=True)
        project = Project.objects.get(pk=call.project_id)
        ensure_may_act(user, project)
        stages.require(project, Stage.CALL)
        if not accepts_applications(call):
            raise Conflict("不在报名时间内", "the call does not take applications now")
        partner = _partner(user, partner_id, project)
        if partner.status not in GOOD_STANDING:
            raise Conflict(
                f"{partner.name}{partner.get_status_display()}，不能报名",
                f"the partner is {partner.status} and may not apply",
            )
        text = clean_text(plan, field="plan", label="服务方案", max_length=4000)
        price = amount(offered_price, field="offered_price", label="报价", required=False)
        if project.price_class == PriceClass.FREE and price:
            raise ValidationFailed(
                "免费项目不收费", "a free project takes no price", field="offered_price"
            )
        if price is not None and project.price_cap is not None and price > project.price_cap:
            raise ValidationFailed(
                f"报价超过项目限价（{project.price_cap} 元）",
                f"the price is above the project's cap {project.price_cap}",
                field="offered_price",
            )
        if call.applications.filter(partner=partner).exists():
            raise Conflict(f"{partner.name}已报名", "the partner applied already")
        application = Application(
            call=call, partner=partner, plan=text, offered_price=price,
            submitted_at=timezone.now(),
        )  # fmt: skip
        application.area_path = call.area_path
        try:
            with transaction.atomic():
                application.save()
        except IntegrityError:
            raise Conflict(f"{partner.name}已报名", "the partner applied already") from None
        audit.record(
            AuditEntry.Action.CREATE, application, user, audit.snapshot(application), "报名"
        )
    return application


def close(user: Any, call_id: Any) -> Call:
    """Close applications now (截止报名), ahead of the announced time if need be."""
    with transaction.atomic():
        call = get_call(user, call_id, for_update=True)
        ensure_may_act(user, Project.objects.get(pk=call.project_id))
        if call.status != CallStatus.OPEN:
            raise Conflict("报名已截止", "the call is closed already")
        before = audit.snapshot(call)
        now = timezone.now()
        call.status = CallStatus.CLOSED
        call.closes_at = min(call.closes_at, now)
        if call.opens_at > call.closes_at:
            call.opens_at = call.closes_at
        call.save(update_fields=["status", "closes_at", "opens_at", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            call,
            user,
            audit.diff(before, audit.snapshot(call)),
            "截止报名",
        )
    return call


def score(user: Any, application_id: Any, scores: Any) -> list[PanelScore]:
    """A panel member scores one application on every criterion (0–100, two decimals);
    scoring again replaces their earlier scores, until the selection is made."""
    if not isinstance(scores, dict):
        raise ValidationFailed("评分格式无效", "scores map criteria to numbers", field="scores")
    with transaction.atomic():
        application = (
            Application.objects.visible_to(user).filter(pk=check_id(application_id)).first()
        )
        if application is None:
            raise NotFound("报名不存在", "application not found")
        call = Call.objects.select_for_update().get(pk=application.call_id)
        if not is_panel_member(user, call):
            raise PermissionDenied("只有评审组成员可以评分", "only the panel scores")
        if application.withdrawn:
            raise Conflict("该报名已撤回", "the application was withdrawn")
        if not scoring_open(call):
            raise Conflict("现在不能评分（报名未截止或已遴选）", "scoring is not open")
        keys = [c["key"] for c in call.criteria]
        unknown = set(scores) - set(keys)
        if unknown:
            raise ValidationFailed(
                "评分项无效", f"unknown criteria {sorted(unknown)}", field="scores"
            )
        values = {key: _score(scores.get(key), key) for key in keys}
        if call.status == CallStatus.OPEN:
            call.status = CallStatus.CLOSED
            call.save(update_fields=["status", "updated_at"])
        now = timezone.now()
        saved = []
        for key, value in values.items():
            row, _created = PanelScore.objects.update_or_create(
                application=application, reviewer=user, criterion=key,
                defaults={"score": value, "scored_at": now},
            )  # fmt: skip
            saved.append(row)
        audit.record(
            AuditEntry.Action.UPDATE, application, user,
            {"scores": {k: str(v) for k, v in values.items()}}, "评分",
        )  # fmt: skip
    return saved


def select(user: Any, call_id: Any, *, application_id: Any = None, reasons: Any = "") -> Call:
    """The committee approves the selection (遴选): the top of the ranking, or another
    application with its reasons recorded. Every panel member must have scored every
    application."""
    with transaction.atomic():
        call = get_call(user, call_id, for_update=True)
        if user is not None and not path_allowed(user, call.area_path, Perm.SUPERVISE):
            raise PermissionDenied("只有社区党委可以审定遴选结果", "only the committee selects")
        if call.status == CallStatus.PUBLISHED:
            raise Conflict("遴选结果已公示", "the result is published already")
        if not scoring_open(call) and call.selected_id is None:
            raise Conflict("报名尚未截止", "the call has not closed yet")
        ranked = ranking(call)
        if not scoring_complete(call, ranked, panel_of(call)):
            raise Conflict("评审组尚未完成全部评分", "the panel has not scored every application")
        top = ranked[0].application
        chosen = top if not application_id else None
        if chosen is None:
            chosen = next(
                (r.application for r in ranked if r.application.pk == check_id(application_id)),
                None,
            )
            if chosen is None:
                raise ValidationFailed("报名不存在", "no such application", field="application_id")
        why = clean_text(
            reasons, field="reasons", label="遴选理由", max_length=2000, required=False
        )
        if chosen.pk != top.pk and not why:
            raise ValidationFailed(
                "未选择得分最高者，须写明理由",
                "selecting another than the top application needs reasons",
                field="reasons",
            )
        before = audit.snapshot(call)
        call.selected = chosen
        call.reasons = why
        call.status = CallStatus.CLOSED
        call.save(update_fields=["selected", "reasons", "status", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            call,
            user,
            audit.diff(before, audit.snapshot(call)),
            "审定遴选结果",
        )
    return call


def publish(user: Any, call_id: Any, upload: Any, *, title: Any = "") -> Document:
    """Publish the selection (遴选结果公示): the result document is filed under the
    project's 发包 stage and the call reads 已公示."""
    from .documents import save_document

    call = get_call(user, call_id)
    project = get_project(user, call.project_id)
    ensure_may_act(user, project)
    if call.selected_id is None:
        raise Conflict("尚未审定遴选结果", "no selection to publish")
    if call.status == CallStatus.PUBLISHED:
        raise Conflict("遴选结果已公示", "the result is published already")
    name = clean_text(
        title or f"{call.title} 遴选结果公示", field="title", label="标题", max_length=120
    )
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.status == CallStatus.PUBLISHED or locked.selected_id is None:
            raise Conflict("遴选结果已公示", "the result is published already")
        document = save_document(
            user,
            upload,
            kind=DocumentKind.RESULT,
            title=name,
            project=project,
            stage=Stage.CALL,
            perm=Perm.VIEW,  # ensure_may_act checked SERVE or SUPERVISE
        )
        before = audit.snapshot(locked)
        locked.status = CallStatus.PUBLISHED
        locked.published_at = timezone.now()
        locked.save(update_fields=["status", "published_at", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            locked,
            user,
            audit.diff(before, audit.snapshot(locked)),
            "公示遴选结果",
        )
    return document
