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

**Incremental runs.** A policy's pass is *full* the first time, after its rule or its
matching settings change (a fingerprint kept in the run's summary), when the run goes
back in time or its last run is older than the change log keeps. Otherwise the same
steps run restricted to the persons whose outcome can have changed since the policy's
last run (its *baseline*: watermark ``W`` and date ``D0``), and nothing else is read:

* persons whose inputs changed after ``W`` (less a margin for transactions still open
  at ``W``): rows created since (``created_at``) and rows updated or deleted since (the
  :class:`~.models.PersonChange` log written by database triggers), for persons, their
  tags, their benefits and their household's tags; a person changed, created or gone
  brings their housemates (household size, living alone);
* persons whose date-driven conditions cross between the runs: on the days
  ``(D0, D]`` (today's verdict) and ``(D0 + L, D + L]`` (the look-ahead horizon ``L``),
  a tag or a benefit starting or ending, a death, a settled match's recheck interval
  ending, and birthdays at the ages the rule's leaves compare with (``age >= 80`` →
  births 80 years before those days; any age when the rule computes with ``age``);
* the policy's upcoming matches whose day has come, and its matches finalised since.

Each policy keeps only the changes that concern *an input its rule reads*
(:mod:`.reads`: the log says what changed, the rule's leaves say what it reads): a
resident moving away concerns 老年人健康体检 (``residence``), not 高龄津贴; a tag
concerns the rules naming that tag; a household's members change concerns the rules
reading its size or who lives alone. The scope, the sets of dated changes and the
birthdays are read once a run and shared by the policies.

Outside those persons a full pass would change nothing: their rule inputs and every
date their verdict depends on are as at ``D0``. ``tests/policies/test_incremental.py``
checks that incremental and full passes agree on random changes.

**Set-based writes.** New matches are written by one ``INSERT … SELECT`` per policy:
the eligibility query with the rule's input columns, the recorded inputs assembled by
the database (``json_object`` on SQLite, ``jsonb_build_object`` on PostgreSQL) exactly
as :meth:`Rule.read_inputs` would write them, so :func:`explain` replays the trace from
them; upcoming matches whose day has come are opened by one ``UPDATE … FROM`` built the
same way. A rule with a decimal leaf (which Python writes as a string) or whose check
items depend on the person is written through Python as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone
from tqdm import tqdm

from jiayuan.core.bulk import analyze
from jiayuan.core.roles import Perm
from jiayuan.core.rules import Outcome, Rule
from jiayuan.core.rules import typed as t
from jiayuan.core.rules.age import years_before
from jiayuan.core.rules.inputs import leaves
from jiayuan.core.rules.types import BOOL, DATE, INT, STR, EnumType
from jiayuan.core.validity import open_on
from jiayuan.people.choices import ResidenceStatus
from jiayuan.people.models import HouseholdTag, Person, PersonTag, Tag
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
from .models import (
    Match,
    MatchEvent,
    MatchRun,
    Parameter,
    PersonChange,
    Policy,
    ReceivedBenefit,
    RuleVersion,
)
from .reads import BENEFIT, MEMBERS, NEW, TAG, Change, Reads, concerned, reads_of
from .registry import compile_policy_rule, load_benefits, receives, receiving_on

logger = logging.getLogger(__name__)

CHUNK = 2000
# Above this many new matches the explanation query re-runs the rule once over everyone
# instead of looking persons up by id in chunks.
ONE_PASS_ABOVE = 20000

# Bump when what a pass computes changes: every policy's next pass is then full.
ENGINE = 2
# Changes committed by transactions still open at a run's watermark carry an earlier
# timestamp: the next run reads the log from this much before the watermark.
MARGIN = dt.timedelta(minutes=10)
# How long the change log is kept; a policy whose last run is older runs in full.
RETENTION = dt.timedelta(days=35)
# Ages checked for birthdays when a rule computes with ``age`` instead of comparing it.
MAX_AGE = 150
# Birthdays of 29 February and month ends: windows are widened by this many days.
SLACK = dt.timedelta(days=3)

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
    mode: str = "full"
    fingerprint: str = ""
    # persons re-evaluated by an incremental pass
    scope: int | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "new": self.new,
            "closed": self.closed,
            "upcoming": self.upcoming,
            "open": self.open,
            "seconds": round(self.seconds, 3),
            "closed_by_reason": self.closed_by_reason,
            "mode": self.mode,
            "fingerprint": self.fingerprint,
        }
        if self.scope is not None:
            out["scope"] = self.scope
        return out


@dataclass(frozen=True)
class Baseline:
    """What an incremental pass starts from: the policy's last pass."""

    watermark: dt.datetime
    ref_date: dt.date


#: matches written by one run after which the run refreshes the planner's statistics
RESTATISTICS_AFTER = 10_000


def run_matching(
    ref_date: dt.date | None = None,
    *,
    codes: Sequence[str] | None = None,
    user: Any = None,
    progress: bool = False,
    full: bool = False,
) -> MatchRun:
    """Match every enabled policy (or ``codes``) on ``ref_date`` (today by default):
    incrementally where a policy's last pass allows it, in full otherwise or with
    ``full=True``. Idempotent; returns the run with its summary."""
    day = ref_date or timezone.localdate()
    watermark = timezone.now()
    run = MatchRun.objects.create(ref_date=day, triggered_by=user, watermark=watermark)
    policies = Policy.objects.filter(enabled=True).order_by("code")
    if codes:
        policies = policies.filter(code__in=codes)
    summary: dict[str, Any] = {}
    changes = Changes()
    bar = tqdm(list(policies), desc="政策匹配", unit="项", disable=not progress)
    try:
        for policy in bar:
            bar.set_postfix_str(policy.code)
            started = timezone.now()
            print_ = fingerprint(policy)
            base = None if full else baseline(policy, print_, day, watermark, run.pk)
            with transaction.atomic():
                _no_jit()
                if base is None:
                    result = match_policy(policy, day, run, changes=changes)
                else:
                    scope = changes.scope(policy, base, day)
                    result = match_policy(policy, day, run, scope=scope, changes=changes)
                    result.mode, result.scope = "incremental", len(scope)
            result.fingerprint = print_
            result.seconds = (timezone.now() - started).total_seconds()
            summary[policy.code] = result.as_json()
    except Exception as exc:
        run.status, run.error, run.summary = RunStatus.FAILED, repr(exc), summary
        run.finished_at = timezone.now()
        run.save()
        raise
    run.status, run.summary, run.finished_at = RunStatus.DONE, summary, timezone.now()
    run.save()
    written = sum(r["new"] + r["closed"] + r["upcoming"] for r in summary.values())
    if written >= RESTATISTICS_AFTER:
        # a first run writes the county's matches at once; until autovacuum notices
        # (never, where it is off) the planner takes the table for empty and the next
        # run's anti-joins against open matches become nested loops over all of them
        analyze([Match, MatchEvent])
    PersonChange.objects.filter(at__lt=watermark - RETENTION).delete()
    return run


def _no_jit() -> None:
    """PostgreSQL compiles a query to machine code (JIT) when its estimated cost is high,
    and a rule's correlated ``EXISTS`` make every estimate high: compiling the rule's
    large expression took seconds for a query that then ran in milliseconds (2.8 s
    against 0.04 s on 56,304 residents). For this transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


@contextmanager
def _by_id() -> Iterator[None]:
    """Around a query reading a set of persons by id (an incremental pass's scope, the
    persons waiting for the look-ahead): no bitmap scans on PostgreSQL. There it
    combined the id look-ups with a bitmap of the rule's birth-date range (``age < 18``:
    350,000 entries over a million residents) and took 240 ms where looking each id up
    and testing the rule took 25 ms. The setting is restored afterwards (the pass's
    other queries, birth-date ranges above all, want bitmaps)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_bitmapscan'), "
            "set_config('enable_bitmapscan', 'off', true)"
        )
        (before, _) = cursor.fetchone()
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('enable_bitmapscan', %s, true)", [before])


def fingerprint(policy: Policy) -> str:
    """What a policy's matches depend on besides the residents' data: a change makes the
    next pass full."""
    parts = (
        ENGINE, policy.rule, policy.version, policy.lookahead_days, policy.recheck_days,
        policy.active_from, policy.active_until,
    )  # fmt: skip
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def baseline(
    policy: Policy, print_: str, day: dt.date, now: dt.datetime, run_id: int | None = None
) -> Baseline | None:
    """The policy's last pass (before run ``run_id``) if an incremental pass on ``day``
    at ``now`` may start from it."""
    earlier = MatchRun.objects.filter(
        watermark__isnull=False, status__in=[RunStatus.DONE, RunStatus.FAILED]
    )
    if run_id is not None:
        earlier = earlier.exclude(pk=run_id)
    rows = earlier.order_by("-watermark", "-pk").values_list("watermark", "ref_date", "summary")
    for watermark, ref_date, summary in rows.iterator(chunk_size=50):
        entry = (summary or {}).get(policy.code)
        if entry is None or watermark is None:
            continue
        usable = (
            entry.get("fingerprint") == print_ and ref_date <= day and watermark >= now - RETENTION
        )
        return Baseline(watermark, ref_date) if usable else None
    return None


def rule_version(policy: Policy) -> RuleVersion:
    found, _ = RuleVersion.objects.get_or_create(
        policy=policy, version=policy.version, defaults={"rule": policy.rule}
    )
    return found


def _candidate_q(policy: Policy, rule: Rule, day: dt.date) -> Q:
    """The rule holds on ``day``, and the person neither receives the benefit (nor has it
    granted from a later date) nor was settled recently."""
    # in force, or granted to start later: either way no door visit is needed
    receiving = ReceivedBenefit.objects.filter(
        open_on(day, end="until"), person=OuterRef("pk"), policy=policy
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
    return rule.q(day) & ~Q(Exists(receiving)) & ~Q(Exists(settled))


def _candidates(
    policy: Policy, rule: Rule, day: dt.date, scope: Collection[int] | None = None
) -> QuerySet[Person]:
    """Persons (of ``scope`` when given) the rule holds for on ``day`` who neither
    receive the benefit nor were settled recently."""
    qs = Person.objects.all() if scope is None else Person.objects.filter(pk__any_of=scope)
    # no ordering: the run reads sets (the model's ordering would sort every read)
    return qs.filter(_candidate_q(policy, rule, day)).order_by()


def _open_match(policy: Policy) -> Exists:
    return Exists(
        Match.objects.filter(person=OuterRef("pk"), policy=policy, status__in=OPEN_STATUSES)
    )


def match_policy(
    policy: Policy,
    day: dt.date,
    run: MatchRun | None = None,
    *,
    scope: Collection[int] | None = None,
    changes: Changes | None = None,
) -> PolicyResult:
    """One policy's pass (see the module docstring), over everyone or over ``scope``
    (the persons an incremental pass re-evaluates, whose open count is then counted:
    the matches outside ``scope`` were not read). Call inside a transaction."""
    result = PolicyResult()
    opened = Match.objects.filter(policy=policy, status__in=OPEN_STATUSES)
    if scope is not None:
        opened = opened.filter(person_id__any_of=scope)
    open_rows = {
        person_id: (pk, status)
        for person_id, pk, status in opened.values_list("person_id", "pk", "status")
    }
    if not policy.active_on(day):
        closing = [pk for pk, status in open_rows.values() if status in CLOSABLE_STATUSES]
        result.closed = _close(closing, CloseReason.POLICY_ENDED, day)
        result.closed_by_reason = {CloseReason.POLICY_ENDED: result.closed} if closing else {}
        result.open = _open_count(policy, scope, len(open_rows) - result.closed)
        return result

    rule = compile_policy_rule(policy.rule)
    version = rule_version(policy)
    params = parameters_on(policy, day)
    # who qualifies today matters only against open matches: the new ones are written
    # by the database straight from the eligibility query
    eligible: set[int] = set()
    if open_rows:
        with _by_id() if scope is not None else nullcontext():
            eligible = set(_candidates(policy, rule, day, scope).values_list("pk", flat=True))
    arrived = [
        open_rows[pid][0]
        for pid in eligible
        if pid in open_rows and open_rows[pid][1] == MatchStatus.UPCOMING
    ]
    leaving = {
        pid: (pk, status)
        for pid, (pk, status) in open_rows.items()
        if pid not in eligible and status in CLOSABLE_STATUSES
    }
    waiting: set[int] = set()
    held: set[int] = set()
    if policy.lookahead_days:
        horizon = day + dt.timedelta(days=policy.lookahead_days)
        # qualify on the horizon, not today, and have no open match: upcoming ones. Only
        # a date-driven condition crossing in between can make the two days differ, so
        # only the persons with such a crossing are read, not the population again.
        near = (changes or Changes()).crossing(policy, rule, [(day, horizon)])
        if scope is not None:
            near &= set(scope)
        with _by_id():
            waiting = set(
                _candidates(policy, rule, horizon, near)
                .exclude(_candidate_q(policy, rule, day))
                .exclude(_open_match(policy))
                .values_list("pk", flat=True)
            )
            # upcoming matches keep waiting while the person qualifies on the horizon
            upcoming = [pid for pid, (_, st) in leaving.items() if st == MatchStatus.UPCOMING]
            if upcoming:
                held = set(
                    _candidates(policy, rule, horizon, upcoming).values_list("pk", flat=True)
                )
    gone = {pid: pk for pid, (pk, status) in leaving.items() if pid not in held}
    if arrived:
        _arrive(policy, rule, version, params, day, arrived)
    fresh: QuerySet[Person]
    if open_rows:
        # the eligible are known already: the new matches are those of them without an
        # open match, so the rule is not evaluated a second time over the population
        fresh = Person.objects.filter(pk__any_of=eligible.difference(open_rows))
    else:
        fresh = _candidates(policy, rule, day, scope).exclude(_open_match(policy))
    new = _insert(policy, rule, version, params, day, fresh, run, MatchStatus.PENDING)
    result.new = new + len(arrived)
    if gone:
        result.closed_by_reason = _close_gone(policy, day, gone)
        result.closed = sum(result.closed_by_reason.values())
    if waiting:
        result.upcoming = _look_ahead(policy, rule, version, params, day, waiting, run)
    # arrived upcoming matches were open already; closed ones came out of open_rows
    derived = len(open_rows) - result.closed + new + result.upcoming
    result.open = _open_count(policy, scope, derived)
    return result


def _open_count(policy: Policy, scope: Collection[int] | None, derived: int) -> int:
    """The policy's open matches: derived from the pass when it read them all, counted
    (an index-only count) when it read only ``scope``."""
    if scope is None:
        return derived
    return Match.objects.filter(policy=policy, status__in=OPEN_STATUSES).count()


def _insert(
    policy: Policy,
    rule: Rule,
    version: RuleVersion,
    params: dict[str, Any],
    day: dt.date,
    persons: QuerySet[Person],
    run: MatchRun | None,
    status: str,
) -> int:
    """Matches found on ``day`` for every person of ``persons``, with their recorded
    inputs: one ``INSERT … SELECT`` when the database can write the inputs itself (see
    :func:`inputs_json_sql`), else through Python (:func:`_create`)."""
    items = rule.fixed_check_items
    columns = rule.input_columns(day)
    inputs_sql = inputs_json_sql(rule, "s") if items is not None else None
    if inputs_sql is None:
        ids = list(persons.values_list("pk", flat=True))
        return _create(policy, rule, version, params, day, ids, run, status) if ids else 0
    json_sql, json_params = inputs_sql
    inner = (
        persons.order_by()
        .annotate(m_person=F("pk"), m_area=F("area_path"), **columns)
        .values("m_person", "m_area", *columns)
    )
    try:
        inner_sql, inner_params = inner.query.sql_with_params()
    except EmptyResultSet:  # an empty scope: nobody to write
        return 0
    ops, now = connection.ops, timezone.now()
    as_json = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    kind = MatchKind.CANDIDATE if items else MatchKind.ELIGIBLE
    # table and column names are the model's; every value is a parameter
    sql = (
        f"INSERT INTO {ops.quote_name(Match._meta.db_table)} (policy_id, person_id, area_path, "  # noqa: S608
        "rule_version_id, run_id, kind, status, ref_date, eligible_on, due_on, inputs, "
        "parameters, check_items, failed_item, close_reason, remark, created_at, updated_at) "
        f"SELECT %s, s.m_person, s.m_area, %s, %s, %s, %s, %s, %s, %s, {json_sql}, "
        f"{as_json}, {as_json}, '', '', '', %s, %s FROM ({inner_sql}) s"
    )
    sql_params = [
        policy.pk, version.pk, run.pk if run else None, kind, status,
        ops.adapt_datefield_value(day), ops.adapt_datefield_value(day),
        ops.adapt_datefield_value(day + dt.timedelta(days=policy.visit_days)),
        *json_params, json.dumps(params), json.dumps(items),
        ops.adapt_datetimefield_value(now), ops.adapt_datetimefield_value(now), *inner_params,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        return int(cursor.rowcount)


def inputs_json_sql(rule: Rule, alias: str) -> tuple[str, list[Any]] | None:
    """SQL building a match's recorded inputs from the columns of
    :meth:`Rule.input_columns` selected as ``alias``: the JSON :meth:`Rule.read_inputs`
    writes (enum labels, ISO dates, true/false/null, ``[value, present]`` for a tag's
    attribute). ``None`` when a leaf is a decimal, which Python writes as a string."""
    postgres = connection.vendor == "postgresql"
    parts: list[str] = []
    params: list[Any] = []
    for i, node in enumerate(leaves(rule.tree)):
        col = f"{alias}.{connection.ops.quote_name(f'rule_in_{i}')}"
        value = _json_value(node, col, postgres)
        if value is None:
            return None
        expr, expr_params = value
        if isinstance(node, t.TRecordAttr):
            present = _json_bool(f"{alias}.{connection.ops.quote_name(f'rule_in_{i}_p')}", postgres)
            expr = f"{'jsonb_build_array' if postgres else 'json_array'}({expr}, {present})"
        parts += ["%s::text" if postgres else "%s", expr]
        params += [node.src, *expr_params]
    if not parts:
        return ("'{}'::jsonb" if postgres else "'{}'"), []
    function = "jsonb_build_object" if postgres else "json_object"
    return f"{function}({', '.join(parts)})", params


def _json_bool(col: str, postgres: bool) -> str:
    if postgres:
        return col
    return f"CASE WHEN {col} IS NULL THEN NULL WHEN {col} THEN json('true') ELSE json('false') END"


def _json_value(node: t.TNode, col: str, postgres: bool) -> tuple[str, list[Any]] | None:
    """One leaf's column as the JSON value :func:`jiayuan.core.rules.inputs.read_inputs`
    writes for it."""
    rtype = node.type
    attribute = isinstance(node, t.TRecordAttr)  # read from JSON text: as coerce_json does
    if rtype == BOOL:
        return _json_bool(col, postgres), []
    if rtype in (INT, STR):
        return col, []
    if rtype == DATE:
        if attribute:  # ISO text already; anything else is missing
            return f"CASE WHEN length({col}) = 10 THEN {col} ELSE NULL END", []
        return (f"to_char({col}, 'YYYY-MM-DD')" if postgres else col), []
    if isinstance(rtype, EnumType):
        key = "%s::text" if postgres else "%s"
        whens = " ".join(f"WHEN {key} THEN {key}" for _ in rtype.stored)
        return f"CASE {col} {whens} ELSE NULL END", [
            v for value, stored in rtype.stored for v in (stored, value)
        ]
    return None


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
    """Upcoming matches whose day has come: record today's inputs and open the task. One
    ``UPDATE … FROM`` with the inputs assembled by the database when it can write them
    (as :func:`_insert`), else through Python."""
    items = rule.fixed_check_items
    inputs_sql = inputs_json_sql(rule, "s") if items is not None else None
    due = day + dt.timedelta(days=policy.visit_days)
    if items is None or inputs_sql is None:
        _arrive_in_python(policy, rule, version, params, day, match_ids)
    else:
        json_sql, json_params = inputs_sql
        columns = rule.input_columns(day)
        persons = Match.objects.filter(pk__any_of=match_ids).values("person_id")
        inner = (
            Person.objects.filter(pk__in=persons)
            .order_by()
            .annotate(m_person=F("pk"), **columns)
            .values("m_person", *columns)
        )
        inner_sql, inner_params = inner.query.sql_with_params()
        ops = connection.ops
        table = ops.quote_name(Match._meta.db_table)
        as_json = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
        # the ids as one bound value, as the ``any_of`` lookup sends them
        postgres = connection.vendor == "postgresql"
        ids = "= ANY(%s::bigint[])" if postgres else "IN (SELECT value FROM json_each(%s))"
        ids_param: Any = list(match_ids) if postgres else json.dumps(list(match_ids))
        # table and column names are the model's; every value is a parameter
        sql = (
            f"UPDATE {table} SET inputs = {json_sql}, kind = %s, check_items = {as_json}, "  # noqa: S608
            f"status = %s, ref_date = %s, rule_version_id = %s, parameters = {as_json}, "
            f"due_on = %s FROM ({inner_sql}) s WHERE {table}.id {ids} "
            f"AND {table}.person_id = s.m_person"
        )
        sql_params = [
            *json_params, MatchKind.CANDIDATE if items else MatchKind.ELIGIBLE,
            json.dumps(items), MatchStatus.PENDING, ops.adapt_datefield_value(day), version.pk,
            json.dumps(params), ops.adapt_datefield_value(due), *inner_params, ids_param,
        ]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(sql, sql_params)
    MatchEvent.objects.bulk_create(
        [
            MatchEvent(match_id=pk, status=MatchStatus.PENDING, note="已到符合条件日期")
            # those updated (a person gone meanwhile keeps an upcoming match, as in a full
            # pass, which then closes it)
            for pk in Match.objects.filter(
                pk__any_of=match_ids, status=MatchStatus.PENDING
            ).values_list("pk", flat=True)
        ],
        batch_size=CHUNK,
    )


def _arrive_in_python(
    policy: Policy,
    rule: Rule,
    version: RuleVersion,
    params: dict[str, Any],
    day: dt.date,
    match_ids: Sequence[int],
) -> None:
    matches = {m.person_id: m for m in Match.objects.filter(pk__any_of=match_ids)}
    for row in _inputs(policy, rule, day, list(matches)):
        m = matches[row["pk"]]
        m.inputs = rule.read_inputs(row)
        m.kind, m.check_items = _kind_and_items(rule, m.inputs, day)
        m.status, m.ref_date, m.rule_version, m.parameters = (
            MatchStatus.PENDING, day, version, params
        )  # fmt: skip
        m.due_on = day + dt.timedelta(days=policy.visit_days)
    Match.objects.bulk_update(
        [m for m in matches.values() if m.status == MatchStatus.PENDING],
        ["inputs", "kind", "check_items", "status", "ref_date", "rule_version", "parameters",
         "due_on"],
        batch_size=CHUNK,
    )  # fmt: skip


def _close_gone(policy: Policy, day: dt.date, gone: dict[int, int]) -> dict[str, int]:
    """Close open matches whose person stopped qualifying, each with its reason."""
    by_reason: dict[str, list[int]] = {}
    receiving = set(
        ReceivedBenefit.objects.filter(
            receiving_on(day), policy=policy, person_id__in=list(gone)
        ).values_list("person_id", flat=True)
    )
    rows = (
        Person.objects.filter(pk__any_of=gone)
        .order_by()
        .values_list("pk", "death_date", "residence_status")
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
    # one query: whether each of them qualifies on each day up to the horizon (one plan
    # instead of a query a day; the set is small, the rule's expression is the cost)
    days = [day + dt.timedelta(days=n) for n in range(1, policy.lookahead_days + 1)]
    flags = {
        f"on_{n}": ExpressionWrapper(_candidate_q(policy, rule, on), output_field=BooleanField())
        for n, on in enumerate(days)
    }
    first_day: dict[int, dt.date] = {}
    rows = Person.objects.filter(pk__any_of=waiting).order_by().annotate(**flags)
    with _by_id():
        for row in rows.values("pk", *flags):
            found = next((on for n, on in enumerate(days) if row[f"on_{n}"]), None)
            if found is not None:
                first_day[row["pk"]] = found
    if not first_day:
        return 0
    # inputs as the rule will read them on each person's day
    by_day: dict[dt.date, list[int]] = {}
    for pid, on in first_day.items():
        by_day.setdefault(on, []).append(pid)
    created = 0
    for on, ids in sorted(by_day.items()):
        persons = Person.objects.filter(pk__any_of=ids)
        created += _insert(policy, rule, version, params, on, persons, run, MatchStatus.UPCOMING)
    return created


# --- what an incremental pass re-evaluates ------------------------------------------------
Window = tuple[dt.date, dt.date]  # (after, up to and including)


def crossing_windows(since: dt.date, day: dt.date, lookahead: int) -> list[Window]:
    """The days on which a date-driven condition changing alters a pass on ``day`` made
    after one on ``since``: today's verdict and the look-ahead horizon."""
    ahead = dt.timedelta(days=lookahead)
    spans = sorted([(since, day), (since + ahead, day + ahead)])
    merged: list[Window] = []
    for lo, hi in spans:
        if lo >= hi:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _in_windows(column: str, windows: Sequence[Window]) -> Q:
    out = Q(pk__in=[])
    for lo, hi in windows:
        out |= Q(**{f"{column}__gt": lo, f"{column}__lte": hi})
    return out


def age_thresholds(rule: Rule) -> set[int] | None:
    """The ages at which the rule's verdict may change (``age >= 80``: 80; ``age > 80``:
    81), birth itself included; ``None`` when the rule computes with ``age`` and any
    birthday may matter."""
    found = {0}
    compared: set[int] = set()
    for node in rule.tree.walk():
        constants: list[Any] = []
        if isinstance(node, t.TCompare):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if _is_age(side):
                    compared.add(id(side))
                    constants.append(other.value if isinstance(other, t.TConst) else None)
        elif isinstance(node, t.TIn) and _is_age(node.operand):
            compared.add(id(node.operand))
            constants.extend(node.items)
        for value in constants:
            if not isinstance(value, int) or isinstance(value, bool):
                return None
            found |= {value, value + 1}
    for node in rule.tree.walk():
        if _is_age(node) and id(node) not in compared:
            return None
    return {a for a in found if 0 <= a <= MAX_AGE}


def _is_age(node: t.TNode) -> bool:
    return isinstance(node, t.TField) and not node.path and node.field.name == "age"


def _under_thresholds(rule: Rule) -> set[int]:
    """The ages ``household.members_under(n)`` counts below (members crossing them
    change the household's count)."""
    return {
        int(node.args[0])
        for node in rule.tree.walk()
        if isinstance(node, t.TCall) and node.function.name == "members_under"
    }


def _births(thresholds: Iterable[int], windows: Sequence[Window]) -> Q:
    """Persons reaching one of the ages ``thresholds`` on a day of ``windows``."""
    out = Q(pk__in=[])
    for age in sorted(thresholds):
        for lo, hi in windows:
            first, last = years_before(lo, age), years_before(hi, age)
            if last is None:
                continue
            start = first - SLACK if first is not None and first > dt.date.min + SLACK else None
            stop = last + SLACK if last < dt.date.max - SLACK else dt.date.max
            out |= Q(birth_date__lte=stop) & (Q() if start is None else Q(birth_date__gt=start))
    return out


class Changes:
    """The persons incremental passes re-evaluate, read once per run: what changed after
    a watermark, and the date crossings between two run dates (see the module
    docstring), each kept with what changed (:class:`~.reads.Change`) so that a policy
    re-evaluates only the persons whose change concerns an input its rule reads
    (:func:`~.reads.reads_of`). Shared by the policies of a run, which mostly have the
    same baseline."""

    def __init__(self) -> None:
        self._since: dict[dt.datetime, list[Change]] = {}
        self._dated: dict[tuple[Window, ...], list[Change]] = {}
        self._finalised: dict[dt.datetime, dict[int, set[int]]] = {}
        self._members: dict[int, list[int]] = {}
        self._codes: dict[str, dict[int, str]] = {}
        self._born: dict[tuple[tuple[int, ...], tuple[Window, ...]], frozenset[int]] = {}
        self._spans: dict[Window, list[tuple[Change, tuple[Any, ...]]]] = {}

    def scope(self, policy: Policy, base: Baseline, day: dt.date) -> frozenset[int]:
        rule = compile_policy_rule(policy.rule)
        reads = reads_of(rule, policy.code)
        windows = crossing_windows(base.ref_date, day, policy.lookahead_days)
        since = base.watermark - MARGIN
        ids = self.concerned(self.changed_since(since), reads)
        ids |= self.crossing(policy, rule, windows)
        # upcoming matches whose day has come; matches finalised or closed since (every
        # status change writes the match's timeline)
        ids |= set(
            Match.objects.filter(
                policy=policy, status=MatchStatus.UPCOMING, eligible_on__lte=day
            ).values_list("person_id", flat=True)
        )
        ids |= self.finalised_since(since).get(policy.pk, set())
        return frozenset(ids)

    def concerned(self, changes: Sequence[Change], reads: Reads) -> set[int]:
        """The persons one of ``changes`` concerns under ``reads``: the person changed,
        or the members of the household changed."""
        households = {
            c.household
            for c in changes
            if c.household is not None and reads.household(c.kind, c.ref)
        }
        return concerned(changes, reads, self.members(households))

    def members(self, households: Collection[int]) -> dict[int, list[int]]:
        """The persons of each household (read once a run)."""
        missing = [h for h in households if h not in self._members]
        if missing:
            for hid in missing:
                self._members[hid] = []
            rows = Person.objects.filter(household_id__any_of=missing).order_by()
            for pid, hid in rows.values_list("pk", "household_id"):
                self._members[hid].append(pid)
        return self._members

    def crossing(self, policy: Policy, rule: Rule, windows: Sequence[Window]) -> set[int]:
        """Persons whose verdict under ``rule`` may change on a day of ``windows`` with no
        change to their data: a date-driven condition of an input the rule reads
        crosses (see the module docstring)."""
        if not windows:
            return set()
        reads = reads_of(rule, policy.code)
        ids = self.concerned(self.dated(windows), reads)
        if reads.everything or "birth_date" in reads.columns:
            thresholds = age_thresholds(rule)
            ages = tuple(sorted(range(MAX_AGE + 1) if thresholds is None else thresholds))
            ids |= self.born(ages, windows)
        under = _under_thresholds(rule)
        if under:
            under_born = Person.objects.filter(
                _births(under | {0}, windows), household__isnull=False
            ).order_by()
            households = set(under_born.values_list("household_id", flat=True))
            found = self.members(households)
            ids.update(pid for hid in households for pid in found.get(hid, ()))
        # settled matches whose recheck interval ends in a window
        recheck = dt.timedelta(days=policy.recheck_days)
        for lo, hi in windows:
            start = timezone.make_aware(dt.datetime.combine(lo - recheck, dt.time.min))
            stop = timezone.make_aware(dt.datetime.combine(hi - recheck, dt.time.max))
            ids |= set(
                Match.objects.filter(
                    policy=policy,
                    status__in=SETTLED_STATUSES,
                    closed_at__gte=start - SLACK,
                    closed_at__lte=stop + SLACK,
                ).values_list("person_id", flat=True)
            )
        return ids

    def born(self, ages: tuple[int, ...], windows: Sequence[Window]) -> frozenset[int]:
        """Persons reaching one of ``ages`` on a day of ``windows`` (read once a run:
        rules comparing the age with the same numbers share them)."""
        key = (ages, tuple(windows))
        found = self._born.get(key)
        if found is None:
            rows = Person.objects.filter(_births(ages, windows)).order_by()
            found = self._born[key] = frozenset(rows.values_list("pk", flat=True))
        return found

    def finalised_since(self, since: dt.datetime) -> dict[int, set[int]]:
        """Persons by policy whose match left the open statuses at or after ``since``."""
        found = self._finalised.get(since)
        if found is None:
            found = self._finalised[since] = {}
            rows = (
                MatchEvent.objects.filter(at__gte=since)
                .exclude(status__in=OPEN_STATUSES)
                .values_list("match__policy_id", "match__person_id")
            )
            for policy_id, person_id in rows:
                found.setdefault(policy_id, set()).add(person_id)
        return found

    def _code(self, kind: str, ref: int | None) -> str | None:
        """A logged change's ``ref_id`` as the code rules name: the tag's code or the
        benefit's policy code (``None``: concerns every rule)."""
        if ref is None or kind not in (TAG, BENEFIT):
            return None
        codes = self._codes.get(kind)
        if codes is None:
            model = Tag if kind == TAG else Policy
            codes = self._codes[kind] = dict(model.objects.values_list("pk", "code"))
        return codes.get(ref)

    def changed_since(self, since: dt.datetime) -> list[Change]:
        """What changed at or after ``since``: logged updates and deletes, and rows
        created since (a person created concerns every rule, and their housemates')."""
        found = self._since.get(since)
        if found is not None:
            return found
        out: list[Change] = []
        rows = PersonChange.objects.filter(at__gte=since).order_by()
        for pid, hid, kind, ref in rows.values_list(
            "person_id", "household_id", "changed", "ref_id"
        ).distinct():
            out.append(Change(pid, hid, kind, self._code(kind, ref)))
        for pid, hid in (
            Person.objects.filter(created_at__gte=since)
            .order_by()
            .values_list("pk", "household_id")
        ):
            out.append(Change(pid, None, NEW))
            if hid is not None:
                out.append(Change(None, hid, MEMBERS))
        for pid, code in PersonTag.objects.filter(created_at__gte=since).values_list(
            "person_id", "tag__code"
        ):
            out.append(Change(pid, None, TAG, code))
        for pid, code in ReceivedBenefit.objects.filter(created_at__gte=since).values_list(
            "person_id", "policy__code"
        ):
            out.append(Change(pid, None, BENEFIT, code))
        for hid, code in HouseholdTag.objects.filter(created_at__gte=since).values_list(
            "household_id", "tag__code"
        ):
            out.append(Change(None, hid, TAG, code))
        self._since[since] = out
        return out

    def dated(self, windows: Sequence[Window]) -> list[Change]:
        """Tags and benefits starting or ending, and deaths (which change the household
        too), on a day of ``windows``."""
        key = tuple(windows)
        found = self._dated.get(key)
        if found is not None:
            return found
        out: list[Change] = []
        if windows:
            hull = min(lo for lo, _ in windows), max(hi for _, hi in windows)
            for change, dates in self._dated_rows(*hull):
                if any(d is not None and lo < d <= hi for d in dates for lo, hi in windows):
                    out.append(change)
        self._dated[key] = out
        return out

    def _dated_rows(self, lo: dt.date, hi: dt.date) -> list[tuple[Change, tuple[Any, ...]]]:
        """Every dated change with its dates on the days ``(lo, hi]``, read once for the
        widest span a run asks (its policies' windows mostly lie within one another)."""
        for (start, stop), rows in self._spans.items():
            if start <= lo and hi <= stop:
                return rows
        span = [(lo, hi)]
        out: list[tuple[Change, tuple[Any, ...]]] = []
        tags = _in_windows("valid_from", span) | _in_windows("valid_until", span)
        for pid, code, *dates in PersonTag.objects.filter(tags).values_list(
            "person_id", "tag__code", "valid_from", "valid_until"
        ):
            out.append((Change(pid, None, TAG, code), tuple(dates)))
        benefits = _in_windows("since", span) | _in_windows("until", span)
        for pid, code, *dates in ReceivedBenefit.objects.filter(benefits).values_list(
            "person_id", "policy__code", "since", "until"
        ):
            out.append((Change(pid, None, BENEFIT, code), tuple(dates)))
        for hid, code, *dates in HouseholdTag.objects.filter(tags).values_list(
            "household_id", "tag__code", "valid_from", "valid_until"
        ):
            out.append((Change(None, hid, TAG, code), tuple(dates)))
        for pid, hid, death in (
            Person.objects.filter(_in_windows("death_date", span))
            .order_by()
            .values_list("pk", "household_id", "death_date")
        ):
            out.append((Change(pid, None, "death_date"), (death,)))
            if hid is not None:
                out.append((Change(None, hid, MEMBERS), (death,)))
        self._spans[(lo, hi)] = out
        return out


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
