"""Pages of 政策找人: the policy catalogue and a policy's page, the rule editor that checks
as you type, a match's explanation (why the system thinks this person qualifies), the
grid worker's door-visit list with its visit form, and the dashboard.

Views are thin: parse a form, call one action of :mod:`jiayuan.policies.services` or a
query of :mod:`.matching` / :mod:`.indicators`, render. Policies are county-wide
reference data every staff member reads; matches start from
``Match.objects.visible_to(user)`` and a match outside the scope is a 404.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, PermissionDenied
from jiayuan.core.roles import Perm
from jiayuan.core.rules import RuleError, render_lines
from jiayuan.core.scoping import has_perm_anywhere, path_allowed
from jiayuan.core.views import is_htmx, page
from jiayuan.people.views import address as dwelling_address

from . import matching, queries, services
from .choices import MatchStatus
from .forms import (
    OUTCOME_HINTS,
    RuleForm,
    VisitFilterForm,
    VisitForm,
    add_domain_error,
    outcome_choices,
)
from .indicators import TASK_OPEN
from .models import Match, Parameter, Policy, RuleVersion
from .registry import compile_policy_rule

PER_PAGE = 30
STATUS_CSS = {
    MatchStatus.UPCOMING: "bg-cyan-lt",
    MatchStatus.PENDING: "bg-orange-lt",
    MatchStatus.VISITED: "bg-blue-lt",
    MatchStatus.ACCEPTED: "bg-purple-lt",
    MatchStatus.GRANTED: "bg-green-lt",
    MatchStatus.REJECTED: "bg-secondary-lt",
    MatchStatus.DECLINED: "bg-secondary-lt",
    MatchStatus.CLOSED: "bg-dark-lt",
}


# --- helpers ---------------------------------------------------------------------------------
def get_policy(user: Any, code: str) -> Policy:
    return queries.get_policy(user, code)


def status_css(status: str) -> str:
    return STATUS_CSS.get(MatchStatus(status), "bg-secondary-lt") if status else ""


def decorate(matches: list[Match], today: dt.date) -> list[Match]:
    """Attach what the list templates show: badge class, overdue flag, address."""
    for m in matches:
        m.status_css = status_css(m.status)  # type: ignore[attr-defined]
        m.task_open = m.status in TASK_OPEN  # type: ignore[attr-defined]
        m.overdue = bool(  # type: ignore[attr-defined]
            m.task_open and m.due_on is not None and m.due_on < today  # type: ignore[attr-defined]
        )
        m.days_left = (m.due_on - today).days if m.due_on else None  # type: ignore[attr-defined]
        m.address = dwelling_address(m.person)  # type: ignore[attr-defined]
    return matches


# --- the catalogue -----------------------------------------------------------------------------
@page
def policy_index(request: HttpRequest) -> HttpResponse:
    """政策目录: every policy with its level, who it is for, and in the user's scope how
    many door visits are open and how many people already got the benefit."""
    user = request.user
    queries.require_staff(user)
    counts = queries.scope_counts(user)
    policies = list(queries.policies_for(user).order_by("level", "code"))
    empty = {"open": 0, "upcoming": 0, "granted": 0, "total": 0}
    rows = [(p, counts.get(p.pk, empty)) for p in policies]
    today = timezone.localdate()
    context = {
        "rows": rows,
        "today": today,
        "totals": {k: sum(c.get(k, 0) for c in counts.values()) for k in empty},
        "last_run": matching_last_run(),
    }
    return render(request, "policies/index.html", context)


def matching_last_run() -> Any:
    from .models import MatchRun

    return MatchRun.objects.order_by("-started_at").first()


def parameter_periods(policy: Policy, today: dt.date) -> list[dict[str, Any]]:
    """Parameters by name, each with its periods (start, end = next start), the one in
    force today marked; an unknown value shows as 未知 with its note."""
    by_name: dict[str, list[Parameter]] = defaultdict(list)
    # names in the order they were installed (the catalogue's), periods by start
    for p in Parameter.objects.filter(policy=policy).order_by("pk"):
        by_name[p.name].append(p)
    for periods in by_name.values():
        periods.sort(key=lambda p: p.start)
    out = []
    for periods in by_name.values():
        rows = []
        for i, p in enumerate(periods):
            end = periods[i + 1].start if i + 1 < len(periods) else None
            current = p.start <= today and (end is None or today < end)
            rows.append({"p": p, "end": end, "current": current})
        out.append({"label": periods[-1].label, "unit": periods[-1].unit, "periods": rows})
    return out


@page
def policy_detail(request: HttpRequest, code: str) -> HttpResponse:
    """政策详情: the legal basis, the benefit, materials and office, dated parameters,
    the check items, the rule with its version history, and the matches in scope."""
    user = request.user
    queries.require_staff(user)
    policy = get_policy(user, code)
    today = timezone.localdate()
    try:
        rule = compile_policy_rule(policy.rule)
        check_items, rule_error = rule.check_items, ""
    except RuleError as exc:  # a rule the registry no longer accepts (a tag was removed)
        check_items, rule_error = [], exc.zh
    versions = list(
        RuleVersion.objects.filter(policy=policy).select_related("created_by").order_by("-version")
    )
    counts = queries.scope_counts(user).get(
        policy.pk, {"open": 0, "upcoming": 0, "granted": 0, "total": 0}
    )
    context = {
        "policy": policy,
        "today": today,
        "active": policy.active_on(today),
        "parameters": parameter_periods(policy, today),
        "check_items": check_items,
        "rule_error": rule_error,
        "versions": versions,
        "counts": counts,
        "can_edit": queries.may_edit(user, policy),
        "matches_url": f"{reverse('policies:visits')}?policy={policy.code}&status=all",
        "open_url": f"{reverse('policies:visits')}?policy={policy.code}",
    }
    return render(request, "policies/detail.html", context)


# --- the rule editor ---------------------------------------------------------------------------
def rule_check(user: Any, policy: Policy, source: str, *, count: bool = True) -> dict[str, Any]:
    """What the editor shows under the rule: the error with its position and the
    expected tokens, or how many people in the user's scope the rule matches today.

    ``count=False`` leaves the count out (``count`` is ``None``): the editor opened on
    the stored rule loads it afterwards from :func:`policy_rule_count`, because counting
    the county's matching persons takes longer than the rest of the page."""
    source = source.strip()
    if not source:
        return {"empty": True}
    try:
        rule = compile_policy_rule(source)
    except RuleError as exc:
        detail = exc.detail or {}
        # the Chinese message names the expected tokens already ("此处应为以下之一：…")
        out: dict[str, Any] = {"error": exc.zh}
        if "start" in detail:
            line_no = detail["line"]
            line = source.splitlines()[line_no - 1] if source.splitlines() else source
            col = detail["column"] - 1
            width = max(1, min(detail["end"] - detail["start"], len(line) - col))
            out["excerpt"] = {
                "line": line_no,
                "column": detail["column"],
                "before": line[:col],
                "at": line[col : col + width] or " ",
                "after": line[col + width :],
            }
        return out
    today = timezone.localdate()
    return {
        "ok": True,
        "count": matching.count_matching(rule, today, user) if count else None,
        "today": today,
        "check_items": rule.check_items,
        "names": rule.names,
        "unchanged": source == policy.rule.strip(),
    }


@page
def policy_edit(request: HttpRequest, code: str) -> HttpResponse:
    """修改资格规则: the editor; saving makes a new rule version (matches keep the
    version that found them)."""
    user = request.user
    queries.require_staff(user)
    policy = get_policy(user, code)
    queries.require_editor(user, policy)
    form = RuleForm(request.POST or None, initial={"rule": policy.rule})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            source = form.cleaned_data["rule"]
            if source.strip() == policy.rule.strip():
                messages.info(request, "规则没有变化，未生成新版本。")
                return redirect("policies:detail", policy.code)
            try:
                policy = services.update_policy_rule(policy, source, user)
            except BilingualError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"已保存资格规则第 {policy.version} 版。")
                return redirect("policies:detail", policy.code)
        status = 422
    source = form.data.get("rule", policy.rule) if form.is_bound else policy.rule
    context = {
        "policy": policy,
        "form": form,
        # the stored rule's count comes after the page (policy_rule_count); a rule
        # sent back with an error is counted here, as the live check would
        "check": rule_check(user, policy, source, count=form.is_bound),
        "fields": field_help(),
    }
    return render(request, "policies/edit.html", context, status=status)


@require_POST
@page
def policy_validate(request: HttpRequest, code: str) -> HttpResponse:
    """The editor's live check (htmx, debounced): the rule's error or its match count."""
    user = request.user
    queries.require_staff(user)
    policy = get_policy(user, code)
    context = {"policy": policy, "check": rule_check(user, policy, request.POST.get("rule", ""))}
    return render(request, "policies/partials/rule_check.html", context)


@page
def policy_rule_count(request: HttpRequest, code: str) -> HttpResponse:
    """The editor's count of the stored rule (htmx, once the page has rendered): how
    many persons in the user's scope it matches today."""
    user = request.user
    queries.require_staff(user)
    policy = get_policy(user, code)
    rule = compile_policy_rule(policy.rule)
    today = timezone.localdate()
    context = {"count": matching.count_matching(rule, today, user)}
    return render(request, "policies/partials/rule_count.html", context)


def field_help() -> list[tuple[str, str]]:
    """The names a rule may use, for the editor's cheat sheet."""
    return [
        ("age", "年龄（按匹配日期计算，已故者按死亡日期）"),
        ("deceased", "是否已故"),
        ("gender", "性别"),
        ("hukou", '户籍地区划代码，如 hukou.startswith("37")'),
        ("hukou_type", "户籍类型：城镇 / 农村"),
        ("residence", "居住状态：常住 / 流动 …"),
        ("lives_alone", "是否独居"),
        ("household.size", "家庭人口数"),
        ('has_tag("残疾人")', "持有某个标签"),
        ('tag("残疾人").grade', "标签属性，如残疾等级"),
        ('household.has_tag("低保")', "家庭标签"),
        ('receives("gaoling-jintie")', "已享受某项政策待遇"),
        ('verify("无劳动能力")', "需上门核实的条件（成为核实事项）"),
    ]


# --- a match: the explanation page and the visit ------------------------------------------------
def visible_match(user: Any, pk: int) -> Match:
    return queries.get_match(user, pk, queries.matches_for(user).select_related("visited_by"))


def display_value(value: Any) -> str:
    if value is None:
        return "空"
    if value is True:
        return "是"
    if value is False:
        return "否"
    if isinstance(value, list):
        return "、".join(display_value(v) for v in value) or "（无）"
    return str(value)


def input_rows(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded inputs as rows: the rule's text and the value the query read."""
    rows = []
    for src, value in (inputs or {}).items():
        present = True
        if isinstance(value, list) and len(value) == 2 and isinstance(value[1], bool):
            value, present = value  # a tag attribute: [value, whether the tag is held]
        rows.append({"src": src, "value": display_value(value), "present": present})
    return rows


def parameter_rows(match: Match) -> list[dict[str, Any]]:
    """The parameter values recorded with the match (``{name: value}``, ``None`` for
    unknown), labelled from the policy's parameter period in force on the match's date."""
    periods: dict[str, Parameter] = {}
    order: dict[str, int] = {}
    for p in Parameter.objects.filter(policy_id=match.policy_id).order_by("start", "pk"):
        order.setdefault(p.name, p.pk)  # the catalogue's order
        if p.name not in periods or p.start <= match.ref_date:
            periods[p.name] = p
    rows = []
    recorded = sorted((match.parameters or {}).items(), key=lambda kv: order.get(kv[0], 0))
    for name, value in recorded:
        period = periods.get(name)
        rows.append({
            "label": period.label if period else name,
            "value": value,
            "unit": period.unit if period else "",
            "since": period.start.isoformat() if period else "",
            "note": period.note if period and value is None else "",
        })  # fmt: skip
    return rows


def trace_lines(match: Match) -> tuple[list[dict[str, Any]], str, str]:
    """The recorded evaluation as readable lines (✓/✗), its one-line summary, and an
    error text when the stored version cannot be re-read."""
    try:
        outcome = matching.explain(match)
    except RuleError as exc:
        return [], "", exc.zh
    lines = []
    for text in render_lines(outcome.trace):
        kind = "verify" if text.startswith("※") else ("ok" if text.endswith("✓") else "fail")
        lines.append({"text": text, "kind": kind})
    return lines, outcome.explain(), ""


def can_visit(user: Any, match: Match) -> bool:
    return bool(outcome_choices(match)) and path_allowed(user, match.area_path, Perm.CHANGE)


@page
def match_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """匹配说明: who, which policy, why (the rule version, the parameters and the inputs
    recorded when the match was found, and the trace re-derived from them only), the
    check items, the timeline and the visit form."""
    user = request.user
    match = visible_match(user, pk)
    today = timezone.localdate()
    decorate([match], today)
    lines, summary, explain_error = trace_lines(match)
    events = list(match.events.select_related("actor").order_by("at", "pk"))
    for e in events:
        e.status_css = status_css(e.status)  # type: ignore[attr-defined]
        e.who = (  # type: ignore[attr-defined]
            (e.actor.get_full_name() or e.actor.username) if e.actor else "系统"
        )
    form = VisitForm(match=match) if can_visit(user, match) else None
    context = {
        "match": match,
        "person": match.person,
        "policy": match.policy,
        "lines": lines,
        "summary": summary,
        "explain_error": explain_error,
        "inputs": input_rows(match.inputs),
        "parameters": parameter_rows(match),
        "events": events,
        "form": form,
        "hints": OUTCOME_HINTS,
        "next": request.GET.get("next", ""),
    }
    return render(request, "policies/match.html", context)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Only our own list page may be the place to return to."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith(reverse("policies:visits")):
        return target
    return fallback


@page
def match_visit(request: HttpRequest, pk: int) -> HttpResponse:
    """登记上门结果: GET the form (a fragment for htmx, a page otherwise), POST it to
    ``services.record_visit``."""
    user = request.user
    match = visible_match(user, pk)
    if not can_visit(user, match):
        raise PermissionDenied(
            f"当前状态「{match.get_status_display()}」不能登记上门结果",
            "no visit can be recorded for this match now",
        )
    back = safe_next(request, reverse("policies:match", args=[match.pk]))
    status = 200
    if request.method == "POST":
        form = VisitForm(request.POST, match=match)
        if form.is_valid():
            data = form.cleaned_data
            try:
                match = services.record_visit(
                    match, user, data["outcome"], note=data["note"],
                    failed_item=data["failed_item"], since=data["since"],
                )  # fmt: skip
            except BilingualError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request, f"已登记：{match.person.name} · {match.policy.name} · "
                    f"{match.get_status_display()}"
                )  # fmt: skip
                if is_htmx(request):
                    return HttpResponse(status=200, headers={"HX-Redirect": back})
                return redirect(back)
        status = 422
    else:
        form = VisitForm(match=match)
    decorate([match], timezone.localdate())
    context = {"match": match, "form": form, "hints": OUTCOME_HINTS, "next": back}
    template = "policies/partials/visit_form.html" if is_htmx(request) else "policies/visit.html"
    return render(request, template, context, status=status)


# --- the door-visit list -------------------------------------------------------------------------
def match_filter(form: VisitFilterForm) -> tuple[queries.MatchFilter, str]:
    """The list's filter from the form, and the status shown (default: 待办)."""
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or "open"
    policy = data.get("policy")
    wanted = queries.MatchFilter(
        policy=policy.code if policy else None,
        tasks=status == "open",
        overdue=status == "overdue",
        statuses=[status] if status not in ("open", "overdue", "all") else None,
        q=data.get("q") or None,
    )
    return wanted, status


@page
def visits(request: HttpRequest) -> HttpResponse:
    """上门任务: the matches of the scope as door-to-door tasks, the most urgent first
    (by the date the visit is due), overdue ones marked, filtered by status and policy."""
    user = request.user
    queries.require_staff(user)
    today = timezone.localdate()
    form = VisitFilterForm(request.GET or None)
    wanted, status = match_filter(form)
    base = queries.matches_for(user)
    queryset = queries.filter_matches(base, wanted, today)
    page_obj = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    decorate(list(page_obj.object_list), today)
    counts = queries.task_counts(base, today)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "matches": page_obj,
        "status": status,
        "counts": counts,
        "today": today,
        "query": query.urlencode(),
        "here": request.get_full_path(),
        "can_change": has_perm_anywhere(user, Perm.CHANGE),
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "visit-list":
        return render(request, "policies/partials/visit_list.html", context)
    return render(request, "policies/visits.html", context)


# --- the dashboard -------------------------------------------------------------------------------
def percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


@page
def dashboard(request: HttpRequest) -> HttpResponse:
    """政策找人统计: per policy matched / visited / granted and the median days from
    eligibility to benefit, and the breakdown by area (ECharts, with tables)."""
    user = request.user
    queries.require_staff(user)
    today = timezone.localdate()
    code = request.GET.get("policy", "")
    policy = Policy.objects.filter(code=code).first() if code else None
    total, per_policy, per_area = queries.dashboard_indicators(user, policy, today)
    shown = [r for r in per_policy if r.matched or r.upcoming]
    kpis = [
        ("匹配人数", total.matched, "人"),
        ("已上门", total.visited, "人"),
        ("已办结", total.granted, "人"),
        ("上门率", percent(total.visit_rate), "%"),
        ("办结率", percent(total.grant_rate), "%"),
        ("办结中位天数", total.median_days, "天"),
        ("逾期未办", total.overdue, "件"),
        ("即将符合", total.upcoming, "人"),
    ]
    chart = {
        "policies": {
            "names": [r.label for r in shown],
            "matched": [r.matched for r in shown],
            "visited": [r.visited for r in shown],
            "granted": [r.granted for r in shown],
        },
        "median": [
            {"name": r.label, "value": r.median_days}
            for r in per_policy
            if r.median_days is not None
        ],
        "areas": {
            "names": [r.label for r in per_area],
            "matched": [r.matched for r in per_area],
            "visited": [r.visited for r in per_area],
            "granted": [r.granted for r in per_area],
        },
    }
    context = {
        "kpis": kpis,
        "chart": chart,
        "per_policy": [(r, percent(r.visit_rate), percent(r.grant_rate)) for r in per_policy],
        "per_area": [(r, percent(r.visit_rate), percent(r.grant_rate)) for r in per_area],
        "policy": policy,
        "policies": Policy.objects.order_by("code").only("code", "name"),
        "today": today,
    }
    return render(request, "policies/dashboard.html", context)
