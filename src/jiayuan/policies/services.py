"""What people do with policies and matches: edit a policy's rule (a new version),
record a door visit (the match's task), record a benefit received. Every change goes
through :mod:`jiayuan.core.actions` (scope re-checked, audited) and, for a match, its
timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core import actions
from jiayuan.core.errors import Conflict, ValidationFailed
from jiayuan.people.models import Person

from .choices import OPEN_STATUSES, BenefitSource, MatchStatus
from .models import Match, MatchEvent, Policy, ReceivedBenefit, RuleVersion
from .registry import compile_policy_rule

# Which visit outcomes each status allows (the door-to-door task).
VISIT_OUTCOMES: dict[str, tuple[str, ...]] = {
    MatchStatus.PENDING: (
        MatchStatus.VISITED, MatchStatus.ACCEPTED, MatchStatus.GRANTED,
        MatchStatus.REJECTED, MatchStatus.DECLINED,
    ),
    MatchStatus.VISITED: (
        MatchStatus.ACCEPTED, MatchStatus.GRANTED, MatchStatus.REJECTED, MatchStatus.DECLINED,
    ),
    MatchStatus.ACCEPTED: (MatchStatus.GRANTED, MatchStatus.REJECTED, MatchStatus.DECLINED),
}  # fmt: skip
FINAL = (MatchStatus.GRANTED, MatchStatus.REJECTED, MatchStatus.DECLINED)
EDITABLE_FIELDS = (
    "name", "summary", "level", "legal_basis", "article", "benefit", "materials", "office",
    "active_from", "active_until", "lookahead_days", "visit_days", "recheck_days", "enabled",
)  # fmt: skip


def update_policy(policy: Policy, user: Any, **fields: Any) -> Policy:
    """Change a policy's descriptive fields and, with ``rule=``, its rule."""
    unknown = set(fields) - set(EDITABLE_FIELDS) - {"rule"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationFailed(
            f"不能修改字段 {name}", f"field {name} cannot be changed", field=name
        )
    rule = fields.pop("rule", None)
    with transaction.atomic():
        if fields:
            actions.update(policy, actor=user, **fields)
        if rule is not None and rule.strip() != policy.rule.strip():
            update_policy_rule(policy, rule, user)
    return policy


def update_policy_rule(policy: Policy, source: str, user: Any) -> Policy:
    """Check ``source`` (``RuleError`` with the position if it is not a valid rule) and
    make it the policy's rule as a new version; matches keep the version that found them."""
    compile_policy_rule(source)
    with transaction.atomic():
        policy = Policy.objects.select_for_update().get(pk=policy.pk)
        version = policy.version + 1
        actions.update(
            policy, actor=user, rule=source.strip(), version=version, note="修改资格规则"
        )
        RuleVersion.objects.create(
            policy=policy, version=version, rule=source.strip(), created_by=user
        )
    return policy


def record_visit(
    match: Match,
    user: Any,
    outcome: str,
    *,
    note: str = "",
    failed_item: str = "",
    since: dt.date | None = None,
) -> Match:
    """Record a door visit's result: 已上门, 已受理, 已办结 (the benefit is recorded and
    the match closes), 不符合 (naming the check item that failed) or 本人放弃."""
    with transaction.atomic():
        match = (
            Match.objects.select_for_update().select_related("policy", "person").get(pk=match.pk)
        )
        actions.ensure_in_scope(user, match)
        allowed = VISIT_OUTCOMES.get(match.status, ())
        if outcome not in allowed:
            raise Conflict(
                f"当前状态「{match.get_status_display()}」不能登记为「{_label(outcome)}」",
                f"a match that is {match.status} cannot be recorded as {outcome}",
            )
        changes: dict[str, Any] = {"status": outcome}
        if outcome == MatchStatus.REJECTED:
            failed_item = failed_item.strip()
            if not failed_item:
                raise ValidationFailed(
                    "请填写不符合的核实事项", "name the check item that failed", field="failed_item"
                )
            if match.check_items and failed_item not in match.check_items:
                raise ValidationFailed(
                    "不符合事项须为本次匹配的核实事项之一",
                    "the failed item must be one of the match's check items",
                    field="failed_item",
                )
            changes["failed_item"] = failed_item
        if match.visited_at is None:
            changes.update(visited_at=timezone.now(), visited_by=user)
        if outcome in FINAL:
            changes["closed_at"] = timezone.now()
        if note:
            changes["remark"] = note
        actions.update(match, actor=user, note="上门走访", **changes)
        data: dict[str, Any] = {"failed_item": failed_item} if failed_item else {}
        if outcome == MatchStatus.GRANTED:
            benefit = _add_benefit(
                match.person, match.policy, since or timezone.localdate(), None, user,
                BenefitSource.VISIT, match,
            )  # fmt: skip
            data["benefit"] = benefit.pk
        MatchEvent.objects.create(match=match, actor=user, status=outcome, note=note, data=data)
    return match


def record_benefit(
    person: Person,
    policy: Policy,
    *,
    since: dt.date | None,
    until: dt.date | None = None,
    user: Any = None,
    source: str = BenefitSource.MANUAL,
) -> ReceivedBenefit:
    """Record that ``person`` receives ``policy``'s benefit; an open match for it is
    settled as 已办结."""
    if since and until and until <= since:
        raise ValidationFailed("终止日期须晚于起始日期", "until must be after since", field="until")
    with transaction.atomic():
        open_match = (
            Match.objects.select_for_update()
            .filter(person=person, policy=policy, status__in=OPEN_STATUSES)
            .first()
        )
        benefit = _add_benefit(person, policy, since, until, user, source, open_match)
        if open_match is not None:
            actions.update(
                open_match, actor=user, status=MatchStatus.GRANTED, closed_at=timezone.now(),
                note="登记享受待遇",
            )  # fmt: skip
            MatchEvent.objects.create(
                match=open_match, actor=user, status=MatchStatus.GRANTED, note="登记享受待遇",
                data={"benefit": benefit.pk},
            )  # fmt: skip
    return benefit


def _add_benefit(
    person: Person,
    policy: Policy,
    since: dt.date | None,
    until: dt.date | None,
    user: Any,
    source: str,
    match: Match | None,
) -> ReceivedBenefit:
    return actions.create(
        ReceivedBenefit, actor=user, person=person, policy=policy, since=since, until=until,
        source=source, match=match, recorded_by=user,
    )  # fmt: skip


def _label(status: str) -> str:
    return str(MatchStatus(status).label)


def follow_moved_person(person: Person, new_path: str) -> dict[str, int]:
    """A resident moved to another area (``people.services.person_moved``): their
    benefits and open matches (the door-to-door tasks) move to the new area's grid
    worker, in the mover's transaction. Closed matches stay where the visit was done:
    they are the old grid's record of its own work."""
    now = timezone.now()
    benefits = ReceivedBenefit.objects.filter(person=person).update(
        area_path=new_path, updated_at=now
    )
    matches = Match.objects.filter(person=person, status__in=OPEN_STATUSES).update(
        area_path=new_path, updated_at=now
    )
    return {"benefits": benefits, "matches": matches}
