"""Policy finds people (政策找人): the matching run.

For each active policy, one pass over the whole population in the database:

1. **eligible** — persons the rule holds for on the run's date, who do not already
   receive the benefit and were not settled (不符合 / 本人放弃) within the policy's
   recheck interval: ``Person.objects.filter(rule.q(day))``, ids only;
2. against the policy's **open matches** (one query): the eligible without one get a new
   match; upcoming matches whose day has come become matches; open matches whose
   person no longer qualifies are closed with the reason (已故, 迁出, 已享受, 不再符合);
3. the new matches' **explanations** are recorded by a second query that selects the
   rule's leaf values for just those persons (:mod:`jiayuan.core.rules.inputs`);
4. **look-ahead** — persons eligible within ``lookahead_days`` but not today become
   upcoming matches dated the first day they qualify (people turning 60, 65, 80).

A re-run on the same data changes nothing: every step compares with what is stored.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from tqdm import tqdm

from jiayuan.core.roles import Perm
from jiayuan.core.rules import Outcome, Rule
from jiayuan.people.choices import ResidenceStatus
from jiayuan.people.models import Person
from jiayuan.people.rules_fields import PersonFacts, facts_of

from .choices import (
    CLOSABLE_STATUSES,
    OPEN_STATUSES,
    SETTLED_STATUSES,
    CloseReason,
    MatchKind,
    MatchStatus,
    RunStatus,
)
from .models import Match, MatchEvent, MatchRun, Parameter, Policy, ReceivedBenefit, RuleVersion
from .registry import compile_policy_rule, load_benefits, receives, receiving_on

logger = logging.getLogger(__name__)

CHUNK = 2000
# Above this many new matches the explanation query re-runs the rule once over everyone
# instead of looking persons up by id in chunks.
ONE_PASS_ABOVE = 20000

ELIGIBLE = "eligible"
CANDIDATE = "candidate"
NOT_ELIGIBLE = "not_eligible"


# --- one person ------------------------------------------------------------------------
def classify(
    policy_code: str, facts: PersonFacts, day: dt.date, rule: Rule | None = None
) -> tuple[str, Outcome]:
    """What a run on ``day`` would make of this person: ``eligible`` (a match with no
    check items), ``candidate`` (a match with check items) or ``not_eligible`` (the rule
    fails, or the person already receives the benefit)."""
    if rule is None:
        rule = compile_policy_rule(Policy.objects.get(code=policy_code).rule)
    outcome = rule.evaluate(facts, day)
    if not outcome.matched or receives(facts.benefits, policy_code, day):
        return NOT_ELIGIBLE, outcome
    return (CANDIDATE if outcome.check_items else ELIGIBLE), outcome


def explain(match: Match) -> Outcome:
    """The match's explanation, from what was stored when it was found: the rule version
    it was found by and the inputs that query read. Never today's data."""
    rule = compile_policy_rule(match.rule_version.rule)
    return rule.evaluate_recorded(match.inputs, match.ref_date)


def count_matching(rule: Rule, day: dt.date, user: Any) -> int:
    """How many persons in ``user``'s scope the rule holds for on ``day``."""
    return rule.filter(Person.objects.visible_to(user, Perm.VIEW), day).count()


# --- parameters ------------------------------------------------------------------------
def parameters_on(policy: Policy, day: dt.date) -> dict[str, str | None]:
    """The value of each parameter in force on ``day``, ``None`` when unknown (labels,
    units and notes stay on the :class:`Parameter` rows)."""
    out: dict[str, str | None] = {}
    for name, value in (
        Parameter.objects.filter(policy=policy, start__lte=day)
        .order_by("name", "start")
        .values_list("name", "value")
    ):
        out[name] = None if value is None else str(value)
    return out


# --- the run ---------------------------------------------------------------------------
@dataclass
class PolicyResult:
    new: int = 0
    closed: int = 0
    upcoming: int = 0
    open: int = 0
    seconds: float = 0.0
    closed_by_reason: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "closed": self.closed,
            "upcoming": self.upcoming,
            "open": self.open,
            "seconds": round(self.seconds, 3),
            "closed_by_reason": self.closed_by_reason,
        }


def run_matching(
    ref_date: dt.date | None = None,
    *,
    codes: Sequence[str] | None = None,
    user: Any = None,
    progress: bool = False,
) -> MatchRun:
    """Match every enabled policy (or ``codes``) over the whole population on
    ``ref_date`` (today by default). Idempotent; returns the run with its summary."""
    day = ref_date or timezone.localdate()
    run = MatchRun.objects.create(ref_date=day, triggered_by=user)
    policies = Policy.objects.filter(enabled=True).order_by("code")
    if codes:
        policies = policies.filter(code__in=codes)
    summary: dict[str, Any] = {}
    bar = tqdm(list(policies), desc="政策匹配", unit="项", disable=not progress)
    try:
        for policy in bar:
            bar.set_postfix_str(policy.code)
            started = timezone.now()
            with transaction.atomic():
                result = match_policy(policy, day, run)
            result.seconds = (timezone.now() - started).total_seconds()
            summary[policy.code] = result.as_json()
    except Exception as exc:
        run.status, run.error, run.summary = RunStatus.FAILED, repr(exc), summary
        run.finished_at = timezone.now()
        run.save()
        raise
    run.status, run.summary, run.finished_at = RunStatus.DONE, summary, timezone.now()
    run.save()
    return run


def rule_version(policy: Policy) -> RuleVersion:
    found, _ = RuleVersion.objects.get_or_create(
        policy=policy, version=policy.version, defaults={"rule": policy.rule}
    )
    return found


def _candidates(policy: Policy, rule: Rule, day: dt.date) -> QuerySet[Person]:
    """Persons the rule holds for on ``day`` who neither receive the benefit (nor have it
    granted from a later date) nor were settled recently."""
    # in force, or granted to start later: either way no door visit is needed
    receiving = ReceivedBenefit.objects.filter(
        Q(until__isnull=True) | Q(until__gt=day), person=OuterRef("pk"), policy=policy
    )
    settled_since = timezone.make_aware(
        dt.datetime.combine(day - dt.timedelta(days=policy.recheck_days), dt.time.min)
    )
    settled = Match.objects.filter(
        person=OuterRef("pk"),
        policy=policy,
        status__in=SETTLED_STATUSES,
        closed_at__gte=settled_since,
    )
    return rule.filter(Person.objects.all(), day).filter(~Exists(receiving), ~Exists(settled))


def match_policy(policy: Policy, day: dt.date, run: MatchRun | None = None) -> PolicyResult:
    """One policy's pass (see the module docstring). Call inside a transaction."""
    result = PolicyResult()
    open_rows = {
        person_id: (pk, status)
        for person_id, pk, status in Match.objects.filter(
            policy=policy, status__in=OPEN_STATUSES
        ).values_list("person_id", "pk", "status")
    }
    if not policy.active_on(day):
        closing = [pk for pk, status in open_rows.values() if status in CLOSABLE_STATUSES]
        result.closed = _close(closing, CloseReason.POLICY_ENDED, day)
        result.closed_by_reason = {CloseReason.POLICY_ENDED: result.closed} if closing else {}
        return result

    rule = compile_policy_rule(policy.rule)
    version = rule_version(policy)
    params = parameters_on(policy, day)
    eligible = set(_candidates(policy, rule, day).values_list("pk", flat=True))

    new_ids = [pid for pid in eligible if pid not in open_rows]
    arrived = [
        open_rows[pid][0]
        for pid in eligible
        if pid in open_rows and open_rows[pid][1] == MatchStatus.UPCOMING
    ]
    # persons who qualify on the look-ahead horizon (upcoming matches wait for them)
    later: set[int] = set()
    if policy.lookahead_days:
        horizon = day + dt.timedelta(days=policy.lookahead_days)
        later = set(_candidates(policy, rule, horizon).values_list("pk", flat=True))
    gone = {
        pid: pk
        for pid, (pk, status) in open_rows.items()
        if pid not in eligible
        and status in CLOSABLE_STATUSES
        and not (status == MatchStatus.UPCOMING and pid in later)
    }
    if arrived:
        _arrive(policy, rule, version, params, day, arrived)
    if new_ids:
        _create(policy, rule, version, params, day, new_ids, run, MatchStatus.PENDING)
    result.new = len(new_ids) + len(arrived)
    if gone:
        result.closed_by_reason = _close_gone(policy, day, gone)
        result.closed = sum(result.closed_by_reason.values())
    if later:
        waiting = later - eligible - set(open_rows)
        result.upcoming = _look_ahead(policy, rule, version, params, day, waiting, run)
    # arrived upcoming matches were open already; closed ones came out of open_rows
    result.open = len(open_rows) - result.closed + len(new_ids) + result.upcoming
    return result


def _inputs(
    policy: Policy, rule: Rule, day: dt.date, person_ids: Sequence[int]
) -> Iterator[dict[str, Any]]:
    """Rows of (pk, area_path, leaf values) for ``person_ids`` as the rule reads them on
    ``day``."""
    columns = rule.input_columns(day)
    fields = ["pk", "area_path", *columns]
    if len(person_ids) > ONE_PASS_ABOVE:
        wanted = set(person_ids)
        qs = rule.filter(Person.objects.all(), day).annotate(**columns).values(*fields)
        for row in qs.iterator(chunk_size=CHUNK):
            if row["pk"] in wanted:
                yield row
        return
    for start in range(0, len(person_ids), CHUNK):
        chunk = person_ids[start : start + CHUNK]
        yield from Person.objects.filter(pk__in=chunk).annotate(**columns).values(*fields)


def _kind_and_items(rule: Rule, inputs: dict[str, Any], day: dt.date) -> tuple[str, list[str]]:
    items = rule.fixed_check_items
    if items is None:
        items = rule.evaluate_recorded(inputs, day).check_items
    return (MatchKind.CANDIDATE if items else MatchKind.ELIGIBLE), items


def _create(
    policy: Policy,
    rule: Rule,
    version: RuleVersion,
    params: dict[str, Any],
    day: dt.date,
    person_ids: Sequence[int],
    run: MatchRun | None,
    status: str,
) -> int:
    """Insert matches for ``person_ids`` found on ``day`` with their recorded inputs."""
    now = timezone.now()
    batch: list[Match] = []
    created = 0
    for row in _inputs(policy, rule, day, person_ids):
        inputs = rule.read_inputs(row)
        kind, items = _kind_and_items(rule, inputs, day)
        batch.append(
            Match(
                policy=policy, person_id=row["pk"], area_path=row["area_path"],
                rule_version=version, run=run, kind=kind, status=status, ref_date=day,
                eligible_on=day, due_on=day + dt.timedelta(days=policy.visit_days),
                inputs=inputs, parameters=params, check_items=items, created_at=now,
            )
        )  # fmt: skip
        if len(batch) >= CHUNK:
            created += len(Match.objects.bulk_create(batch))
            batch = []
    if batch:
        created += len(Match.objects.bulk_create(batch))
    return created


def _arrive(
    policy: Policy,
    rule: Rule,
    version: RuleVersion,
    params: dict[str, Any],
    day: dt.date,
    match_ids: Sequence[int],
) -> None:
    """Upcoming matches whose day has come: record today's inputs and open the task."""
    matches = {m.person_id: m for m in Match.objects.filter(pk__in=match_ids)}
    events = []
    for row in _inputs(policy, rule, day, list(matches)):
        m = matches[row["pk"]]
        m.inputs = rule.read_inputs(row)
        m.kind, m.check_items = _kind_and_items(rule, m.inputs, day)
        m.status, m.ref_date, m.rule_version, m.parameters = (
            MatchStatus.PENDING, day, version, params
        )  # fmt: skip
        m.due_on = day + dt.timedelta(days=policy.visit_days)
        events.append(MatchEvent(match=m, status=MatchStatus.PENDING, note="已到符合条件日期"))
    Match.objects.bulk_update(
        list(matches.values()),
        ["inputs", "kind", "check_items", "status", "ref_date", "rule_version", "parameters",
         "due_on"],
        batch_size=CHUNK,
    )  # fmt: skip
    MatchEvent.objects.bulk_create(events, batch_size=CHUNK)


def _close_gone(policy: Policy, day: dt.date, gone: dict[int, int]) -> dict[str, int]:
    """Close open matches whose person stopped qualifying, each with its reason."""
    by_reason: dict[str, list[int]] = {}
    receiving = set(
        ReceivedBenefit.objects.filter(
            receiving_on(day), policy=policy, person_id__in=list(gone)
        ).values_list("person_id", flat=True)
    )
    rows = Person.objects.filter(pk__in=list(gone)).values_list(
        "pk", "death_date", "residence_status"
    )
    for pid, death, residence in rows:
        if death is not None and death <= day:
            reason = CloseReason.DECEASED
        elif pid in receiving:
            reason = CloseReason.RECEIVING
        elif residence == ResidenceStatus.AWAY:
            reason = CloseReason.MOVED
        else:
            reason = CloseReason.NO_LONGER
        by_reason.setdefault(reason, []).append(gone[pid])
    return {reason: _close(ids, reason, day) for reason, ids in by_reason.items()}


def _close(match_ids: Iterable[int], reason: str, day: dt.date, actor: Any = None) -> int:
    ids = list(match_ids)
    if not ids:
        return 0
    now = timezone.now()
    label = CloseReason(reason).label
    Match.objects.filter(pk__in=ids).update(
        status=MatchStatus.CLOSED, close_reason=reason, closed_at=now
    )
    MatchEvent.objects.bulk_create(
        [
            MatchEvent(match_id=pk, at=now, actor=actor, status=MatchStatus.CLOSED, note=str(label))
            for pk in ids
        ],
        batch_size=CHUNK,
    )
    return len(ids)


def _look_ahead(
    policy: Policy,
    rule: Rule,
    version: RuleVersion,
    params: dict[str, Any],
    day: dt.date,
    waiting: set[int],
    run: MatchRun | None,
) -> int:
    """Upcoming matches for ``waiting``, the persons who qualify on the look-ahead
    horizon but not today and have no open match: dated day by day among just them."""
    first_day: dict[int, dt.date] = {}
    for offset in range(1, policy.lookahead_days + 1):
        if not waiting:
            break
        on = day + dt.timedelta(days=offset)
        hits = set(
            _candidates(policy, rule, on).filter(pk__in=list(waiting)).values_list("pk", flat=True)
        )
        for pid in hits:
            first_day[pid] = on
        waiting -= hits
    if not first_day:
        return 0
    # inputs as the rule will read them on each person's day
    by_day: dict[dt.date, list[int]] = {}
    for pid, on in first_day.items():
        by_day.setdefault(on, []).append(pid)
    created = 0
    for on, ids in sorted(by_day.items()):
        created += _create(policy, rule, version, params, on, ids, run, MatchStatus.UPCOMING)
    return created


# --- one person's matches, when their record changes ------------------------------------
def recheck_person(person: Person, day: dt.date | None = None) -> int:
    """Close the person's open matches they no longer qualify for (a death, moving
    away), with the reason; returns how many were closed."""
    day = day or timezone.localdate()
    open_matches = list(
        Match.objects.filter(person=person, status__in=CLOSABLE_STATUSES).select_related("policy")
    )
    if not open_matches:
        return 0
    facts = facts_of(Person.objects.filter(pk=person.pk), load_benefits)[person.pk]
    closed = 0
    for m in open_matches:
        on = m.eligible_on if m.status == MatchStatus.UPCOMING else day
        verdict, _ = classify(m.policy.code, facts, on, compile_policy_rule(m.policy.rule))
        if verdict == NOT_ELIGIBLE:
            closed += sum(_close_gone(m.policy, day, {person.pk: m.pk}).values())
    return closed
