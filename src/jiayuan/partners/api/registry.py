"""The JSON API of the partner registry: partners, their qualifications, contacts
(phones masked; an audited reveal for REVEAL_PII), documents, the credit ledger and the
dismissal proposals. Handlers parse, call one action of :mod:`jiayuan.partners.registry`,
:mod:`~jiayuan.partners.credit` or :mod:`~jiayuan.partners.documents`, and answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import MAX_ROW_ID as MAX_ID
from jiayuan.core.errors import NotFound
from jiayuan.core.errors import row_id as check_id
from jiayuan.core.roles import Perm
from jiayuan.core.schemas import Page, PageParams
from jiayuan.core.scoping import path_allowed
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from .. import credit, documents, registry
from ..choices import DismissalStatus, DocumentKind, PartnerKind, PartnerStatus
from ..models import Contact, CreditEntry, Dismissal, Document, Partner, Qualification

router = Router(tags=["红色合伙人 · 合伙人库 / partner registry"])


# --- schemas -----------------------------------------------------------------------------
class PartnerOut(Schema):
    id: int
    kind: str
    kind_label: str
    name: str
    area_id: int
    area_name: str
    area_path: str
    uscc: str
    status: str
    status_label: str
    credit: int
    joined_on: dt.date | None
    left_on: dt.date | None


class QualificationOut(Schema):
    id: int
    name: str
    number: str
    issuer: str
    issued_on: dt.date | None
    expires_on: dt.date | None
    expiry: str = Field(description="valid / expiring / expired")
    expiry_label: str


class ContactOut(Schema):
    """A contact as every answer shows it: the phone masked, always."""

    id: int
    name: str
    role: str
    phone_masked: str
    primary: bool


class DocumentOut(Schema):
    id: int
    kind: str
    kind_label: str
    title: str
    stage: str
    content_type: str
    size: int
    sha256: str
    url: str
    created_at: dt.datetime


class ProjectRef(Schema):
    id: int
    name: str
    stage: str
    status: str


class PartnerDetail(PartnerOut):
    person_id: int | None
    legal_representative: str
    address: str
    services: str
    qualifications: list[QualificationOut]
    contacts: list[ContactOut]
    documents: list[DocumentOut]
    projects: list[ProjectRef]
    may_manage: bool
    may_reveal: bool


class PartnerIn(Schema):
    kind: PartnerKind
    name: str = Field(max_length=100)
    area_id: int = Field(ge=1, le=MAX_ID)
    uscc: str = Field("", max_length=40, description="统一社会信用代码")
    person_id: int | None = Field(None, ge=1, le=MAX_ID, description="社区能人的居民档案")
    legal_representative: str = Field("", max_length=50)
    address: str = Field("", max_length=200)
    services: str = Field("", max_length=2000)
    joined_on: dt.date | None = None


class PartnerPatch(Schema):
    kind: PartnerKind | None = None
    name: str | None = Field(None, max_length=100)
    area_id: int | None = Field(None, ge=1, le=MAX_ID)
    uscc: str | None = Field(None, max_length=40)
    person_id: int | None = Field(None, ge=1, le=MAX_ID)
    legal_representative: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=200)
    services: str | None = Field(None, max_length=2000)
    joined_on: dt.date | None = None


class PartnerFilters(Schema):
    kind: PartnerKind | None = Field(None, description="类型 / kind")
    status: PartnerStatus | None = Field(None, description="状态 / status")
    area_id: int | None = Field(None, description="区域（含下级） / area and below")
    q: str = Field("", max_length=50, description="名称、信用代码或服务内容 / name, code, services")


class QualificationIn(Schema):
    name: str = Field(max_length=100)
    number: str = Field("", max_length=64)
    issuer: str = Field("", max_length=100)
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None


class ContactIn(Schema):
    name: str = Field(max_length=50)
    role: str = Field("", max_length=50)
    phone: str = Field("", max_length=20)
    primary: bool = False


class RevealOut(Schema):
    phone: str


class EntryOut(Schema):
    id: int
    at: dt.datetime
    delta: int
    balance: int
    reason: str
    reason_label: str
    note: str
    evidence: str
    decided_by: str


class CreditOut(Schema):
    partner_id: int
    balance: int
    status: str
    status_label: str
    warning_threshold: int
    entries: list[EntryOut]


class DismissalOut(Schema):
    id: int
    partner_id: int
    partner_name: str
    agreement_id: int
    project_id: int
    project_name: str
    balance: int
    status: str
    status_label: str
    reasons: str
    decided_by: str
    decided_at: dt.datetime | None
    created_at: dt.datetime


class DismissalFilters(Schema):
    status: DismissalStatus | None = Field(None, description="状态 / status")


class DecisionIn(Schema):
    decision: str = Field(description="decided（清退）或 rejected（保留）")
    reasons: str = Field(max_length=2000)


# --- rendering ---------------------------------------------------------------------------
def partner_row(p: Partner) -> dict[str, Any]:
    return {
        "id": p.pk, "kind": p.kind, "kind_label": p.get_kind_display(), "name": p.name,
        "area_id": p.area_id, "area_name": p.area.name, "area_path": p.area_path,
        "uscc": p.uscc, "status": p.status, "status_label": p.get_status_display(),
        "credit": p.credit, "joined_on": p.joined_on, "left_on": p.left_on,
    }  # fmt: skip


def document_row(d: Document) -> dict[str, Any]:
    return {
        "id": d.pk, "kind": d.kind, "kind_label": d.get_kind_display(), "title": d.title,
        "stage": d.stage, "content_type": d.content_type, "size": d.size, "sha256": d.sha256,
        "url": f"/api/v1/partners/{d.partner_id}/documents/{d.pk}", "created_at": d.created_at,
    }  # fmt: skip


def qualification_row(q: Qualification) -> dict[str, Any]:
    state = registry.expiry_state(q)
    return {
        "id": q.pk, "name": q.name, "number": q.number, "issuer": q.issuer,
        "issued_on": q.issued_on, "expires_on": q.expires_on, "expiry": state,
        "expiry_label": registry.EXPIRY_LABELS[state],
    }  # fmt: skip


def detail(user: Any, partner: Partner) -> dict[str, Any]:
    return {
        **partner_row(partner),
        "person_id": partner.person_id,
        "legal_representative": partner.legal_representative,
        "address": partner.address,
        "services": partner.services,
        "qualifications": [qualification_row(q) for q in partner.qualifications.all()],
        "contacts": list(partner.contacts.all()),
        "documents": [document_row(d) for d in partner.documents.all()],
        "projects": list(partner.projects.order_by("-created_at", "id")),
        "may_manage": registry.may_manage(user, partner),
        "may_reveal": path_allowed(user, partner.area_path, Perm.REVEAL_PII),
    }


def entry_row(e: CreditEntry) -> dict[str, Any]:
    return {
        "id": e.pk, "at": e.created_at, "delta": e.delta, "balance": e.balance,
        "reason": e.reason, "reason_label": e.get_reason_display(), "note": e.note,
        "evidence": e.evidence, "decided_by": e.decided_by.username if e.decided_by else "",
    }  # fmt: skip


def dismissal_row(d: Dismissal) -> dict[str, Any]:
    return {
        "id": d.pk, "partner_id": d.partner_id, "partner_name": d.partner.name,
        "agreement_id": d.agreement_id, "project_id": d.agreement.project_id,
        "project_name": d.agreement.project.name, "balance": d.balance, "status": d.status,
        "status_label": d.get_status_display(), "reasons": d.reasons,
        "decided_by": d.decided_by.username if d.decided_by else "",
        "decided_at": d.decided_at, "created_at": d.created_at,
    }  # fmt: skip


def _fields(user: Any, body: PartnerIn | PartnerPatch, base: Partner | None) -> Any:
    """The registry's input from a body (a patch falls back on the partner's values)."""

    def pick(name: str, default: Any) -> Any:
        value = getattr(body, name)
        return default if value is None else value

    area_id = pick("area_id", base.area_id if base else None)
    area = Area.objects.filter(pk=area_id).first()
    if area is None:
        raise NotFound("区域不存在", "no such area", field="area_id")
    person_id = pick("person_id", base.person_id if base else None)
    person = None
    if person_id is not None:
        person = Person.objects.visible_to(user).filter(pk=person_id).first()
        if person is None:
            raise NotFound("居民不存在", "person not found", field="person_id")
    return registry.PartnerFields(
        kind=pick("kind", base.kind if base else ""),
        name=pick("name", base.name if base else ""),
        area=area,
        uscc=pick("uscc", base.uscc if base else ""),
        person=person,
        legal_representative=pick("legal_representative", base and base.legal_representative),
        address=pick("address", base.address if base else ""),
        services=pick("services", base.services if base else ""),
        joined_on=pick("joined_on", base.joined_on if base else None),
    )


# --- partners ----------------------------------------------------------------------------
@router.get("/partners", response=responses(Page[PartnerOut]))
def list_partners(
    request: HttpRequest, filters: Query[PartnerFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """合伙人列表（可按类型、状态、区域、关键词筛选）。/ Partners in the user's scope,
    filtered by kind, status, area (and below) or a name, code or service term."""
    qs = registry.filter_partners(
        registry.visible_partners(acting_user(request)),
        kind=filters.kind or "", status=filters.status or "", area_id=filters.area_id,
        q=filters.q,
    )  # fmt: skip
    result = paginate(qs, page)
    result["items"] = [partner_row(p) for p in result["items"]]
    return result


@router.post("/partners", response=responses(PartnerDetail, 201))
def create_partner(request: HttpRequest, body: PartnerIn) -> Status[dict[str, Any]]:
    """登记合伙人（社区工作人员及以上）：社会组织、诚信商户须有有效的统一社会信用代码；
    社区能人可关联居民档案；登记时记入初始信用分。/ Register a partner (SUPERVISE at the
    area): a valid credit code for organisations and merchants, a person for a talent;
    the ledger opens with PARTNERS_CREDIT_OPENING."""
    user = acting_user(request)
    partner = registry.register(user, _fields(user, body, None))
    return Status(201, detail(user, registry.get_partner(user, partner.pk)))


@router.get("/partners/dismissals", response=responses(Page[DismissalOut]))
def list_dismissals(
    request: HttpRequest, filters: Query[DismissalFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """清退提议（待党委决定的在前）。/ Dismissal proposals in the user's scope, open ones
    first."""
    qs = registry.visible_dismissals(acting_user(request))
    if filters.status:
        qs = qs.filter(status=filters.status)
    result = paginate(qs.order_by("-status", "-created_at", "id"), page)
    result["items"] = [dismissal_row(d) for d in result["items"]]
    return result


@router.post("/partners/dismissals/{dismissal_id}/decide", response=responses(DismissalOut))
def decide_dismissal(request: HttpRequest, dismissal_id: int, body: DecisionIn) -> dict[str, Any]:
    """党委决定：decided 清退（协议终止、项目终止并释放场地、合伙人档案冻结），rejected
    保留。/ The committee's decision: ``decided`` ends the agreements, ends the projects
    (their spaces freed) and freezes the partner; ``rejected`` keeps it."""
    user = acting_user(request)
    dismissal = registry.get_dismissal(user, dismissal_id)
    credit.decide(user, dismissal, decision=body.decision, reasons=body.reasons)
    return dismissal_row(registry.get_dismissal(user, dismissal.pk))


@router.get("/partners/{partner_id}", response=responses(PartnerDetail))
def get_partner(request: HttpRequest, partner_id: int) -> dict[str, Any]:
    """一个合伙人：身份、资质（含到期状态）、联系人（电话脱敏）、文件和项目。/ One partner
    with its qualifications, contacts (phones masked), documents and projects."""
    user = acting_user(request)
    return detail(user, registry.get_partner(user, partner_id))


@router.patch("/partners/{partner_id}", response=responses(PartnerDetail))
def update_partner(request: HttpRequest, partner_id: int, body: PartnerPatch) -> dict[str, Any]:
    """修改合伙人（已清退的不能修改，409）。/ Change a partner (409 once dismissed)."""
    user = acting_user(request)
    partner = registry.get_partner(user, partner_id)
    registry.update(user, partner, _fields(user, body, partner))
    return detail(user, registry.get_partner(user, partner_id))


@router.get("/partners/{partner_id}/credit", response=responses(CreditOut))
def get_credit(request: HttpRequest, partner_id: int) -> dict[str, Any]:
    """信用积分：余额及每条记录（原因、依据、决定人、记录后余额）。/ The partner's credit
    balance and its ledger, each entry with its reason, evidence, who decided and the
    balance after it."""
    partner = registry.get_partner(acting_user(request), partner_id)
    entries = CreditEntry.objects.filter(partner=partner).select_related("decided_by")
    return {
        "partner_id": partner.pk,
        "balance": partner.credit,
        "status": partner.status,
        "status_label": partner.get_status_display(),
        "warning_threshold": credit.thresholds(partner).warning,
        "entries": [entry_row(e) for e in entries.order_by("id")],
    }


@router.post("/partners/{partner_id}/qualifications", response=responses(QualificationOut, 201))
def add_qualification(
    request: HttpRequest, partner_id: int, body: QualificationIn
) -> Status[dict[str, Any]]:
    """登记资质（证照名称、编号、发证机关、有效期）。/ Record a qualification."""
    user = acting_user(request)
    partner = registry.get_partner(user, partner_id)
    row = registry.add_qualification(user, partner, **body.dict())
    return Status(201, qualification_row(row))


@router.delete(
    "/partners/{partner_id}/qualifications/{qualification_id}", response=responses(None, 204)
)
def remove_qualification(
    request: HttpRequest, partner_id: int, qualification_id: int
) -> Status[None]:
    """删除资质。/ Remove a qualification."""
    user = acting_user(request)
    partner = registry.get_partner(user, partner_id)
    row = Qualification.objects.filter(partner=partner, pk=check_id(qualification_id)).first()
    if row is None:
        raise NotFound("资质不存在", "qualification not found")
    registry.remove_qualification(user, row)
    return Status(204, None)


@router.post("/partners/{partner_id}/contacts", response=responses(ContactOut, 201))
def add_contact(request: HttpRequest, partner_id: int, body: ContactIn) -> Status[Contact]:
    """登记联系人（电话加密保存，任何回答中只显示脱敏号码）。/ Record a contact; the phone
    is stored encrypted and only ever answered masked."""
    user = acting_user(request)
    partner = registry.get_partner(user, partner_id)
    return Status(201, registry.add_contact(user, partner, **body.dict()))


def _contact(user: Any, partner_id: int, contact_id: int) -> Contact:
    partner = registry.get_partner(user, partner_id)
    row = Contact.objects.filter(partner=partner, pk=check_id(contact_id)).first()
    if row is None:
        raise NotFound("联系人不存在", "contact not found")
    return row


@router.delete("/partners/{partner_id}/contacts/{contact_id}", response=responses(None, 204))
def remove_contact(request: HttpRequest, partner_id: int, contact_id: int) -> Status[None]:
    """删除联系人。/ Remove a contact."""
    user = acting_user(request)
    registry.remove_contact(user, _contact(user, partner_id, contact_id))
    return Status(204, None)


@router.post("/partners/{partner_id}/contacts/{contact_id}/reveal", response=responses(RevealOut))
def reveal_contact(request: HttpRequest, partner_id: int, contact_id: int) -> dict[str, str]:
    """查看完整电话（需查看敏感信息权限，记入审计日志）。/ The clear phone, for REVEAL_PII
    holders, written to the audit log."""
    user = acting_user(request)
    return {"phone": registry.reveal_phone(user, _contact(user, partner_id, contact_id))}


@router.post("/partners/{partner_id}/documents", response=responses(DocumentOut, 201))
def upload_document(
    request: HttpRequest,
    partner_id: int,
    file: File[UploadedFile],
    title: Form[str],
    kind: Form[DocumentKind] = DocumentKind.OTHER,
) -> Status[dict[str, Any]]:
    """上传文件（multipart ``file``：PDF、JPEG、PNG 或 docx/xlsx/pptx，≤20 MB）。/ Upload a
    document (PDF, JPEG, PNG or Office Open XML up to 20 MB; images stored without
    metadata)."""
    user = acting_user(request)
    partner = registry.get_partner(user, partner_id)
    row = documents.save_document(user, file, kind=kind, title=title, partner=partner)
    return Status(201, document_row(row))


@router.get("/partners/{partner_id}/documents/{document_id}", response=responses(None))
def download_document(request: HttpRequest, partner_id: int, document_id: int) -> FileResponse:
    """下载文件（仅能看到该合伙人的用户，否则 404）。/ A partner's document, to users who
    may see the partner (404 otherwise)."""
    user = acting_user(request)
    partner = registry.get_partner(user, partner_id)
    row = Document.objects.filter(partner=partner, pk=check_id(document_id)).first()
    if row is None:
        raise NotFound("文件不存在", "document not found")
    return documents.response(user, row)
