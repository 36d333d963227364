"""Pages of the partner registry (合伙人库): the list with credit and status, a partner's
page (identity, qualifications with expiry warnings, contacts masked with the audited
reveal, documents, projects, the credit ledger and its balance chart), the register and
edit forms, and the dismissal proposals with the committee's decision page.

Views are thin: parse a form, call one action of :mod:`jiayuan.partners.registry`,
:mod:`~jiayuan.partners.credit` or :mod:`~jiayuan.partners.documents`, render. Every
list starts from the user's scope; a partner outside it is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from jiayuan.community.views.markets_forms import add_error
from jiayuan.core.errors import BilingualError, NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, path_allowed, scope_q
from jiayuan.core.views import page
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from .. import credit, documents, registry
from ..choices import DismissalStatus, PartnerKind, PartnerStatus
from ..models import Contact, CreditEntry, Document, Partner
from .registry_forms import (
    ContactForm,
    DecisionForm,
    DocumentForm,
    PartnerForm,
    QualificationForm,
)

PER_PAGE = 30
CHOICE_LIMIT = 500
STATUS_CSS = {
    PartnerStatus.ACTIVE: "bg-green-lt",
    PartnerStatus.WARNED: "bg-yellow-lt",
    PartnerStatus.DISMISSED: "bg-red-lt",
    PartnerStatus.WITHDRAWN: "bg-secondary-lt",
}
EXPIRY_CSS = {"expired": "bg-red-lt", "expiring": "bg-yellow-lt", "valid": "bg-green-lt"}
DISMISSAL_CSS = {
    DismissalStatus.PROPOSED: "bg-yellow-lt",
    DismissalStatus.DECIDED: "bg-red-lt",
    DismissalStatus.REJECTED: "bg-green-lt",
}
CHART_W, CHART_H, CHART_PAD = 600, 140, 12


def _areas(user: Any) -> list[tuple[int, str]]:
    """Streets and communities where the user manages partners."""
    rows = (
        Area.objects.filter(
            scope_q(user, Perm.SUPERVISE, field="path"), kind__in=registry.PARTNER_AREA_KINDS
        )
        .order_by("path")
        .values_list("pk", "name", "kind")[:CHOICE_LIMIT]
    )
    return [(pk, name if kind == "street" else f"　{name}") for pk, name, kind in rows]


# --- the list ----------------------------------------------------------------------------
@page
def partner_index(request: HttpRequest) -> HttpResponse:
    """合伙人: the partners in the user's scope with their credit and status (in words)."""
    user: Any = request.user
    kind = request.GET.get("kind") or ""
    kind = kind if kind in PartnerKind.values else ""
    status = request.GET.get("status") or ""
    status = status if status in PartnerStatus.values else ""
    q = (request.GET.get("q") or "").strip()[:50]
    qs = registry.filter_partners(registry.visible_partners(user), kind=kind, status=status, q=q)
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    for p in page_obj:
        p.status_css = STATUS_CSS.get(PartnerStatus(p.status), "")  # type: ignore[attr-defined]
    context = {
        "partners": page_obj,
        "kind": kind,
        "status": status,
        "q": q,
        "kinds": PartnerKind.choices,
        "statuses": PartnerStatus.choices,
        "may_create": has_perm_anywhere(user, Perm.SUPERVISE),
    }
    return render(request, "partners/registry/index.html", context)


# --- register and edit -------------------------------------------------------------------
def _fields(user: Any, data: dict[str, Any]) -> registry.PartnerFields:
    area = Area.objects.filter(pk=data["area"]).first()
    if area is None:
        raise NotFound("区域不存在", "no such area", field="area")
    person = None
    if data.get("person"):
        person = Person.objects.visible_to(user).filter(pk=data["person"]).first()
        if person is None:
            raise NotFound("居民不存在", "person not found", field="person")
    return registry.PartnerFields(
        kind=data["kind"],
        name=data["name"],
        area=area,
        uscc=data.get("uscc") or "",
        person=person,
        legal_representative=data.get("legal_representative") or "",
        address=data.get("address") or "",
        services=data.get("services") or "",
        joined_on=data.get("joined_on"),
    )


@page
def partner_new(request: HttpRequest) -> HttpResponse:
    """登记合伙人."""
    user: Any = request.user
    form = PartnerForm(request.POST if request.method == "POST" else None, areas=_areas(user))
    if request.method == "POST" and form.is_valid():
        try:
            partner = registry.register(user, _fields(user, form.cleaned_data))
        except BilingualError as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"已登记合伙人“{partner.name}”。")
            return redirect("partners:partner", pk=partner.pk)
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "partner": None}
    return render(request, "partners/registry/form.html", context, status=status)


@page
def partner_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """修改合伙人 (not its status or credit)."""
    user: Any = request.user
    partner = registry.get_partner(user, pk)
    registry.ensure_may(user, partner.area_path)
    initial = {
        "kind": partner.kind, "name": partner.name, "area": partner.area_id,
        "uscc": partner.uscc, "person": partner.person_id,
        "legal_representative": partner.legal_representative, "address": partner.address,
        "services": partner.services, "joined_on": partner.joined_on,
    }  # fmt: skip
    data = request.POST if request.method == "POST" else None
    form = PartnerForm(data, initial=initial, areas=_areas(user))
    if request.method == "POST" and form.is_valid():
        try:
            registry.update(user, partner, _fields(user, form.cleaned_data))
        except BilingualError as exc:
            add_error(form, exc)
        else:
            messages.success(request, "已保存。")
            return redirect("partners:partner", pk=partner.pk)
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "partner": partner}
    return render(request, "partners/registry/form.html", context, status=status)


# --- the partner's page ------------------------------------------------------------------
def balance_chart(entries: list[CreditEntry], warning: int) -> dict[str, Any] | None:
    """An SVG polyline of the balance after each entry, with the warning line."""
    if not entries:
        return None
    balances = [e.balance for e in entries]
    low = min([*balances, warning, 0])
    high = max([*balances, warning]) or 1
    span = (high - low) or 1
    steps = max(len(balances) - 1, 1)

    def x(i: int) -> float:
        return round(CHART_PAD + i * (CHART_W - 2 * CHART_PAD) / steps, 1)

    def y(v: int) -> float:
        return round(CHART_H - CHART_PAD - (v - low) * (CHART_H - 2 * CHART_PAD) / span, 1)

    return {
        "width": CHART_W,
        "height": CHART_H,
        "points": " ".join(f"{x(i)},{y(b)}" for i, b in enumerate(balances)),
        "warning_y": y(warning),
        "warning": warning,
        "last": balances[-1],
        "high": high,
        "low": low,
    }


def _detail_context(request: HttpRequest, partner: Partner, **forms: Any) -> dict[str, Any]:
    user: Any = request.user
    may_manage = registry.may_manage(user, partner) and partner.status != PartnerStatus.DISMISSED
    qualifications = list(partner.qualifications.all())
    for q in qualifications:
        state = registry.expiry_state(q)
        q.expiry = state  # type: ignore[attr-defined]
        q.expiry_label = registry.EXPIRY_LABELS[state]  # type: ignore[attr-defined]
        q.expiry_css = EXPIRY_CSS[state]  # type: ignore[attr-defined]
    entries = list(
        CreditEntry.objects.filter(partner=partner).select_related("decided_by").order_by("id")
    )
    warning = credit.thresholds(partner).warning
    return {
        "partner": partner,
        "status_css": STATUS_CSS.get(PartnerStatus(partner.status), ""),
        "frozen": partner.status == PartnerStatus.DISMISSED,
        "may_manage": may_manage,
        "can_reveal": path_allowed(user, partner.area_path, Perm.REVEAL_PII),
        "qualifications": qualifications,
        "contacts": list(partner.contacts.all()),
        "documents": list(partner.documents.all()),
        "projects": list(partner.projects.order_by("-created_at", "id")),
        "dismissals": list(
            partner.dismissals.select_related("agreement__project").order_by("-created_at")
        ),
        "entries": entries,
        "chart": balance_chart(entries, warning),
        "warning": warning,
        "qualification_form": forms.get("qualification_form") or QualificationForm(),
        "contact_form": forms.get("contact_form") or ContactForm(),
        "document_form": forms.get("document_form") or DocumentForm(),
    }


@page
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """合伙人详情."""
    partner = registry.get_partner(request.user, pk)
    return render(request, "partners/registry/detail.html", _detail_context(request, partner))


def _sub_form(
    request: HttpRequest,
    pk: int,
    form: Any,
    name: str,
    action: Callable[[Any, Partner, dict[str, Any]], Any],
    done: str,
) -> HttpResponse:
    """A form of the partner's page (qualification, contact, document): run ``action``
    and go back to the page, or show the page again with the form's errors (422). A
    refusal that is no input error (404, 403, the frozen 409) answers with its own page."""
    user: Any = request.user
    partner = registry.get_partner(user, pk)
    if form.is_valid():
        try:
            action(user, partner, form.cleaned_data)
        except BilingualError as exc:
            if exc.status in (403, 404, 409):
                raise
            add_error(form, exc)
        else:
            messages.success(request, done)
            return redirect("partners:partner", pk=partner.pk)
    context = _detail_context(request, partner, **{name: form})
    return render(request, "partners/registry/detail.html", context, status=422)


@require_POST
@page
def qualification_new(request: HttpRequest, pk: int) -> HttpResponse:
    """登记资质."""
    return _sub_form(
        request, pk, QualificationForm(request.POST), "qualification_form",
        lambda user, partner, data: registry.add_qualification(user, partner, **data),
        "已登记资质。",
    )  # fmt: skip


@require_POST
@page
def contact_new(request: HttpRequest, pk: int) -> HttpResponse:
    """登记联系人."""
    return _sub_form(
        request, pk, ContactForm(request.POST), "contact_form",
        lambda user, partner, data: registry.add_contact(user, partner, **data),
        "已登记联系人。",
    )  # fmt: skip


@never_cache
@require_POST
@page
def contact_reveal(request: HttpRequest, pk: int, contact_pk: int) -> HttpResponse:
    """查看完整电话: the clear phone, audited by ``registry.reveal_phone``."""
    user: Any = request.user
    partner = registry.get_partner(user, pk)
    contact = Contact.objects.filter(partner=partner, pk=registry.check_id(contact_pk)).first()
    if contact is None:
        raise NotFound()
    clear = registry.reveal_phone(user, contact)
    context = {"contact": contact, "clear": clear, "can_reveal": True}
    return render(request, "partners/registry/contact_phone.html", context)


@require_POST
@page
def document_new(request: HttpRequest, pk: int) -> HttpResponse:
    """上传文件."""
    return _sub_form(
        request, pk, DocumentForm(request.POST, request.FILES), "document_form",
        lambda user, partner, data: documents.save_document(
            user, data["file"], kind=data["kind"], title=data["title"], partner=partner
        ),
        "已上传文件。",
    )  # fmt: skip


@page
def document_open(request: HttpRequest, pk: int, document_pk: int) -> Any:
    """A partner's document, to users who may see the partner (404 otherwise)."""
    user: Any = request.user
    partner = registry.get_partner(user, pk)
    row = Document.objects.filter(partner=partner, pk=registry.check_id(document_pk)).first()
    if row is None:
        raise NotFound()
    return documents.response(user, row)


# --- dismissals --------------------------------------------------------------------------
@page
def dismissal_index(request: HttpRequest) -> HttpResponse:
    """清退提议: proposals in the user's scope, those awaiting the committee first."""
    user: Any = request.user
    status = request.GET.get("status") or ""
    status = status if status in DismissalStatus.values else ""
    qs = registry.visible_dismissals(user).order_by("-status", "-created_at", "id")
    if status:
        qs = qs.filter(status=status)
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    for d in page_obj:
        d.status_css = DISMISSAL_CSS.get(DismissalStatus(d.status), "")  # type: ignore[attr-defined]
    context = {"dismissals": page_obj, "status": status, "statuses": DismissalStatus.choices}
    return render(request, "partners/registry/dismissals.html", context)


@page
def dismissal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A dismissal proposal and, for the committee (SUPERVISE), the decision form."""
    user: Any = request.user
    dismissal = registry.get_dismissal(user, pk)
    form = DecisionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        registry.ensure_may(user, dismissal.area_path)
        if form.is_valid():
            try:
                credit.decide(user, dismissal, **form.cleaned_data)
            except BilingualError as exc:
                if exc.status in (403, 404, 409):
                    raise
                add_error(form, exc)
            else:
                messages.success(request, "党委决定已记录。")
                return redirect("partners:dismissal", pk=dismissal.pk)
    entries = list(
        CreditEntry.objects.filter(partner_id=dismissal.partner_id)
        .select_related("decided_by")
        .order_by("-id")[:20]
    )
    context = {
        "dismissal": dismissal,
        "status_css": DISMISSAL_CSS.get(DismissalStatus(dismissal.status), ""),
        "form": form,
        "may_decide": dismissal.status == DismissalStatus.PROPOSED
        and path_allowed(user, dismissal.area_path, Perm.SUPERVISE),
        "entries": entries,
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "partners/registry/dismissal.html", context, status=status)
