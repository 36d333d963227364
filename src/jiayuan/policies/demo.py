"""The demo county's policy picture: benefits residents already receive (as a county
would import them from each bureau), then a matching run, then some door visits done.

Deterministic for a seed and a date: who already receives a benefit is drawn from the
seed; the run itself is the real :func:`run_matching`.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from jiayuan.core import actions, bulk
from jiayuan.core.roles import Role
from jiayuan.org.models import Membership

from .choices import BenefitSource, MatchStatus
from .matching import _candidates, run_matching
from .models import Match, MatchEvent, Policy, ReceivedBenefit
from .registry import compile_policy_rule
from .services import FINAL

# Share of the eligible who already receive each benefit before Jiayuan's first run.
ALREADY = {
    "laonian-youdai": 0.9, "laonian-gongjiao": 0.85, "laonian-tijian": 0.8,
    "canji-jiuyi-jianmian": 0.85, "canji-gongjiao": 0.8, "yibao-zizhu": 0.9,
}  # fmt: skip
DEFAULT_SHARE = 0.7
# What _some_visits reads of a pending match besides the fields a visit writes (the
# benefit granted takes its person and area path, the audit entry names the match).
VISIT_READS = ("id", "policy", "person", "eligible_on", "check_items", "area_path",
               "updated_at")  # fmt: skip


def seed_policies(seed: int, day: dt.date | None = None) -> dict[str, Any]:
    """Benefits received, one matching run, a few visits; returns counts."""
    day = day or timezone.localdate()
    fresh = _showcase_grid()
    rng = random.Random(f"policies-{seed}")  # noqa: S311 - demo data, not secrets
    rows: list[ReceivedBenefit] = []
    now = timezone.now()  # one moment recorded for the whole import
    for policy in Policy.objects.filter(enabled=True).order_by("code"):
        if not policy.active_on(day):
            continue
        rule = compile_policy_rule(policy.rule)
        share = ALREADY.get(policy.code, DEFAULT_SHARE)
        people = _candidates(policy, rule, day).order_by("pk").values_list("pk", "area_path")
        for pk, path in people:
            if rng.random() < share and not (fresh and path.startswith(fresh)):
                since = day - dt.timedelta(days=rng.randint(30, 2000))
                rows.append(
                    bulk.build(
                        ReceivedBenefit, now=now, person_id=pk, policy=policy,
                        area_path=path, since=since, source=BenefitSource.IMPORT,
                    )
                )  # fmt: skip
    bulk.insert(ReceivedBenefit, rows)  # as imported from each bureau: no audit entry each
    run = run_matching(day)
    visited = _some_visits(rng, fresh)
    return {
        "benefits": len(rows),
        "matches": sum(r["new"] + r["upcoming"] for r in run.summary.values()),
        "visits": visited,
    }


def _showcase_grid() -> str:
    """The first grid with a grid worker's account: the demo leaves every task there
    undone (nobody in it receives a benefit yet), so whoever logs in as that grid
    worker has door visits to make."""
    first = (
        Membership.objects.filter(role=Role.GRID_WORKER, active=True)
        .order_by("area_path")
        .values_list("area_path", flat=True)
        .first()
    )
    return first or ""


def _some_visits(rng: random.Random, fresh: str) -> int:
    """About a quarter of the tasks already visited, most of those settled.

    The rows :func:`record_visit` writes for each visit (the match's outcome and dates
    with its audit diff, the timeline event, the benefit granted with its audit entry),
    written through the action layer's bulk path: one visit at a time took most of the
    county seed's policy stage."""
    now = timezone.now()
    fields = ("status", "visited_at", "closed_at", "failed_item", "remark")
    visited: list[Match] = []
    before: list[dict[str, Any]] = []
    outcomes: list[tuple[str, str, str]] = []  # (status, failed item, note)
    # only what a visit reads and writes: the match's rule inputs and its person's
    # encrypted columns are not needed, and loading them was most of this function
    pending = (
        Match.objects.filter(status=MatchStatus.PENDING)
        .select_related("person")
        .only(*VISIT_READS, *fields, "person__area_path")
    )
    for match in pending.order_by("pk"):
        roll = rng.random()
        if roll > 0.25 or (fresh and match.area_path.startswith(fresh)):
            continue
        failed, note = "", ""
        outcome: str
        if roll < 0.05:
            outcome = MatchStatus.VISITED
        elif match.check_items and roll < 0.08:
            outcome, failed = MatchStatus.REJECTED, match.check_items[0]
        elif roll < 0.1:
            outcome, note = MatchStatus.DECLINED, "本人表示暂不申请"
        else:
            outcome = MatchStatus.GRANTED
        before.append({name: getattr(match, name) for name in fields})
        match.status, match.failed_item = outcome, failed or match.failed_item
        match.visited_at = match.visited_at or now
        if outcome in FINAL:
            match.closed_at = now
        if note:
            match.remark = note
        visited.append(match)
        outcomes.append((outcome, failed, note))
    actions.bulk_update_each(visited, fields, actor=None, note="上门走访", previous=before)
    granted = [m for m in visited if m.status == MatchStatus.GRANTED]
    benefits = actions.bulk_create(
        ReceivedBenefit,
        [
            ReceivedBenefit(person=m.person, policy_id=m.policy_id, since=m.eligible_on,
                            source=BenefitSource.VISIT, match=m, area_path=m.area_path)
            for m in granted
        ],
        actor=None,
    )  # fmt: skip
    benefit_of = {b.match_id: b.pk for b in benefits}
    events = []
    for match, (status, failed, note) in zip(visited, outcomes, strict=True):
        data: dict[str, Any] = {"failed_item": failed} if failed else {}
        if status == MatchStatus.GRANTED:
            data["benefit"] = benefit_of[match.pk]
        events.append(MatchEvent(match=match, at=now, status=status, note=note, data=data))
    bulk.insert(MatchEvent, events)
    return len(visited)
