"""API of policies finding people (政策找人): ``/policies`` (catalogue, edit, rule check,
matching runs), ``/matches`` (the door-to-door tasks with their explanation, and the
visit) and ``/benefits`` (benefits received).

Who may do what:

* **Policies** are county-wide reference data: every staff user (anyone holding the
  view permission somewhere) reads them; a resident gets 403. Counts of matches in a
  policy's answer are always cut to the user's scope.
* **Editing a policy** changes what the whole county is matched by, so it needs the
  change permission at the root of the area tree (the county administrator): the rule
  the action layer applies to every catalogue row (``core.actions.ensure_in_scope``),
  asked through :mod:`.queries`; other staff get 403.
* **Matches and benefits** belong to the person's area: reads start from
  ``visible_to(user)``, outside the scope they answer 404; recording a visit or a
  benefit needs the change permission there (a grid worker in their grid), else 403.

The querysets and filters are those of :mod:`jiayuan.policies.queries`, shared with the
pages.
* **Matching runs** on demand need the supervise permission (community staff, street
  leaders, administrators), as other on-demand jobs do (``/tags/recompute``).

Every write is one action of :mod:`jiayuan.policies.services`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from jiayuan.core.api import acting_user, get_visible, paginate, require_change, responses
from jiayuan.core.errors import PermissionDenied, ValidationFailed
from jiayuan.core.roles import Perm
from jiayuan.core.rules import Rule, RuleError, render_lines
from jiayuan.core.schemas import Page, PageParams
from jiayuan.core.scoping import has_perm_anywhere, path_allowed
from jiayuan.people.models import Person

from . import matching, queries, services
from .choices import OPEN_STATUSES, MatchStatus
from .models import Match, MatchEvent, MatchRun, Parameter, Policy, ReceivedBenefit, RuleVersion
from .registry import compile_policy_rule
from .schemas import (
    BenefitFilters,
    BenefitIn,
    BenefitOut,
    MatchDetail,
    MatchFilters,
    MatchOut,
    MatchRunIn,
    MatchRunOut,
    MatchRunStarted,
    PolicyDetail,
    PolicyOut,
    PolicyPatch,
    RuleCheckIn,
    RuleCheckOut,
    VisitIn,
)

router = Router()

RUNS_SHOWN = 20
# A run of at most this many named policies answers within the request (a few seconds
# for a county); a larger one goes to the worker.
SYNC_RUN_MAX_POLICIES = 3


# --- who may do what -------------------------------------------------------------------
def require_supervisor(user: Any) -> None:
    if not has_perm_anywhere(user, Perm.SUPERVISE):
        raise PermissionDenied("没有发起匹配的权限", "you may not start a matching run")


# --- policies --------------------------------------------------------------------------
def parameters_out(policy: Policy, day: dt.date) -> list[dict[str, Any]]:
    """Each parameter with its periods (a period runs until the next one starts) and the
    value in force on ``day``."""
    grouped: dict[str, dict[str, Any]] = {}
    rows = Parameter.objects.filter(policy=policy).order_by("name", "start")
    for row in rows:
        entry = grouped.setdefault(
            row.name,
            {"name": row.name, "label": row.label, "unit": row.unit, "current": None,
             "known": False, "periods": []},
        )  # fmt: skip
        periods = entry["periods"]
        if periods:
            periods[-1]["until"] = row.start
        periods.append({"start": row.start, "until": None, "value": row.value, "note": row.note})
        if row.start <= day:
            entry["label"], entry["unit"] = row.label, row.unit
            entry["current"], entry["known"] = row.value, row.value is not None
    return list(grouped.values())


def rule_check_items(source: str) -> list[str]:
    """The ``verify`` items of a stored rule (a stored rule compiled when it was saved;
    a policy whose rule names a since-removed policy shows none rather than failing)."""
    try:
        return compile_policy_rule(source).check_items
    except RuleError:
        return []


def policy_detail(policy: Policy, user: Any) -> Policy:
    """``policy`` with what :class:`PolicyDetail` shows beyond its columns."""
    today = timezone.localdate()
    counts = dict(
        Match.objects.visible_to(user)
        .filter(policy=policy)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    versions = RuleVersion.objects.filter(policy=policy).select_related("created_by")
    policy.open_count = sum(counts.get(s, 0) for s in OPEN_STATUSES)  # type: ignore[attr-defined]
    policy._detail = {  # type: ignore[attr-defined]
        "check_items": rule_check_items(policy.rule),
        "parameters": parameters_out(policy, today),
        "rule_versions": list(versions.order_by("-version")),
        "match_counts": {status: counts.get(status, 0) for status in MatchStatus.values},
        "may_edit": queries.may_edit(user, policy),
    }
    return policy


@router.get("/policies", response=responses(list[PolicyOut]), tags=["policies"])
def list_policies(request: HttpRequest) -> list[Policy]:
    """The policy catalogue (20 policies ship), each with its open matches in the user's
    scope. Any staff user may read it."""
    user = acting_user(request)
    policies = list(queries.policies_for(user).order_by("code"))
    counts = queries.scope_counts(user)
    for policy in policies:
        policy.open_count = counts.get(policy.pk, {}).get("open_matches", 0)  # type: ignore[attr-defined]
    return policies


@router.post("/policies/validate-rule", response=responses(RuleCheckOut), tags=["policies"])
def validate_rule(request: HttpRequest, body: RuleCheckIn) -> dict[str, Any]:
    """Check a rule as an editor types it: the error with its position and the tokens
    expected there, or, for a valid rule, how many persons in the user's scope it
    matches today and the items to check at the door. Nothing is saved."""
    user = acting_user(request)
    queries.require_staff(user)
    today = timezone.localdate()
    try:
        rule: Rule = compile_policy_rule(body.rule)
    except RuleError as exc:
        detail = dict(exc.detail or {})
        expected = list(detail.pop("expected", []) or [])
        return {
            "valid": False,
            "error": {
                "code": exc.code,
                "message": exc.message,
                "message_zh": exc.zh,
                "message_en": exc.en,
                "position": detail or None,
                "expected": expected,
            },
            "count": None,
            "check_items": [],
            "names": [],
            "ref_date": today,
        }
    return {
        "valid": True,
        "error": None,
        "count": matching.count_matching(rule, today, user),
        "check_items": rule.check_items,
        "names": rule.names,
        "ref_date": today,
    }


@router.get("/policies/match-runs", response=responses(list[MatchRunOut]), tags=["policies"])
def list_match_runs(request: HttpRequest) -> QuerySet[MatchRun]:
    """The latest matching runs, newest first, with their summaries per policy (new,
    closed, upcoming, open). The figures are county totals; no person is named."""
    queries.require_staff(acting_user(request))
    return MatchRun.objects.select_related("triggered_by").order_by("-started_at", "-pk")[
        :RUNS_SHOWN
    ]


@router.post("/policies/match-runs", response=responses(MatchRunStarted, 201), tags=["policies"])
def start_match_run(request: HttpRequest, body: MatchRunIn) -> Status[dict[str, Any]]:
    """Start a matching run now (needs the supervise permission). A run of a few named
    policies finishes within the request and is returned; a run of every policy is
    queued for the worker (``queued: true``) and appears in the run list when done."""
    user = acting_user(request)
    require_supervisor(user)
    codes = sorted(set(body.codes or []))
    if codes:
        known = set(Policy.objects.filter(code__in=codes).values_list("code", flat=True))
        missing = [code for code in codes if code not in known]
        if missing:
            raise ValidationFailed(
                f"政策不存在：{'、'.join(missing)}",
                f"no such policy: {', '.join(missing)}",
                field="codes",
            )
    if codes and len(codes) <= SYNC_RUN_MAX_POLICIES:
        run = matching.run_matching(body.ref_date, codes=codes, user=user)
        return Status(201, {"queued": False, "run": run})
    from .tasks import match_on_demand  # the task queue only when a run is queued

    day = body.ref_date.isoformat() if body.ref_date else None
    match_on_demand(day, codes or None, user.pk)
    return Status(201, {"queued": True, "run": None})


@router.get("/policies/{code}", response=responses(PolicyDetail), tags=["policies"])
def get_policy_detail(request: HttpRequest, code: str) -> Policy:
    """One policy with all it says: legal basis, benefit, materials, parameters by
    period (a value may be unknown), the rule, its check items and versions, and the
    matches by status in the user's scope."""
    user = acting_user(request)
    return policy_detail(queries.get_policy(user, code), user)


@router.patch("/policies/{code}", response=responses(PolicyDetail), tags=["policies"])
def update_policy(request: HttpRequest, code: str, body: PolicyPatch) -> Policy:
    """Change a policy (county administrators). A new ``rule`` is checked first and
    becomes the next rule version; an invalid one answers 422 ``invalid_rule`` with its
    position (``detail``: line, column, start, end, expected) and changes nothing."""
    user = acting_user(request)
    policy = queries.get_policy(user, code)
    queries.require_editor(user, policy)
    fields = body.dict(exclude_unset=True)
    source = fields.pop("rule", None)
    for name in [n for n, v in fields.items() if v is None]:
        if name not in ("active_from", "active_until"):
            raise ValidationFailed(f"{name} 不能为空", f"{name} may not be null", field=name)
    start = fields.get("active_from", policy.active_from)
    end = fields.get("active_until", policy.active_until)
    if start is not None and end is not None and end <= start:
        raise ValidationFailed(
            "停止日期须晚于执行日期", "active_until must be after active_from", field="active_until"
        )
    if source is not None:
        fields["rule"] = source
    # One transaction: an invalid rule (RuleError, 422) rolls back the other fields too.
    services.update_policy(policy, user, **fields)
    return policy_detail(queries.get_policy(user, code), user)


# --- matches ---------------------------------------------------------------------------
def match_detail(user: Any, match_id: int) -> Match:
    """A match the user may see, with its recorded explanation and timeline."""
    events = MatchEvent.objects.select_related("actor").order_by("at", "pk")
    match = queries.get_match(
        user,
        match_id,
        queries.matches_for(user)
        .select_related("visited_by")
        .prefetch_related(Prefetch("events", queryset=events)),
    )
    outcome = matching.explain(match)
    may_visit = match.is_open and path_allowed(user, match.area_path, Perm.CHANGE)
    match._detail = {  # type: ignore[attr-defined]
        "explanation": {
            "rule": match.rule_version.rule,
            "version": match.rule_version.version,
            "ref_date": match.ref_date,
            "parameters": match.parameters or {},
            "inputs": match.inputs or {},
            "matched": outcome.matched,
            "check_items": outcome.check_items,
            "trace": outcome.trace,
            "lines": render_lines(outcome.trace),
            "text": outcome.explain(),
        },
        "outcomes": list(services.VISIT_OUTCOMES.get(match.status, ())) if may_visit else [],
        "may_visit": may_visit,
    }
    return match


@router.get("/matches", response=responses(Page[MatchOut]), tags=["matches"])
def list_matches(
    request: HttpRequest, filters: Query[MatchFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Matches (the door-to-door tasks) in the user's scope, ordered by due date: a grid
    worker sees their grid's. ``person=ID`` lists one resident's matches."""
    wanted = queries.MatchFilter(
        policy=filters.policy,
        statuses=filters.status,
        open=filters.open,
        kind=filters.kind,
        area=filters.area,
        person=filters.person,
        due_before=filters.due_before,
    )
    return paginate(queries.filter_matches(queries.matches_for(acting_user(request)), wanted), page)


@router.get("/matches/{match_id}", response=responses(MatchDetail), tags=["matches"])
def get_match(request: HttpRequest, match_id: int) -> Match:
    """One match with its explanation as recorded when it was found: the rule version,
    the parameter values, the inputs the query read and the trace over them (JSON, and
    as Chinese lines), its timeline and the visit outcomes open to the user."""
    return match_detail(acting_user(request), match_id)


@router.post("/matches/{match_id}/visit", response=responses(MatchDetail), tags=["matches"])
def record_visit(request: HttpRequest, match_id: int, body: VisitIn) -> Match:
    """Record a door visit: ``visited`` (已上门), ``accepted`` (已受理), ``granted``
    (已办结: the benefit is recorded from ``since``, default today, and the match closes),
    ``rejected`` (不符合: ``failed_item`` names the check item that failed) or
    ``declined`` (本人放弃). A step the match's status does not allow answers 409."""
    user = acting_user(request)
    match = queries.get_match(user, match_id, Match.objects.visible_to(user))
    require_change(user, match)
    services.record_visit(
        match, user, body.outcome, note=body.note, failed_item=body.failed_item, since=body.since
    )
    return match_detail(user, match_id)


# --- benefits --------------------------------------------------------------------------
@router.get("/benefits", response=responses(Page[BenefitOut]), tags=["benefits"])
def list_benefits(
    request: HttpRequest, filters: Query[BenefitFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Benefits received (享受待遇) by persons in the user's scope, latest first."""
    qs = queries.filter_benefits(
        queries.benefits_for(acting_user(request)),
        person=filters.person,
        policy=filters.policy,
        current=filters.current,
    )
    return paginate(qs, page)


@router.post("/benefits", response=responses(BenefitOut, 201), tags=["benefits"])
def create_benefit(request: HttpRequest, body: BenefitIn) -> Status[ReceivedBenefit]:
    """Record that a person receives a policy's benefit (手工登记); it closes their open
    match for that policy. Needs the change permission where the person lives."""
    user = acting_user(request)
    person = get_visible(Person.objects.all(), user, pk=body.person)
    require_change(user, person)
    policy = Policy.objects.filter(code=body.policy).first()
    if policy is None:
        raise ValidationFailed(f"政策 {body.policy} 不存在", "no such policy", field="policy")
    if body.until is not None and body.until <= body.since:
        raise ValidationFailed("终止日期须晚于起始日期", "until must be after since", field="until")
    benefit = services.record_benefit(person, policy, since=body.since, until=body.until, user=user)
    return Status(201, queries.benefits_for(user).get(pk=benefit.pk))
