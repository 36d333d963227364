"""What the API and the pages of 政策找人 share: who may read policies, the policy, match
and benefit querysets a user sees, their filters, and the counts per policy in scope.

Who sees what
    - **Policies** (and their parameters, rule versions and matching runs) are county-wide
      reference data without an area: every staff user (the view permission somewhere)
      reads all of them; a resident is refused the whole resource (403), whatever the
      code asked for, so the answer never tells which policies exist. Who may *edit* a
      policy is the action layer's catalogue rule (``core.actions.ensure_in_scope``:
      the change permission at the root of the tree); :func:`may_edit` only asks it.
    - **Matches and benefits** carry the person's area path: reads start from
      ``visible_to(user)``; outside the scope they answer 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from jiayuan.core import actions
from jiayuan.core.errors import NotFound, PermissionDenied
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere
from jiayuan.org.queries import filter_under

from . import indicators as ind
from .choices import OPEN_STATUSES, MatchStatus
from .indicators import TASK_OPEN
from .models import Match, Policy, ReceivedBenefit
from .registry import receiving_on


# --- policies ----------------------------------------------------------------------------
def require_staff(user: Any) -> None:
    """Policies are read by staff; a resident holds no view permission anywhere."""
    if not has_perm_anywhere(user, Perm.VIEW):
        raise PermissionDenied("只有工作人员可以查看政策", "only staff may read policies")


def policies_for(user: Any) -> QuerySet[Policy]:
    """Every policy, for staff (403 for anyone else)."""
    require_staff(user)
    return Policy.objects.all()


def get_policy(user: Any, code: str) -> Policy:
    """One policy by code, for staff; an unknown code is a 404."""
    policy = policies_for(user).filter(code=code).first()
    if policy is None:
        raise NotFound("政策不存在", "policy not found")
    return policy


def may_edit(user: Any, policy: Policy) -> bool:
    """Whether ``user`` may change ``policy``: the action layer decides (catalogue rule)."""
    return actions.may_change(user, policy)


def require_editor(user: Any, policy: Policy) -> None:
    """403 (or 404 for a user who sees nothing) unless ``user`` may change ``policy``."""
    actions.ensure_in_scope(user, policy, Perm.CHANGE)


def scope_counts(user: Any) -> dict[int, dict[str, int]]:
    """Per policy id, in the user's scope: open matches (``open_matches``, 即将符合
    included), open door tasks, upcoming, granted and all found matches (one query)."""
    rows = (
        Match.objects.visible_to(user)
        .values("policy_id")
        .annotate(
            open_matches=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
            open=Count("pk", filter=Q(status__in=TASK_OPEN)),
            upcoming=Count("pk", filter=Q(status=MatchStatus.UPCOMING)),
            granted=Count("pk", filter=Q(status=MatchStatus.GRANTED)),
            total=Count("pk", filter=~Q(status=MatchStatus.UPCOMING)),
        )
        .order_by()
    )
    return {r["policy_id"]: r for r in rows}


def dashboard_indicators(
    user: Any, policy: Policy | None = None, today: dt.date | None = None
) -> tuple[ind.Row, list[ind.Row], list[ind.Row]]:
    """The dashboard's three tables — all visible matches (of ``policy``) as one row, one
    row per policy, one per area of ``indicators.breakdown_areas`` (of ``policy``) — the
    same rows as ``indicators.summary``, ``by_policy`` and ``by_area``, from one read of
    the matches grouped by policy and area and one read of the days to benefit, where
    those three read the matches three times and the days three times.

    Areas of unequal path widths (a tree with mixed code widths) cannot share the
    grouping by one prefix: the three functions answer then."""
    today = today or timezone.localdate()
    areas = ind.breakdown_areas(user)
    width = len(areas[0].path) if areas else 0
    if any(len(a.path) != width for a in areas):
        return (
            ind.summary(user, policy, today),
            ind.by_policy(user, today),
            ind.by_area(user, policy, today),
        )
    total = ind.Row("all", "合计")
    per_policy = {
        pk: ind.Row(code, name)
        for pk, code, name in Policy.objects.order_by("code").values_list("pk", "code", "name")
    }
    per_area = {a.path: ind.Row(a.path, a.name) for a in areas}
    wanted = policy.pk if policy is not None else None
    matches = ind.matches_for(user)
    groups = (
        matches.annotate(prefix=Substr("area_path", 1, width))
        .values("policy_id", "prefix")
        .annotate(**ind._counts(today))
        .order_by()
    )
    for group in groups:
        if group["policy_id"] in per_policy:
            per_policy[group["policy_id"]].add(group)
        if wanted is None or group["policy_id"] == wanted:
            total.add(group)
            if group["prefix"] in per_area:
                per_area[group["prefix"]].add(group)
    for policy_id, path, days in ind.days_to_benefit(matches):
        if policy_id in per_policy:
            per_policy[policy_id].days.append(days)
        if wanted is None or policy_id == wanted:
            total.days.append(days)
            if path[:width] in per_area:
                per_area[path[:width]].days.append(days)
    return total, list(per_policy.values()), list(per_area.values())


# --- matches -----------------------------------------------------------------------------
def matches_for(user: Any) -> QuerySet[Match]:
    """Matches of persons in the user's scope, with what lists show beside them."""
    return Match.objects.visible_to(user).select_related(
        "policy", "person__area", "person__dwelling__unit__parent", "rule_version"
    )


def get_match(user: Any, pk: int, queryset: QuerySet[Match] | None = None) -> Match:
    """One match ``user`` may see, else 404 (absent and out of scope alike)."""
    match = (queryset if queryset is not None else matches_for(user)).filter(pk=pk).first()
    if match is None:
        raise NotFound("匹配不存在", "match not found")
    return match


@dataclass
class MatchFilter:
    """The filters of a match list, the same for the API (``MatchFilters``) and the
    door-visit page (``VisitFilterForm``). Empty values filter nothing.

    ``statuses`` are match statuses; ``open`` keeps unfinished matches (false: finished
    ones); ``tasks`` keeps the door tasks still to do, ``overdue`` those past their due
    day; ``q`` is part of the person's name.
    """

    policy: str | None = None
    statuses: Sequence[str] | None = None
    open: bool | None = None
    tasks: bool = False
    overdue: bool = False
    kind: str | None = None
    area: int | None = None
    person: int | None = None
    due_before: dt.date | None = None
    q: str | None = None


def filter_matches(
    qs: QuerySet[Match], f: MatchFilter, today: dt.date | None = None
) -> QuerySet[Match]:
    """``qs`` cut by ``f``, the most urgent first (by due day)."""
    today = today or timezone.localdate()
    if f.policy:
        qs = qs.filter(policy__code=f.policy)
    if f.statuses:
        qs = qs.filter(status__in=f.statuses)
    if f.open is not None:
        open_q = Q(status__in=OPEN_STATUSES)
        qs = qs.filter(open_q) if f.open else qs.exclude(open_q)
    if f.tasks or f.overdue:
        qs = qs.filter(status__in=TASK_OPEN)
    if f.overdue:
        qs = qs.filter(due_on__lt=today)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.area is not None:
        qs = filter_under(qs, f.area)
    if f.person is not None:
        qs = qs.filter(person_id=f.person)
    if f.due_before is not None:
        qs = qs.filter(due_on__lt=f.due_before)
    if f.q and f.q.strip():
        qs = qs.filter(person__name__contains=f.q.strip())
    return qs.order_by("due_on", "pk")


def task_counts(qs: QuerySet[Match], today: dt.date) -> dict[str, int]:
    """Open door tasks, overdue ones and upcoming matches of ``qs`` (one query)."""
    return qs.aggregate(
        open=Count("pk", filter=Q(status__in=TASK_OPEN)),
        overdue=Count("pk", filter=Q(status__in=TASK_OPEN, due_on__lt=today)),
        upcoming=Count("pk", filter=Q(status=MatchStatus.UPCOMING)),
    )


# --- benefits ----------------------------------------------------------------------------
def benefits_for(user: Any) -> QuerySet[ReceivedBenefit]:
    """Benefits received by persons in the user's scope."""
    return ReceivedBenefit.objects.visible_to(user).select_related(
        "person", "policy", "recorded_by"
    )


def filter_benefits(
    qs: QuerySet[ReceivedBenefit],
    *,
    person: int | None = None,
    policy: str | None = None,
    current: bool | None = None,
) -> QuerySet[ReceivedBenefit]:
    """``qs`` cut by person, policy code and whether the benefit is in force today;
    latest first."""
    if person is not None:
        qs = qs.filter(person_id=person)
    if policy:
        qs = qs.filter(policy__code=policy)
    if current is not None:
        today = receiving_on(timezone.localdate())
        qs = qs.filter(today) if current else qs.exclude(today)
    return qs.order_by("-recorded_at", "-pk")
