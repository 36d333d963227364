"""Computed tags (标签规则): tags a rule hands out, kept true by the system.

A catalogue tag with a ``rule`` (高龄老人 = ``age >= 80 and not deceased``) is held by
exactly the residents the rule matches on the day. :func:`recompute_tags` runs each such
rule over the population in one SQL query that also selects the value of every leaf of
the rule (:meth:`jiayuan.core.rules.Rule.input_columns`), compares the result with the
open rule-sourced assignments, starts the new ones (``valid_from`` = the day, evidence =
the rule, its version and the recorded input values) and ends the ones that stopped
holding (``valid_until`` = the day, the first day the tag no longer holds, as the rule
language reads it). Rows are never deleted, so the history stays; tags given by hand or
imported are never touched, and a person who already holds the tag that way gets no
second, computed row.

It runs nightly (:mod:`jiayuan.people.tasks`), for the persons concerned whenever a
resident is saved or moves between households (:func:`connect`), on demand
(``POST /api/v1/tags/recompute``), and in the demo seed.

The recorded inputs *are* the explanation: :func:`explain` re-derives the trace from
them, so "why does she hold 空巢老人?" has the answer of the day the tag started.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from jiayuan.core import actions, audit, bulk
from jiayuan.core.errors import ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.rules import (
    Outcome,
    Registry,
    Rule,
    RuleError,
    compile_rule,
)
from jiayuan.core.validity import open_on

from .choices import TagScope, TagSource
from .models import Person, PersonTag, Tag
from .rules_fields import person_registry

NOTE = "标签规则计算"
Summary = dict[str, dict[str, int]]
PersonSet = QuerySet[Person] | Iterable[int | Person] | None


# --- the registry tag rules are written against ------------------------------------------
@lru_cache(maxsize=1)
def tag_registry() -> Registry:
    """The resident registry tag rules are written against."""
    return person_registry()


@lru_cache(maxsize=128)
def compile_tag_rule(source: str) -> Rule:
    """A tag rule compiled; :class:`RuleError` when it is not valid."""
    return compile_rule(source, tag_registry())


def check_rule(source: str, scope: str = TagScope.PERSON) -> Rule | None:
    """The rule a tag is saved with, compiled (``None`` for a manual tag); a 422
    :class:`ValidationFailed` with the position and the expected token otherwise."""
    if not source.strip():
        return None
    if scope != TagScope.PERSON:
        raise ValidationFailed(
            "只有个人标签可以由规则计算",
            "only person tags can be computed by a rule",
            field="rule",
        )
    try:
        return compile_tag_rule(source)
    except RuleError as exc:
        raise ValidationFailed(
            f"标签规则有误：{exc.zh}",
            f"invalid tag rule: {exc.en}",
            detail=exc.detail,
            field="rule",
        ) from exc


def update_tag(tag: Tag, *, actor: Any, **changes: Any) -> Tag:
    """Change a catalogue tag (county level; audited). A new rule is compiled first and
    takes the next ``rule_version`` (:meth:`Tag.save`); the holders follow at the next
    recompute."""
    if "rule" in changes:
        changes["rule"] = changes["rule"].strip()
        check_rule(changes["rule"], changes.get("scope", tag.scope))
    return actions.update(tag, actor=actor, **changes)


# --- recomputing -------------------------------------------------------------------------
def _restrict(qs: QuerySet[Any], persons: PersonSet, field: str) -> QuerySet[Any]:
    if persons is None:
        return qs
    if isinstance(persons, QuerySet):
        return qs.filter(**{f"{field}__in": persons.values("pk")})
    ids = [p.pk if isinstance(p, Model) else p for p in persons]
    return qs.filter(**{f"{field}__in": ids})


def recompute_tags(
    day: dt.date | None = None,
    persons: PersonSet = None,
    *,
    codes: Iterable[str] | None = None,
    actor: Any = None,
    note: str = NOTE,
    audited: bool = True,
) -> Summary:
    """Bring every computed tag (or those in ``codes``) up to date on ``day`` (today) for
    ``persons`` (everyone): ``{code: {"added", "ended", "holders"}}``.

    Each tag costs three queries whatever the population: the rule with its inputs, the
    open computed rows, the rows held otherwise; then one bulk insert and one bulk
    update. Every written row gets its audit entry (``audited=False`` is for the bench
    world only, as in the seed). Idempotent: a second run on the same day changes
    nothing.
    """
    day = day or timezone.localdate()
    if persons is not None and not isinstance(persons, QuerySet):
        persons = list(persons)
    tags = Tag.objects.filter(scope=TagScope.PERSON).exclude(rule="").order_by("code")
    if codes is not None:
        tags = tags.filter(code__in=list(codes))
    summary: Summary = {}
    with transaction.atomic():
        for tag in tags:
            summary[tag.code] = _recompute(tag, day, persons, actor, note, audited)
    return summary


def _recompute(
    tag: Tag, day: dt.date, persons: PersonSet, actor: Any, note: str, audited: bool
) -> dict[str, int]:
    rule = compile_tag_rule(tag.rule)  # saved rules compiled when saved (Tag.clean, API)
    columns = rule.input_columns(day)
    matching = rule.filter(_restrict(Person.objects.all(), persons, "pk"), day)
    rows = {
        row["pk"]: row
        for row in matching.annotate(**columns).order_by().values("pk", "area_path", *columns)
    }
    open_rows = _restrict(
        PersonTag.objects.filter(tag=tag, valid_until__isnull=True), persons, "person"
    )
    computed = dict(
        open_rows.filter(source=TagSource.RULE).values_list("person_id", "pk").order_by()
    )
    held_otherwise = set(
        _restrict(
            PersonTag.objects.filter(open_on(day), tag=tag).exclude(source=TagSource.RULE),
            persons,
            "person",
        )
        .values_list("person_id", flat=True)
        .order_by()
    )
    new = [pid for pid in rows if pid not in computed and pid not in held_otherwise]
    ended = [pk for pid, pk in computed.items() if pid not in rows]
    evidence = {"rule": tag.rule, "version": tag.rule_version, "date": day.isoformat()}
    now = timezone.now()
    created = [
        PersonTag(
            person=Person(pk=pid, area_path=rows[pid]["area_path"]),
            tag=tag,
            valid_from=day,
            source=TagSource.RULE,
            evidence={**evidence, "inputs": rule.read_inputs(rows[pid])},
            assigned_at=now,
        )
        for pid in sorted(new)
    ]
    if audited:
        actions.bulk_create(PersonTag, created, actor=actor, note=note)
    else:
        for obj in created:
            obj.area_path = obj.person.area_path
        bulk.insert(PersonTag, created)
    _end(ended, day, now, actor, note, audited)
    held = len(computed) - len(ended) + len(created)
    return {"added": len(created), "ended": len(ended), "holders": held}


def _end(
    pks: list[int], day: dt.date, now: dt.datetime, actor: Any, note: str, audited: bool
) -> None:
    """Close computed rows on ``day``: one UPDATE, one audit entry per row (what
    ``actions.bulk_update`` writes, without loading each row's person for its path)."""
    if not pks:
        return
    rows = list(PersonTag.objects.filter(pk__in=pks).only("pk", "area_path", "person", "tag"))
    for row in rows:
        actions.ensure_in_scope(actor, row)
    PersonTag.objects.filter(pk__in=pks).update(valid_until=day, updated_at=now)
    if audited:
        change = {"valid_until": [None, day.isoformat()]}
        audit.record_many(
            audit.entry(AuditEntry.Action.UPDATE, row, actor, change, note) for row in rows
        )


# --- explaining --------------------------------------------------------------------------
def explain(row: PersonTag) -> Outcome | None:
    """Why a computed assignment started: the rule it records, evaluated over the inputs
    recorded that day (``None`` for a tag given by hand or imported)."""
    evidence = row.evidence or {}
    if row.source != TagSource.RULE or "rule" not in evidence or "inputs" not in evidence:
        return None
    try:
        rule = compile_tag_rule(evidence["rule"])
    except RuleError:
        return None  # a rule the registry no longer accepts: the stored text still says it
    recorded = evidence.get("date")
    day = dt.date.fromisoformat(recorded) if recorded else row.valid_from
    if day is None:
        return None
    return rule.evaluate_recorded(evidence["inputs"], day)


# --- on change ---------------------------------------------------------------------------
def household_members(household_ids: Iterable[int | None]) -> list[int]:
    ids = [h for h in household_ids if h is not None]
    if not ids:
        return []
    return list(Person.objects.filter(household_id__in=ids).values_list("pk", flat=True))


def _remember_household(sender: Any, instance: Person, raw: bool = False, **_: Any) -> None:
    if raw or instance.pk is None or instance._state.adding:
        return
    instance._tagging_household = (  # type: ignore[attr-defined]
        Person.objects.filter(pk=instance.pk).values_list("household_id", flat=True).first()
    )


def _person_saved(sender: Any, instance: Person, raw: bool = False, **_: Any) -> None:
    """A resident created or changed (birth date, death, household …): recompute the
    computed tags of that person and of the members of the households they left and
    joined (someone moving out can leave a parent living alone)."""
    if raw:
        return
    before = getattr(instance, "_tagging_household", None)
    persons = {instance.pk, *household_members([before, instance.household_id])}
    recompute_tags(persons=persons, note=f"{NOTE}（居民信息变更）")


def _person_deleted(sender: Any, instance: Person, **_: Any) -> None:
    members = household_members([instance.household_id])
    if members:
        recompute_tags(persons=members, note=f"{NOTE}（居民信息变更）")


def connect() -> None:
    """Keep computed tags true when residents change (called from the app's ``ready``).
    Bulk writes send no signals: imports and the seed call :func:`recompute_tags`."""
    pre_save.connect(_remember_household, sender=Person, dispatch_uid="people-tagging-pre")
    post_save.connect(_person_saved, sender=Person, dispatch_uid="people-tagging-save")
    post_delete.connect(_person_deleted, sender=Person, dispatch_uid="people-tagging-delete")
