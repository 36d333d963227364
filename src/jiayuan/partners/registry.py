"""The partner registry (合伙人库): registering and editing red partners, their
qualifications (资质, with expiry) and contacts (联系人, phone kept encrypted and shown
masked).

Every action here checks that the acting user holds SUPERVISE (community staff and
above) at the partner's area — 404 if they cannot even see it, 403 if they can — writes
its audit entry and refuses (409) any write to a dismissed partner, whose history is
frozen. Kind rules: a social organisation or an honest merchant needs a valid 统一社会信用代码
(:mod:`jiayuan.partners.identity`); a community talent (社区能人) may be linked to their
person record instead; a volunteer team may have neither.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from jiayuan.core import audit, pii
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.errors import row_id as check_id
from jiayuan.core.models import AuditEntry
from jiayuan.core.notices import notify
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.org.queries import filter_under
from jiayuan.people.models import Person
from jiayuan.people.services import validate_phone

from . import credit, identity
from .choices import AgreementStatus, PartnerKind, PartnerStatus
from .documents import ensure_not_frozen
from .models import Agreement, Contact, Dismissal, Partner, Qualification

PARTNER_AREA_KINDS = (AreaKind.STREET, AreaKind.COMMUNITY)
NEEDS_USCC = (PartnerKind.SOCIAL_ORG, PartnerKind.MERCHANT)
IN_SERVICE = (PartnerStatus.ACTIVE, PartnerStatus.WARNED)


def ensure_may(user: Any, path: str, perm: str = Perm.SUPERVISE) -> None:
    """404 unless ``user`` sees ``path``; 403 unless they also hold ``perm`` there.
    ``user=None`` is the system (demo, jobs)."""
    if user is None:
        return
    if not path_allowed(user, path, Perm.VIEW):
        raise NotFound()
    if not path_allowed(user, path, perm):
        raise PermissionDenied(
            "只有社区工作人员可以管理合伙人", "only community staff manage partners"
        )


def may_manage(user: Any, partner: Partner) -> bool:
    return path_allowed(user, partner.area_path, Perm.SUPERVISE)


@dataclass
class PartnerFields:
    """What a form or an API body gives for a partner (strings already stripped)."""

    kind: str
    name: str
    area: Area
    uscc: str = ""
    person: Person | None = None
    legal_representative: str = ""
    address: str = ""
    services: str = ""
    joined_on: dt.date | None = None


def _text(value: str | None, limit: int, name: str, zh: str, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(f"请填写{zh}", f"{name} is required", field=name)
    if len(text) > limit:
        raise ValidationFailed(
            f"{zh}不能超过 {limit} 字", f"{name} is over {limit} characters", field=name
        )
    return text


def _taken() -> Conflict:
    return Conflict(
        "该统一社会信用代码已登记", "a partner with this credit code is registered", field="uscc"
    )


def clean(user: Any, data: PartnerFields, *, instance: Partner | None = None) -> dict[str, Any]:
    """The checked values of a partner (kind rules, the code's validity and uniqueness,
    the area's kind and the user's scope over it and over the person)."""
    if data.kind not in PartnerKind.values:
        raise ValidationFailed("合伙人类型无效", "unknown partner kind", field="kind")
    values: dict[str, Any] = {
        "kind": data.kind,
        "name": _text(data.name, 100, "name", "名称", required=True),
        "legal_representative": _text(
            data.legal_representative, 50, "legal_representative", "负责人"
        ),
        "address": _text(data.address, 200, "address", "地址"),
        "services": _text(data.services, 2000, "services", "服务内容"),
        "joined_on": data.joined_on,
    }  # fmt: skip
    area = data.area
    if area.kind not in PARTNER_AREA_KINDS:
        raise ValidationFailed(
            "合伙人须登记在社区或街道", "a partner is registered with a community or a street",
            field="area",
        )  # fmt: skip
    ensure_may(user, area.path)
    values["area"] = area
    uscc = identity.normalise(data.uscc)
    if uscc:
        uscc = identity.validate(uscc).code
        taken = Partner.objects.filter(uscc=uscc)
        if instance is not None:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            raise _taken()
    elif data.kind in NEEDS_USCC:
        raise ValidationFailed(
            f"{PartnerKind(data.kind).label}须填写统一社会信用代码",
            "this kind of partner needs a unified social credit code",
            field="uscc",
        )
    person = data.person
    if person is not None:
        if data.kind != PartnerKind.TALENT:
            raise ValidationFailed(
                "只有社区能人关联居民档案", "only a community talent is linked to a person",
                field="person",
            )  # fmt: skip
        if user is not None and not Person.objects.visible_to(user).filter(pk=person.pk).exists():
            raise NotFound("居民不存在", "person not found", field="person")
    elif data.kind == PartnerKind.TALENT and not uscc:
        raise ValidationFailed(
            "社区能人须关联居民档案或填写统一社会信用代码",
            "a community talent needs a person record or a credit code",
            field="person",
        )
    values["uscc"] = uscc
    values["person"] = person
    return values


def register(user: Any, data: PartnerFields) -> Partner:
    """Register a partner (audited) with its opening credit entry."""
    values = clean(user, data)
    partner = Partner(**values)
    if partner.joined_on is None:
        partner.joined_on = timezone.localdate()
    with transaction.atomic():
        try:
            with transaction.atomic():
                partner.save()
        except IntegrityError:
            raise _taken() from None
        audit.record(AuditEntry.Action.CREATE, partner, user, audit.snapshot(partner), "登记合伙人")
        credit.open_ledger(partner, decided_by=user)
    return partner


def update(user: Any, partner: Partner, data: PartnerFields) -> Partner:
    """Change a partner's identity and description (not its status or credit, which only
    the ledger and the committee's decisions move); both its old and new area must be
    the user's to manage."""
    ensure_may(user, partner.area_path)
    values = clean(user, data, instance=partner)
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        ensure_not_frozen(locked)
        before = audit.snapshot(locked)
        for name, value in values.items():
            setattr(locked, name, value)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise _taken() from None
        delta = audit.diff(before, audit.snapshot(locked))
        if delta:
            audit.record(AuditEntry.Action.UPDATE, locked, user, delta, "修改合伙人")
    return locked


def _writable(user: Any, partner: Partner) -> Partner:
    """``partner`` locked, after the scope, permission and frozen checks."""
    ensure_may(user, partner.area_path)
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    ensure_not_frozen(locked)
    return locked


def _date(value: Any, name: str, zh: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(f"{zh}格式不正确", f"{name} is not a date", field=name) from None


def add_qualification(
    user: Any,
    partner: Partner,
    *,
    name: str,
    number: str = "",
    issuer: str = "",
    issued_on: Any = None,
    expires_on: Any = None,
) -> Qualification:
    """Record a licence or certificate of ``partner`` (audited)."""
    issued = _date(issued_on, "issued_on", "发证日期")
    expires = _date(expires_on, "expires_on", "有效期")
    if issued and expires and expires <= issued:
        raise ValidationFailed("有效期须晚于发证日期", "expiry is before issue", field="expires_on")
    qualification = Qualification(
        name=_text(name, 100, "name", "资质名称", required=True),
        number=_text(number, 64, "number", "证书编号"),
        issuer=_text(issuer, 100, "issuer", "发证机关"),
        issued_on=issued,
        expires_on=expires,
    )
    with transaction.atomic():
        qualification.partner = _writable(user, partner)
        qualification.save()
        audit.record(
            AuditEntry.Action.CREATE, qualification, user, audit.snapshot(qualification), "登记资质"
        )
    return qualification


def remove_qualification(user: Any, qualification: Qualification) -> None:
    with transaction.atomic():
        _writable(user, qualification.partner)
        entry = audit.entry(
            AuditEntry.Action.DELETE, qualification, user, audit.snapshot(qualification), "删除资质"
        )
        qualification.delete()
        entry.save()


def add_contact(
    user: Any,
    partner: Partner,
    *,
    name: str,
    phone: str = "",
    role: str = "",
    primary: bool = False,
) -> Contact:
    """Record a contact person of ``partner``; the phone is encrypted, indexed and
    masked (the audit entry holds only the masked copy). A new primary contact demotes
    the previous one."""
    contact = Contact(
        name=_text(name, 50, "name", "姓名", required=True),
        role=_text(role, 50, "role", "职务"),
        primary=bool(primary),
    )
    clear = validate_phone(phone or "")
    if clear:
        contact.set_phone(clear)
    with transaction.atomic():
        contact.partner = _writable(user, partner)
        if contact.primary:
            Contact.objects.filter(partner=partner, primary=True).update(primary=False)
        contact.save()
        audit.record(AuditEntry.Action.CREATE, contact, user, audit.snapshot(contact), "登记联系人")
    return contact


def remove_contact(user: Any, contact: Contact) -> None:
    with transaction.atomic():
        _writable(user, contact.partner)
        entry = audit.entry(
            AuditEntry.Action.DELETE, contact, user, audit.snapshot(contact), "删除联系人"
        )
        contact.delete()
        entry.save()


def reveal_phone(user: Any, contact: Contact) -> str:
    """The clear phone of ``contact`` for a user holding REVEAL_PII at its area, with the
    reveal written to the audit log."""
    if not path_allowed(user, contact.area_path, Perm.VIEW):
        raise NotFound()
    if not path_allowed(user, contact.area_path, Perm.REVEAL_PII):
        raise PermissionDenied("没有查看完整电话的权限", "you may not reveal personal data")
    audit.record(AuditEntry.Action.REVEAL, contact, user, {"fields": ["phone"]}, "查看联系人电话")
    return pii.decrypt(contact.phone_enc)


# --- what a user sees (the API and the pages alike) -------------------------------------


def visible_partners(user: Any) -> QuerySet[Partner]:
    return Partner.objects.visible_to(user).select_related("area")


def filter_partners(
    qs: QuerySet[Partner],
    *,
    kind: str = "",
    status: str = "",
    area_id: int | None = None,
    q: str = "",
) -> QuerySet[Partner]:
    """The partner list's filters: kind, status, an area (and below it), a name, code or
    service text."""
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if area_id is not None:
        qs = filter_under(qs, check_id(area_id))
    term = (q or "").strip()[:50]
    if term:
        qs = qs.filter(
            Q(name__icontains=term) | Q(uscc=identity.normalise(term)) | Q(services__icontains=term)
        )
    return qs


def get_partner(user: Any, pk: Any) -> Partner:
    """The partner ``pk`` if ``user`` may see it, else 404."""
    partner = visible_partners(user).filter(pk=check_id(pk)).first()
    if partner is None:
        raise NotFound("合伙人不存在", "partner not found")
    return partner


def visible_dismissals(user: Any) -> QuerySet[Dismissal]:
    return Dismissal.objects.visible_to(user).select_related(
        "partner", "agreement__project", "decided_by"
    )


def get_dismissal(user: Any, pk: Any) -> Dismissal:
    dismissal = visible_dismissals(user).filter(pk=check_id(pk)).first()
    if dismissal is None:
        raise NotFound("清退提议不存在", "dismissal proposal not found")
    return dismissal


def expiry_state(qualification: Qualification, today: dt.date | None = None) -> str:
    """``expired``, ``expiring`` (within PARTNERS_REMIND_DAYS) or ``valid``."""
    if qualification.expires_on is None:
        return "valid"
    today = today or timezone.localdate()
    if qualification.expires_on < today:
        return "expired"
    if qualification.expires_on <= today + dt.timedelta(days=settings.PARTNERS_REMIND_DAYS):
        return "expiring"
    return "valid"


EXPIRY_LABELS = {"expired": "已过期", "expiring": "即将到期", "valid": "有效"}


# --- reminders (run by registry_jobs) ---------------------------------------------------


def remind_qualifications(today: dt.date | None = None) -> int:
    """Tell the committee of each partner in service about its qualifications expiring
    within ``PARTNERS_REMIND_DAYS`` (or expired), once per qualification
    (``reminded_on``); returns how many were reminded."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=settings.PARTNERS_REMIND_DAYS)
    with transaction.atomic():
        due = list(
            Qualification.objects.select_for_update(of=("self",))
            .filter(reminded_on__isnull=True, expires_on__lte=horizon)
            .filter(partner__status__in=IN_SERVICE)
            .select_related("partner")
            .order_by("expires_on", "id")
        )
        for qualification in due:
            partner = qualification.partner
            left = (qualification.expires_on - today).days if qualification.expires_on else 0
            when = f"{left} 天后到期" if left > 0 else ("今日到期" if left == 0 else "已过期")
            notify(
                credit.committee(partner),
                kind="partner_qualification",
                title=f"合伙人资质{when}：{partner.name}",
                body=f"{qualification.name}（{qualification.number or '无编号'}）有效期至 "
                f"{qualification.expires_on:%Y-%m-%d}，请督促续办。",
                link=f"/partners/{partner.pk}/",
                ref=f"qualification:{qualification.pk}",
            )
        Qualification.objects.filter(pk__in=[q.pk for q in due]).update(reminded_on=today)
    return len(due)


def remind_renewals(today: dt.date | None = None) -> int:
    """Tell the committee about agreements in force ending within
    ``PARTNERS_REMIND_DAYS``, once per agreement (``renewal_reminded_on``); returns how
    many were reminded."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=settings.PARTNERS_REMIND_DAYS)
    with transaction.atomic():
        due = list(
            Agreement.objects.select_for_update(of=("self",))
            .filter(
                status=AgreementStatus.ACTIVE,
                renewal_reminded_on__isnull=True,
                ends_on__lte=horizon,
            )
            .select_related("partner", "project")
            .order_by("ends_on", "id")
        )
        for agreement in due:
            notify(
                credit.committee(agreement.partner),
                kind="partner_renewal",
                title=f"合作协议即将到期：{agreement.project.name}",
                body=f"与{agreement.partner.name}的协议 {agreement.ends_on:%Y-%m-%d} 到期，"
                "请评估后决定是否续签。",
                link=f"/partners/{agreement.partner_id}/",
                ref=f"agreement:{agreement.pk}",
            )
        Agreement.objects.filter(pk__in=[a.pk for a in due]).update(renewal_reminded_on=today)
    return len(due)
