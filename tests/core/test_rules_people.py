"""The real person registry of the rule language (:mod:`jiayuan.people.rules_fields`,
with ``receives`` from :mod:`jiayuan.policies.registry`) and tests of its semantics.

The helpers here (``REGISTRY``, ``facts_of``, ``grant``, ``assert_backends_agree``) are
shared by the other rule tests: every rule test runs on the code residents are matched
with, not on a copy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jiayuan.core.rules import (
    BOOL,
    DATE,
    DECIMAL,
    Registry,
    Rule,
    TagSpec,
    compile_rule,
    tag_functions,
)
from jiayuan.org.models import Area
from jiayuan.people import rules_fields
from jiayuan.people.choices import TagScope
from jiayuan.people.models import Household, HouseholdTag, Person, PersonTag, Tag
from jiayuan.people.rules_fields import HOUSEHOLD_TAGS, PERSON_TAGS, PersonFacts, person_registry
from jiayuan.policies.catalogue import RULES
from jiayuan.policies.models import Policy, ReceivedBenefit
from jiayuan.policies.registry import load_benefits, receives_function

# The registry policy rules are checked against (policies.registry.policy_registry()),
# built from the shipped catalogue's codes so that it needs no database at import time;
# tests/policies/test_rules_policies.py proves it is the one the database gives.
REGISTRY = person_registry([receives_function(sorted(RULES))])


def facts_of(queryset: Any) -> dict[int, PersonFacts]:
    """Facts as matching loads them: people's records plus the benefits received."""
    return rules_fields.facts_of(queryset, load_benefits)


def grant(
    person_id: int, code: str, since: dt.date | None = None, until: dt.date | None = None
) -> ReceivedBenefit:
    """Record that a person receives a shipped policy's benefit (the real table)."""
    return ReceivedBenefit.objects.create(
        person_id=person_id, policy=Policy.objects.get(code=code), since=since, until=until
    )


def assert_backends_agree(rule: Rule, facts: dict[int, PersonFacts], day: dt.date) -> set[int]:
    """Both back ends select the same persons among ``facts``; returns them."""
    in_sql = set(
        rule.filter(Person.objects.filter(pk__in=list(facts)), day).values_list("pk", flat=True)
    )
    in_python = {pk for pk, f in facts.items() if rule.evaluate(f, day).matched}
    assert in_sql == in_python, (
        f"{rule.source} on {day}: SQL only {sorted(in_sql - in_python)[:5]}, "
        f"Python only {sorted(in_python - in_sql)[:5]}; "
        + "; ".join(rule.evaluate(facts[pk], day).explain() for pk in list(in_sql ^ in_python)[:2])
    )
    return in_sql


# --- tests of this registry's semantics ----------------------------------------------------
pytestmark = pytest.mark.django_db


@pytest.fixture
def unit() -> Area:
    found = Area.objects.filter(kind="unit").order_by("path").first()
    assert found is not None
    return found


def make_person(unit: Area, birth: dt.date | None, **kw: Any) -> Person:
    return Person.objects.create(name=kw.pop("name", "测试居民"), area=unit, birth_date=birth, **kw)


def tag(person: Person, code: str, **kw: Any) -> PersonTag:
    return PersonTag.objects.create(person=person, tag=Tag.objects.get(code=code), **kw)


def test_the_registered_tag_codes_are_the_seeded_catalogue() -> None:
    scopes = dict(Tag.objects.values_list("code", "scope"))
    assert {c: scopes.get(c) for c in PERSON_TAGS} == dict.fromkeys(PERSON_TAGS, TagScope.PERSON)
    assert {c: scopes.get(c) for c in HOUSEHOLD_TAGS} == dict.fromkeys(
        HOUSEHOLD_TAGS, TagScope.HOUSEHOLD
    )


def test_age_turns_on_the_birthday_in_both_back_ends(unit: Area) -> None:
    # given a person born 1946-11-28 and one born on 29 February
    born = make_person(unit, dt.date(1946, 11, 28))
    leap = make_person(unit, dt.date(1944, 2, 29))
    facts = facts_of(Person.objects.filter(pk__in=[born.pk, leap.pk]))
    eighty = compile_rule("age >= 80", REGISTRY)
    exactly = compile_rule("age == 80", REGISTRY)
    # then: 79 the day before, 80 on the day, in SQL and in Python
    assert assert_backends_agree(eighty, facts, dt.date(2026, 11, 27)) == {leap.pk}
    assert assert_backends_agree(eighty, facts, dt.date(2026, 11, 28)) == {born.pk, leap.pk}
    # born 29 Feb: 81 only from 1 March in a common year
    older = compile_rule("age >= 81", REGISTRY)
    assert assert_backends_agree(older, facts, dt.date(2025, 2, 28)) == set()
    assert assert_backends_agree(older, facts, dt.date(2025, 3, 1)) == {leap.pk}
    assert assert_backends_agree(exactly, facts, dt.date(2027, 11, 27)) == {born.pk}
    trace = eighty.evaluate(facts[born.pk], dt.date(2026, 11, 28)).explain()
    assert trace == "age = 80 ≥ 80 ✓ ⇒ 符合"


def test_the_dead_keep_their_age_at_death(unit: Area) -> None:
    dead = make_person(unit, dt.date(1940, 6, 1), death_date=dt.date(2019, 5, 31))
    facts = facts_of(Person.objects.filter(pk=dead.pk))
    day = dt.date(2026, 1, 1)
    assert assert_backends_agree(compile_rule("age == 78", REGISTRY), facts, day) == {dead.pk}
    assert assert_backends_agree(compile_rule("age >= 79", REGISTRY), facts, day) == set()
    assert assert_backends_agree(compile_rule("age + 1 >= 79", REGISTRY), facts, day) == {dead.pk}
    funeral = compile_rule(RULES["sangzang-mianchu"], REGISTRY)
    outcome = funeral.evaluate(facts[dead.pk], day)
    assert not outcome.matched  # no 特困/低保/优抚 in this household
    assert "deceased = 是 ✓" in outcome.explain()
    assert "age = 78 ≥ 60 ✓" in outcome.explain()
    # before the death the person was alive
    assert assert_backends_agree(compile_rule("deceased", REGISTRY), facts, day) == {dead.pk}
    before = dt.date(2019, 5, 30)
    assert assert_backends_agree(compile_rule("deceased", REGISTRY), facts, before) == set()


def test_tags_count_only_while_valid(unit: Area) -> None:
    p = make_person(unit, dt.date(1950, 1, 1))
    tag(p, "残疾人", attributes={"category": "肢体", "grade": 2},
        valid_from=dt.date(2024, 1, 1), valid_until=dt.date(2026, 1, 1))  # fmt: skip
    facts = facts_of(Person.objects.filter(pk=p.pk))
    rule = compile_rule('tag("残疾人").grade in (1, 2)', REGISTRY)
    assert assert_backends_agree(rule, facts, dt.date(2023, 12, 31)) == set()
    assert assert_backends_agree(rule, facts, dt.date(2024, 1, 1)) == {p.pk}
    assert assert_backends_agree(rule, facts, dt.date(2025, 12, 31)) == {p.pk}
    assert assert_backends_agree(rule, facts, dt.date(2026, 1, 1)) == set()


def test_household_size_and_lives_alone(unit: Area) -> None:
    hh = Household.objects.create(number="T-RULES-1", area=unit)
    alone = Household.objects.create(number="T-RULES-2", area=unit)
    a = make_person(unit, dt.date(1950, 1, 1), household=hh)
    b = make_person(unit, dt.date(1952, 1, 1), household=hh, death_date=dt.date(2025, 6, 1))
    c = make_person(unit, dt.date(1948, 1, 1), household=alone)
    d = make_person(unit, dt.date(1948, 1, 1))  # no household
    HouseholdTag.objects.create(household=alone, tag=Tag.objects.get(code="低保"))
    facts = facts_of(Person.objects.filter(pk__in=[a.pk, b.pk, c.pk, d.pk]))
    day = dt.date(2026, 1, 1)

    def selected(source: str, on: dt.date = day) -> set[int]:
        return assert_backends_agree(compile_rule(source, REGISTRY), facts, on)

    assert selected("lives_alone") == {a.pk, c.pk}  # b's housemate a is alive
    assert selected("lives_alone", dt.date(2025, 1, 1)) == {c.pk}
    assert selected("household.size == 1") == {a.pk, b.pk, c.pk}
    assert selected("household.size == null") == {d.pk}
    assert selected("not household.size >= 2") == {a.pk, b.pk, c.pk, d.pk}
    assert selected('household.has_tag("低保")') == {c.pk}
    assert selected('not household.has_tag("低保")') == {a.pk, b.pk, d.pk}


def test_decimal_and_bool_attributes_read_alike_in_sql_and_python(unit: Area) -> None:
    # given a registry whose 在职党员 tag carries a decimal and a bool attribute
    has_tag, tag_record = tag_functions(
        [TagSpec("在职党员", {"hours": DECIMAL, "active": BOOL, "since": DATE})],
        rows=lambda env: PersonTag.objects.filter(person=env.outer("pk")),
        facts=lambda p: p.tags,
    )
    registry = Registry("测试").add(has_tag, tag_record)
    values: list[dict[str, Any]] = [
        {"hours": 12.5, "active": True, "since": "2020-02-29"},
        {"hours": "7.25", "active": False},
        {"hours": None, "active": None, "since": None},
        {},
    ]
    people = []
    for attrs in values:
        p = make_person(unit, dt.date(1980, 1, 1))
        tag(p, "在职党员", attributes=attrs)
        people.append(p.pk)
    people.append(make_person(unit, dt.date(1980, 1, 1)).pk)  # no tag at all
    facts = facts_of(Person.objects.filter(pk__in=people))
    day = dt.date(2026, 1, 1)

    def selected(source: str) -> list[int]:
        found = assert_backends_agree(compile_rule(source, registry), facts, day)
        return [i for i, pk in enumerate(people) if pk in found]

    # then both back ends read the same values, missing ones included
    assert selected('tag("在职党员").hours >= 12.5') == [0]
    assert selected('tag("在职党员").hours + 0.75 == 8') == [1]
    assert selected('tag("在职党员").hours - 1 in (11.5, 6.25)') == [0, 1]
    assert selected('tag("在职党员").hours == null') == [2, 3, 4]
    assert selected('tag("在职党员").active') == [0]
    assert selected('tag("在职党员").active == false') == [1]
    assert selected('not tag("在职党员").active') == [1, 2, 3, 4]
    assert selected('tag("在职党员").active != null') == [0, 1]
    assert selected('tag("在职党员").since == date("2020-02-29")') == [0]
    assert selected('tag("在职党员").since < date("2020-03-01")') == [0]
