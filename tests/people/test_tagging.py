"""Computed tags (标签规则): the rules, recompute_tags, evidence, history, on-change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count

from jiayuan.core.errors import ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.rules.age import age_on
from jiayuan.demo.records import AS_OF
from jiayuan.people import services
from jiayuan.people.catalogue import RULE_TAGS, TAG_CATALOGUE, install
from jiayuan.people.models import Person, PersonTag, Tag
from jiayuan.people.rules_fields import facts_of
from jiayuan.people.tagging import (
    NOTE,
    check_rule,
    compile_tag_rule,
    explain,
    recompute_tags,
)
from jiayuan.people.tasks import recompute_tags_nightly

pytestmark = pytest.mark.django_db

OLD = "高龄老人"
ALONE = "独居老人"
EMPTY_NEST = "空巢老人"


def open_rows(code: str) -> Any:
    return PersonTag.objects.filter(tag__code=code, valid_until__isnull=True)


def holders(code: str) -> set[int]:
    return set(open_rows(code).values_list("person_id", flat=True))


def alive(person: Person, day: dt.date) -> bool:
    return person.death_date is None or person.death_date > day


def birthday(birth: dt.date, years: int) -> dt.date:
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # 29 February
        return dt.date(birth.year + years, 3, 1)


# --- the catalogue -------------------------------------------------------------------
def test_the_migration_installs_the_catalogue_with_the_rules() -> None:
    tags = {t.code: t for t in Tag.objects.all()}
    assert {t.code for t in TAG_CATALOGUE} <= set(tags)
    assert RULE_TAGS == {OLD, ALONE, EMPTY_NEST}
    assert tags[OLD].rule == "age >= 80 and not deceased" and tags[OLD].rule_version == 1
    assert tags[OLD].computed and not tags["留守儿童"].computed
    for code in RULE_TAGS:
        compile_tag_rule(tags[code].rule)  # every shipped rule compiles
    # installing again changes nothing and keeps an administrator's edits
    Tag.objects.filter(code="残疾人").update(description="县里改过的说明")
    assert install() == 0
    assert Tag.objects.get(code="残疾人").description == "县里改过的说明"


def test_install_gives_an_existing_uncomputed_tag_its_rule() -> None:
    Tag.objects.filter(code=OLD).update(rule="", rule_version=0)
    assert install() == 1
    tag = Tag.objects.get(code=OLD)
    assert (tag.rule, tag.rule_version) == ("age >= 80 and not deceased", 1)


# --- the seeded county ------------------------------------------------------------------
def test_the_seed_computes_exactly_who_the_rules_describe() -> None:
    persons = list(Person.objects.select_related("household"))
    members: dict[int, list[Person]] = {}
    for p in persons:
        if p.household_id is not None:
            members.setdefault(p.household_id, []).append(p)

    def living(p: Person) -> list[Person]:
        return [m for m in members.get(p.household_id or 0, []) if alive(m, AS_OF)]

    old = {p.pk for p in persons if alive(p, AS_OF) and (p.age_on(AS_OF) or 0) >= 80}
    elderly = [p for p in persons if alive(p, AS_OF) and (p.age_on(AS_OF) or 0) >= 60]
    lone = {p.pk for p in elderly if [m.pk for m in living(p)] == [p.pk]}
    nest = {
        p.pk
        for p in elderly
        if len(living(p)) >= 2 and all((m.age_on(AS_OF) or 0) >= 60 for m in living(p))
    }
    assert old and lone and nest
    assert holders(OLD) == old
    assert holders(ALONE) == lone
    assert holders(EMPTY_NEST) == nest
    rows = PersonTag.objects.filter(tag__code__in=RULE_TAGS)
    assert {r.source for r in rows} == {"rule"}
    assert {r.valid_from for r in rows} == {AS_OF}
    # the seed's rows are audited as the seed's
    logged = AuditEntry.objects.filter(object_type="people.persontag", note="seed-demo")
    assert logged.filter(object_id__in=[str(r.pk) for r in rows]).count() == rows.count()


def test_evidence_records_the_rule_its_version_and_the_inputs() -> None:
    row = open_rows(EMPTY_NEST).select_related("person").first()
    assert row is not None
    evidence = row.evidence
    tag = Tag.objects.get(code=EMPTY_NEST)
    assert evidence["rule"] == tag.rule and evidence["version"] == tag.rule_version
    assert evidence["date"] == AS_OF.isoformat()
    inputs = evidence["inputs"]
    assert inputs["age"] == row.person.age_on(AS_OF)
    assert inputs["deceased"] is False
    assert inputs["household.size"] >= 2 and inputs["household.members_under(60)"] == 0
    outcome = explain(row)
    assert outcome is not None and outcome.matched and outcome.eligible
    assert "⇒ 符合" in outcome.explain()
    # the recorded explanation is the live one of that day
    facts = facts_of(Person.objects.filter(pk=row.person_id))[row.person_id]
    live = compile_tag_rule(tag.rule).evaluate(facts, AS_OF)
    assert live.explain() == outcome.explain()


@pytest.mark.parametrize("day", [AS_OF, dt.date(2031, 6, 1)])
def test_sql_and_python_agree_on_every_person_for_every_tag_rule(day: dt.date) -> None:
    facts = facts_of(Person.objects.all())
    for tag in Tag.objects.exclude(rule=""):
        rule = compile_tag_rule(tag.rule)
        in_sql = set(rule.filter(Person.objects.all(), day).values_list("pk", flat=True))
        in_python = {pk for pk, f in facts.items() if rule.evaluate(f, day).matched}
        assert in_sql == in_python, tag.code


# --- recompute ------------------------------------------------------------------------
def test_recompute_is_idempotent() -> None:
    before = PersonTag.objects.count()
    summary = recompute_tags(AS_OF)
    assert set(summary) == RULE_TAGS
    assert all(s["added"] == 0 and s["ended"] == 0 for s in summary.values()), summary
    assert summary[OLD]["holders"] == len(holders(OLD))
    assert PersonTag.objects.count() == before


def test_a_person_turning_80_gets_the_tag_on_the_day_with_evidence() -> None:
    # given a living 79-year-old
    person = next(
        p for p in Person.objects.filter(death_date=None).order_by("pk") if p.age_on(AS_OF) == 79
    )
    day = birthday(person.birth_date, 80)
    # when the day before comes, nothing; on the day, the tag
    assert recompute_tags(day - dt.timedelta(days=1), [person], codes=[OLD])[OLD]["added"] == 0
    summary = recompute_tags(day, [person.pk], codes=[OLD])
    # then
    assert summary[OLD] == {"added": 1, "ended": 0, "holders": 1}
    row = open_rows(OLD).get(person=person)
    assert (row.source, row.valid_from, row.assigned_by) == ("rule", day, None)
    assert row.evidence["inputs"] == {"age": 80, "deceased": False}
    entry = AuditEntry.objects.for_object(row).get(action="create")
    assert (entry.actor_name, entry.note) == ("system", NOTE)


def test_a_tag_that_stops_holding_is_ended_not_deleted_and_restarts_later() -> None:
    row = open_rows(OLD).select_related("person").first()
    assert row is not None
    person = row.person
    day = AS_OF + dt.timedelta(days=10)
    # a wrong birth date corrected without signals (an import): the rule no longer holds
    Person.objects.filter(pk=person.pk).update(birth_date=dt.date(1990, 1, 1))
    assert recompute_tags(day, [person])[OLD]["ended"] == 1
    row.refresh_from_db()
    assert row.valid_until == day and row.source == "rule"
    update = AuditEntry.objects.for_object(row).get(action="update")
    assert update.changes == {"valid_until": [None, day.isoformat()]}
    assert not open_rows(OLD).filter(person=person).exists()
    # corrected back: a new row starts, the ended one stays as history
    Person.objects.filter(pk=person.pk).update(birth_date=dt.date(1930, 1, 1))
    later = day + dt.timedelta(days=5)
    assert recompute_tags(later, [person])[OLD]["added"] == 1
    rows = PersonTag.objects.filter(person=person, tag__code=OLD).order_by("valid_from")
    assert [(r.valid_from, r.valid_until) for r in rows] == [(AS_OF, day), (later, None)]


def test_manual_and_imported_tags_are_never_touched() -> None:
    tag = Tag.objects.get(code=OLD)
    young = Person.objects.filter(birth_date__gt=dt.date(1990, 1, 1), death_date=None).first()
    assert young is not None
    manual = PersonTag.objects.create(
        person=young, tag=tag, source="manual", area_path=young.area_path
    )
    # an old person whose computed row an importer replaced by an imported one
    computed = open_rows(OLD).first()
    assert computed is not None
    holder = computed.person
    computed.delete()
    imported = PersonTag.objects.create(
        person=holder, tag=tag, source="import", area_path=holder.area_path
    )
    summary = recompute_tags(AS_OF, [young, holder])
    assert summary[OLD] == {"added": 0, "ended": 0, "holders": 0}
    manual.refresh_from_db()
    imported.refresh_from_db()
    assert manual.valid_until is None and imported.valid_until is None
    assert PersonTag.objects.filter(person=holder, tag=tag).count() == 1


def test_recompute_for_some_persons_leaves_the_others() -> None:
    others = holders(OLD)
    newcomer = Person.objects.filter(birth_date__gt=dt.date(1990, 1, 1), death_date=None).first()
    assert newcomer is not None
    Person.objects.filter(pk=newcomer.pk).update(birth_date=dt.date(1935, 5, 5))
    Person.objects.filter(pk__in=list(others)[:1]).update(birth_date=dt.date(2000, 1, 1))
    summary = recompute_tags(AS_OF, Person.objects.filter(pk=newcomer.pk))
    assert summary[OLD] == {"added": 1, "ended": 0, "holders": 1}
    assert holders(OLD) == others | {newcomer.pk}


# --- on change ------------------------------------------------------------------------
def elderly_couple() -> list[Person]:
    """Two living 空巢 members of one household, and no one else living there."""
    today = dt.date.today()
    for household_id in (
        open_rows(EMPTY_NEST)
        .values("person__household")
        .annotate(n=Count("pk"))
        .filter(n=2)
        .values_list("person__household", flat=True)
        .order_by("person__household")
    ):
        members = list(Person.objects.filter(household_id=household_id).order_by("pk"))
        living = [m for m in members if alive(m, today)]
        if len(living) == 2 and all((age_on(m.birth_date, None, today) or 0) >= 60 for m in living):
            return living
    pytest.fail("the tiny county has an elderly couple")


def test_a_death_ends_the_tags_and_leaves_the_survivor_living_alone() -> None:
    # given an elderly couple
    first, second = elderly_couple()
    today = dt.date.today()
    # when one dies (recorded through the resident action)
    services.update_person(first, actor=None, death_date=today)
    # then the dead one's computed tags end today, and the survivor lives alone
    ended = PersonTag.objects.get(person=first, tag__code=EMPTY_NEST)
    assert ended.valid_until == today
    survivor_nest = PersonTag.objects.get(person=second, tag__code=EMPTY_NEST)
    assert survivor_nest.valid_until == today
    alone = open_rows(ALONE).get(person=second)
    assert alone.valid_from == today and alone.evidence["inputs"]["lives_alone"] is True
    note = AuditEntry.objects.for_object(alone).get(action="create").note
    assert note.startswith(NOTE)


def test_moving_between_households_recomputes_both() -> None:
    # given someone living alone, and an elderly couple
    lone = open_rows(ALONE).select_related("person").first()
    assert lone is not None
    mover, left_behind = elderly_couple()
    # when one of the couple moves in with the one living alone
    services.update_person(mover, actor=None, household=lone.person.household)
    # then that one no longer lives alone and the two are an empty nest; the one left
    # behind in the old household lives alone
    today = dt.date.today()
    lone.refresh_from_db()
    assert lone.valid_until == today
    assert {lone.person_id, mover.pk} <= holders(EMPTY_NEST)
    assert open_rows(ALONE).get(person=left_behind).valid_from == today
    assert left_behind.pk not in holders(EMPTY_NEST)


# --- saving rules ---------------------------------------------------------------------
def test_an_invalid_rule_is_refused_when_the_tag_is_saved() -> None:
    tag = Tag.objects.get(code="孤儿")
    tag.rule = "age >= "
    with pytest.raises(ValidationError) as caught:
        tag.full_clean()
    message = caught.value.message_dict["rule"][0]
    assert "第1行" in message and "line 1" in message
    tag.rule = 'age < 18 and has_tag("孤儿儿")'
    with pytest.raises(ValidationError):
        tag.full_clean()
    tag.rule = "age < 18"
    tag.full_clean()


def test_only_person_tags_may_carry_a_rule() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_rule("age >= 60", "household")
    assert caught.value.field == "rule"
    assert check_rule("  ", "household") is None


def test_the_nightly_job_runs_at_one() -> None:
    task = recompute_tags_nightly.s()
    assert task.validate_datetime(dt.datetime(2026, 11, 2, 1, 0))
    assert not task.validate_datetime(dt.datetime(2026, 11, 2, 1, 30))
    summary = recompute_tags_nightly.call_local()
    assert set(summary) == RULE_TAGS


def test_the_admin_form_refuses_an_invalid_rule_and_versions_a_valid_one(client: Any) -> None:
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="admin"))
    tag = Tag.objects.get(code="孤儿")
    url = f"/admin/people/tag/{tag.pk}/change/"
    form = {"code": tag.code, "name": tag.name, "category": tag.category, "scope": tag.scope,
            "attributes": "[]", "description": tag.description}  # fmt: skip
    response = client.post(url, {**form, "rule": "age < 18 and"})
    assert response.status_code == 200 and "第1行" in response.content.decode()
    assert Tag.objects.get(pk=tag.pk).rule == ""
    response = client.post(url, {**form, "rule": "age < 18 and not deceased"})
    assert response.status_code == 302
    tag.refresh_from_db()
    assert (tag.rule, tag.rule_version) == ("age < 18 and not deceased", 1)
    tag.rule = "age < 17 and not deceased"
    tag.save(update_fields=["rule"])
    tag.refresh_from_db()
    assert tag.rule_version == 2
