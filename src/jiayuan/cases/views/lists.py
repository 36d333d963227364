"""诉求: the role inboxes (to accept, in progress, to dispatch, to review, to visit back)
and all cases of the scope with filters."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere
from jiayuan.core.views import is_htmx, page

from .. import queries
from ..forms import (
    CaseFilterForm,
)
from .common import decorate

PER_PAGE = 20

# Inbox tabs (key, label); the supervisors' tabs only for those who dispatch and review.
TABS = [
    ("accept", "待接单"),
    ("doing", "办理中"),
    ("dispatch", "待派单"),
    ("review", "待审核"),
    ("visit", "待回访"),
    ("all", "全部"),
]
SUPERVISOR_TABS = {"dispatch", "review", "visit"}


@page
def case_index(request: HttpRequest) -> HttpResponse:
    """诉求: the role inboxes — to accept, in progress, to dispatch, to review, to visit
    back — and all cases of the scope with filters."""
    user = request.user
    is_supervisor = has_perm_anywhere(user, Perm.SUPERVISE)
    sets = queries.tab_querysets(user)
    tabs = [(k, label) for k, label in TABS if k not in SUPERVISOR_TABS or is_supervisor]
    keys = [k for k, _ in tabs]
    counts = {k: sets[k].count() for k in keys if k != "all"}
    tab = request.GET.get("tab", "")
    if tab not in keys:
        tab = next((k for k in keys if k != "all" and counts.get(k)), "all")
    form = CaseFilterForm(request.GET or None)
    queryset = sets[tab]
    if tab == "all":
        filters = form.filters() if form.is_valid() else queries.CaseFilter()
        queryset = queries.filter_cases(queryset, filters, user=user)
        queryset = queryset.order_by("-received_at", "-pk")
    else:
        queryset = queryset.order_by("stage_due_at", "pk")
    queryset = queryset.select_related("category", "grid", "handler_user", "handler_department")
    paginator = Paginator(queryset, PER_PAGE)
    page_obj = paginator.get_page(request.GET.get("page"))
    decorate(list(page_obj.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "tabs": [(k, label, counts.get(k)) for k, label in tabs],
        "tab": tab,
        "cases": page_obj,
        "form": form,
        "query": query.urlencode(),
        "can_intake": has_perm_anywhere(user, Perm.VIEW),
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "case-list":
        return render(request, "cases/partials/case_list.html", context)
    return render(request, "cases/index.html", context)
