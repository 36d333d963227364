"""协议: the agreement between the community and the partner the open call selected.

Drafting (拟定协议) takes the project's partner (set when 发包 was approved) and the terms:
the duration, both sides' obligations, a price cap no higher than the project's (none
for a free project), the exit conditions, and the credit thresholds at which the
partner is warned and may be dismissed (``PARTNERS_WARNING_THRESHOLD`` and
``PARTNERS_DISMISSAL_THRESHOLD`` unless given; the warning lies above the dismissal).
Signing (签订) needs the signed copy filed as a 合作协议 document of the project since the
draft; the agreement is then in force (履行中) and the committee can approve 协议
(:func:`jiayuan.partners.stages.decide`). A project holds one live (draft or active)
agreement at a time.

Renewal (续签) is a new agreement drafted once the old one has expired or ended, for a
project still running, starting no earlier than the old one ended. The daily job in
:mod:`jiayuan.partners.agreement_jobs` marks agreements 已到期 when their end date has
passed (:func:`expire_due`); the registry's job sends the renewal reminder before that.

Staff holding ``Perm.SERVE`` or ``Perm.SUPERVISE`` draft; the committee (``Perm.SUPERVISE``)
signs for the community.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from jiayuan.community.rooms import clean_text
from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed

from . import stages
from .choices import AgreementStatus, DocumentKind, PriceClass, Stage
from .models import Agreement, Document, Project
from .projects import amount, check_id, ensure_may_act, get_project

MAX_YEARS = 10
MIN_CREDIT, MAX_CREDIT = -1000, 1000
LIVE = (AgreementStatus.DRAFT, AgreementStatus.ACTIVE)


@dataclass
class Terms:
    """The terms of an agreement as a form or a JSON body gives them (checked by
    :func:`draft`)."""

    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    obligations: Any = ""
    price_cap: Any = None
    exit_conditions: Any = ""
    warning_threshold: Any = None
    dismissal_threshold: Any = None


def visible_agreements(user: Any) -> QuerySet[Agreement]:
    return Agreement.objects.visible_to(user)


def get_agreement(user: Any, pk: Any, *, for_update: bool = False) -> Agreement:
    qs = visible_agreements(user)
    qs = (
        qs.select_for_update(of=("self",))
        if for_update
        else qs.select_related("project", "partner", "signed_by")
    )
    agreement = qs.filter(pk=check_id(pk)).first()
    if agreement is None:
        raise NotFound("协议不存在", "agreement not found")
    return agreement


def _threshold(value: Any, default: int, field: str, label: str) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationFailed(
            f"{label}须为整数", f"{field} is a whole number", field=field
        ) from None
    if not MIN_CREDIT <= number <= MAX_CREDIT:
        raise ValidationFailed(f"{label}超出范围", f"{field} is out of range", field=field)
    return number


def signed_copy(agreement: Agreement) -> Document | None:
    """The signed copy: the project's latest 合作协议 document filed since the draft."""
    return (
        Document.objects.filter(
            project_id=agreement.project_id,
            kind=DocumentKind.AGREEMENT,
            created_at__gte=agreement.created_at,
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def draft(user: Any, project_id: Any, terms: Terms) -> Agreement:
    """Draft the agreement with the project's selected partner (or its renewal)."""
    today = timezone.localdate()
    with transaction.atomic():
        project = get_project(user, project_id, for_update=True)
        ensure_may_act(user, project)
        stages.require(project, Stage.AGREEMENT)
        if project.partner_id is None:
            raise Conflict("项目尚无选定的合伙人", "the project has no selected partner")
        previous = project.agreements.order_by("-ends_on", "-pk").first()
        if previous is not None and previous.status in LIVE:
            raise Conflict(
                "项目已有待签订或履行中的协议，到期或终止后方可续签",
                "the project has a live agreement; renew it once it expired or ended",
            )
        if terms.starts_on is None or terms.ends_on is None:
            raise ValidationFailed(
                "请填写协议期限", "starts_on and ends_on are required", field="ends_on"
            )
        if terms.ends_on <= terms.starts_on:
            raise ValidationFailed(
                "到期日期须晚于开始日期", "ends_on lies after starts_on", field="ends_on"
            )
        if terms.ends_on <= today:
            raise ValidationFailed(
                "到期日期须晚于今天", "ends_on lies in the future", field="ends_on"
            )
        if (terms.ends_on - terms.starts_on).days > MAX_YEARS * 366:
            raise ValidationFailed(
                f"协议期限最长 {MAX_YEARS} 年", f"at most {MAX_YEARS} years", field="ends_on"
            )
        if previous is not None:
            last_end = min(previous.ends_on, previous.ended_on or previous.ends_on)
            if terms.starts_on < last_end:
                raise ValidationFailed(
                    f"续签协议须自 {last_end:%Y-%m-%d} 起",
                    f"a renewal starts on or after {last_end}",
                    field="starts_on",
                )
        obligations = clean_text(
            terms.obligations, field="obligations", label="双方义务", max_length=4000
        )
        exits = clean_text(
            terms.exit_conditions, field="exit_conditions", label="退出条件", max_length=2000
        )
        cap = amount(terms.price_cap, field="price_cap", label="限价", required=False)
        if project.price_class == PriceClass.FREE:
            if cap:
                raise ValidationFailed(
                    "免费项目不设限价", "a free project has no price cap", field="price_cap"
                )
            cap = None
        else:
            if cap is None:
                cap = project.price_cap
            if project.price_cap is not None and cap is not None and cap > project.price_cap:
                raise ValidationFailed(
                    f"协议限价不能高于项目限价（{project.price_cap} 元）",
                    "the agreement's price cap is above the project's",
                    field="price_cap",
                )
        warning = _threshold(
            terms.warning_threshold,
            settings.PARTNERS_WARNING_THRESHOLD,
            "warning_threshold",
            "预警信用分",
        )
        dismissal = _threshold(
            terms.dismissal_threshold, settings.PARTNERS_DISMISSAL_THRESHOLD,
            "dismissal_threshold", "清退信用分",
        )  # fmt: skip
        if warning <= dismissal:
            raise ValidationFailed(
                "预警信用分须高于清退信用分",
                "the warning threshold lies above the dismissal threshold",
                field="warning_threshold",
            )
        agreement = Agreement(
            project=project, partner_id=project.partner_id, starts_on=terms.starts_on,
            ends_on=terms.ends_on, obligations=obligations, price_cap=cap,
            exit_conditions=exits, warning_threshold=warning, dismissal_threshold=dismissal,
        )  # fmt: skip
        agreement.area_path = project.area_path
        try:
            with transaction.atomic():
                agreement.save()
        except IntegrityError:
            raise Conflict(
                "项目已有待签订或履行中的协议", "the project has a live agreement"
            ) from None
        note = "拟定协议" if previous is None else "拟定续签协议"
        audit.record(AuditEntry.Action.CREATE, agreement, user, audit.snapshot(agreement), note)
    return agreement


def sign(user: Any, agreement_id: Any) -> Agreement:
    """Sign a draft (签订): the committee, with the signed copy filed as a 合作协议
    document since the draft; the agreement is then in force."""
    today = timezone.localdate()
    with transaction.atomic():
        agreement = get_agreement(user, agreement_id, for_update=True)
        if user is not None and not path_allowed(user, agreement.area_path, Perm.SUPERVISE):
            raise PermissionDenied("只有社区党委可以签订协议", "only the committee signs")
        project = Project.objects.get(pk=agreement.project_id)
        stages.require(project, Stage.AGREEMENT)
        if agreement.status != AgreementStatus.DRAFT:
            raise Conflict("只有待签订的协议可以签订", "only a draft is signed")
        if agreement.ends_on <= today:
            raise Conflict("协议已过期，请重新拟定", "the draft's term has passed")
        if signed_copy(agreement) is None:
            raise Conflict(
                "请先上传双方签字盖章的合作协议", "file the signed agreement document first"
            )
        before = audit.snapshot(agreement)
        agreement.status = AgreementStatus.ACTIVE
        agreement.signed_on = today
        agreement.signed_by = user if getattr(user, "pk", None) else None
        agreement.save(update_fields=["status", "signed_on", "signed_by", "updated_at"])
        delta = audit.diff(before, audit.snapshot(agreement))
        audit.record(AuditEntry.Action.UPDATE, agreement, user, delta, "签订协议")
    return agreement


def expire_due(today: dt.date | None = None) -> int:
    """Mark every agreement in force whose end date has passed 已到期; returns how many.
    Each is audited as the system's change."""
    today = today or timezone.localdate()
    expired = 0
    due = Agreement.objects.filter(status=AgreementStatus.ACTIVE, ends_on__lt=today)
    for pk in due.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            agreement = (
                Agreement.objects.select_for_update()
                .filter(pk=pk, status=AgreementStatus.ACTIVE, ends_on__lt=today)
                .first()
            )
            if agreement is None:
                continue
            before = audit.snapshot(agreement)
            agreement.status = AgreementStatus.EXPIRED
            agreement.save(update_fields=["status", "updated_at"])
            delta = audit.diff(before, audit.snapshot(agreement))
            audit.record(AuditEntry.Action.UPDATE, agreement, None, delta, "协议到期")
            expired += 1
    return expired


def may_renew(project: Project) -> bool:
    """Whether a renewal can be drafted now: the project runs, its last agreement has
    expired or ended."""
    if not stages.in_operation(project) or project.partner_id is None:
        return False
    last = project.agreements.order_by("-ends_on", "-pk").first()
    return last is not None and last.status not in LIVE
