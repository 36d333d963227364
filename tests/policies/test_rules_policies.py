"""The 20 shipped policies in the rule language, on the real registry (people's fields
plus ``receives``) and the real benefits table:

* the SQL and the Python back ends agree on every person for every policy (on the tiny
  county with hand-made boundary people here, on generated populations in
  tests/core/test_rules_property.py) — acceptance 2;
* the explanation a match stores (the inputs the matching query read) gives back the
  very trace the live evaluation gives, so it is durable;
* the registry policies are compiled against rejects unsafe or malformed rules with a
  clear, positioned error — acceptance 1.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from hypothesis import given, settings

from jiayuan.core.errors import BilingualError
from jiayuan.core.rules import Rule, RuleError, compile_rule
from jiayuan.org.models import Area
from jiayuan.people.models import Household, HouseholdTag, Person, PersonTag, Tag
from jiayuan.people.rules_fields import PersonFacts
from jiayuan.policies.catalogue import RULES
from jiayuan.policies.models import Policy, ReceivedBenefit, RuleVersion
from jiayuan.policies.registry import compile_policy_rule, policy_registry

from ..core.test_rules_people import REGISTRY, assert_backends_agree, facts_of, grant
from ..core.test_rules_property import (
    DAYS,
    HYPOTHESIS,
    HouseholdSpec,
    PersonSpec,
    insert,
    populations,
)

D = dt.date(2026, 11, 28)


# --- the registry and the catalogue --------------------------------------------------------
@pytest.mark.django_db
def test_the_installed_catalogue_is_the_shipped_one() -> None:
    installed = dict(Policy.objects.values_list("code", "rule"))
    assert installed == RULES
    first = dict(RuleVersion.objects.filter(version=1).values_list("policy__code", "rule"))
    assert first == RULES


@pytest.mark.django_db
def test_the_test_registry_is_the_one_policies_are_compiled_against() -> None:
    registry = policy_registry()
    assert registry.describe() == REGISTRY.describe()
    for code in RULES:
        source = f'({RULES[code]}) and not receives("{code}")'
        real, ours = compile_policy_rule(source), compile_rule(source, REGISTRY)
        assert real.names == ours.names and real.check_items == ours.check_items
        assert str(real.filter(Person.objects.all(), D).query) == str(
            ours.filter(Person.objects.all(), D).query
        )


@pytest.mark.django_db
def test_receives_counts_a_benefit_while_it_is_paid() -> None:
    unit = Area.objects.filter(kind="unit").order_by("path").first()
    assert unit is not None
    paid, stopped, other = (
        Person.objects.create(name=n, area=unit, birth_date=dt.date(1940, 1, 1))
        for n in ("领取中", "已停发", "其他待遇")
    )
    grant(paid.pk, "gaoling-jintie", since=dt.date(2024, 1, 1))
    grant(stopped.pk, "gaoling-jintie", since=dt.date(2020, 1, 1), until=dt.date(2026, 1, 1))
    grant(other.pk, "laonian-youdai")
    facts = facts_of(Person.objects.filter(pk__in=[paid.pk, stopped.pk, other.pk]))
    receives = compile_rule('receives("gaoling-jintie")', REGISTRY)
    assert assert_backends_agree(receives, facts, dt.date(2023, 12, 31)) == {stopped.pk}
    assert assert_backends_agree(receives, facts, dt.date(2025, 12, 31)) == {paid.pk, stopped.pk}
    assert assert_backends_agree(receives, facts, dt.date(2026, 1, 1)) == {paid.pk}
    assert assert_backends_agree(
        compile_rule('receives("laonian-youdai")', REGISTRY), facts, D
    ) == {other.pk}


# --- the 20 policies on the tiny county: both back ends agree -----------------------------
@pytest.fixture(scope="module")
def world_facts(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[int, PersonFacts]]:
    """The tiny county plus hand-made persons at each policy's boundaries, with benefits.

    Built once for the module inside a transaction rolled back at its end (each test's
    own transaction is a savepoint inside it), so the seeded world is left as it was."""
    with django_db_blocker.unblock(), transaction.atomic():
        unit = Area.objects.filter(kind="unit").order_by("path").first()
        assert unit is not None
        boundary_people(unit)
        for p in Person.objects.filter(birth_date__lte=dt.date(1946, 12, 31)).order_by("pk")[::3]:
            grant(p.pk, "gaoling-jintie")
        yield facts_of(Person.objects.all())
        transaction.set_rollback(True)


def boundary_people(unit: Area) -> dict[str, Person]:
    tags = {t.code: t for t in Tag.objects.all()}

    def person(key: str, birth: dt.date, *, hh_tags: tuple[str, ...] = (),
               tags_: dict[str, dict[str, Any]] | None = None, **kw: Any) -> Person:  # fmt: skip
        kw.setdefault("hukou_code", "370830")
        household = Household.objects.create(number=f"RULES-{key}", area=unit)
        for code in hh_tags:
            HouseholdTag.objects.create(household=household, tag=tags[code])
        p = Person.objects.create(name=key, area=unit, birth_date=birth, household=household, **kw)
        for code, attrs in (tags_ or {}).items():
            PersonTag.objects.create(person=p, tag=tags[code], attributes=attrs)
        return p

    disabled = {"残疾人": {"category": "肢体", "grade": 2}}
    return {
        "turns80": person("turns80", dt.date(1946, 11, 28), hukou_code="370830"),
        "turns80tomorrow": person("turns80tomorrow", dt.date(1946, 11, 29), hukou_code="370830"),
        "beijing90": person("beijing90", dt.date(1936, 1, 1), hukou_code="110105"),
        "disabled_dibao": person("disabled_dibao", dt.date(1980, 5, 5), hh_tags=("低保",),
                                 tags_=disabled),
        "grade3": person("grade3", dt.date(1980, 5, 5),
                         tags_={"残疾人": {"category": "肢体", "grade": 3}}),
        "disabled_tekun": person("disabled_tekun", dt.date(1950, 5, 5), hh_tags=("特困",),
                                 tags_=disabled),
        "only_child_parent": person("only_child_parent", dt.date(1966, 11, 28),
                                    tags_={"独生子女父母": {}}),
        "war_veteran": person("war_veteran", dt.date(1932, 1, 1),
                              tags_={"退役军人": {"kind": "参战", "enlisted_on": "1950-10-01"}}),
        "rural_soldier": person("rural_soldier", dt.date(1966, 1, 1), hukou_type="rural",
                                tags_={"退役军人": {"kind": "退役士兵",
                                                "enlisted_on": "1984-10-01"}}),
        "urban_soldier": person("urban_soldier", dt.date(1956, 1, 1),
                                tags_={"退役军人": {"kind": "退役士兵",
                                                "enlisted_on": "1974-10-01"}}),
        "funeral": person("funeral", dt.date(1950, 1, 1), death_date=dt.date(2026, 3, 1),
                          hh_tags=("特困",)),
        "funeral_young": person("funeral_young", dt.date(1970, 1, 1),
                                death_date=dt.date(2026, 3, 1), hh_tags=("特困",)),
        "low_income": person("low_income", dt.date(1990, 1, 1), hh_tags=("低收入",)),
        "poor_elder": person("poor_elder", dt.date(1950, 1, 1), hh_tags=("低收入",)),
        "child_diagnosed": person("child_diagnosed", dt.date(2021, 1, 1),
                                  tags_={"残疾诊断": {"diagnosed_on": "2025-06-01"}}),
        "pensioner": person("pensioner", dt.date(1960, 1, 1),
                            tags_={"城乡居民养老保险": {"contribution_years": 15}}),
        "pensioner14": person("pensioner14", dt.date(1960, 1, 1),
                              tags_={"城乡居民养老保险": {"contribution_years": 14}}),
    }  # fmt: skip


EXPECTED_AT_BOUNDARIES: dict[str, dict[str, str]] = {
    "gaoling-jintie": {"turns80": "eligible", "turns80tomorrow": "no", "beijing90": "no"},
    "laonian-youdai": {"beijing90": "eligible", "funeral": "no"},
    "canji-shenghuo-butie": {"disabled_dibao": "eligible", "grade3": "no"},
    "zhongdu-canji-huli": {"disabled_dibao": "candidate", "grade3": "no", "disabled_tekun": "no"},
    "canji-daijiao": {"disabled_dibao": "eligible", "grade3": "no"},
    "jisheng-jiangli": {"only_child_parent": "eligible"},
    "tuiyi-dingqi-buzhu": {"war_veteran": "eligible", "rural_soldier": "eligible",
                           "urban_soldier": "no"},
    "sangzang-mianchu": {"funeral": "eligible", "funeral_young": "no", "turns80": "no"},
    "dibao": {"low_income": "candidate", "disabled_dibao": "no"},
    "tekun-gongyang": {"poor_elder": "candidate", "low_income": "no", "disabled_tekun": "no"},
    "kunnan-laoren-butie": {"poor_elder": "candidate", "low_income": "no"},
    "canji-ertong-kangfu": {"child_diagnosed": "eligible", "disabled_dibao": "no"},
    "jumin-yanglao": {"pensioner": "eligible", "pensioner14": "no"},
    "yibao-zizhu": {"disabled_tekun": "eligible", "disabled_dibao": "eligible", "grade3": "no"},
}  # fmt: skip


@pytest.mark.django_db
def test_policies_select_the_intended_people_at_their_boundaries(
    world_facts: dict[int, PersonFacts],
) -> None:
    by_name = {p.name: p.pk for p in Person.objects.filter(household__number__startswith="RULES-")}
    for code, expectations in EXPECTED_AT_BOUNDARIES.items():
        rule = compile_rule(RULES[code], REGISTRY)
        selected = assert_backends_agree(rule, world_facts, D)
        for name, expected in expectations.items():
            outcome = rule.evaluate(world_facts[by_name[name]], D)
            got = "candidate" if outcome.candidate else "eligible" if outcome.eligible else "no"
            assert got == expected, f"{code} / {name}: {outcome.explain()}"
            assert (by_name[name] in selected) == (expected != "no")


@pytest.mark.django_db
@pytest.mark.parametrize("code", list(RULES))
def test_each_policy_agrees_between_sql_and_python_on_every_person(
    code: str, world_facts: dict[int, PersonFacts]
) -> None:
    rule = compile_rule(RULES[code], REGISTRY)
    # matching = eligible and not already receiving the benefit
    matching = compile_rule(f'({RULES[code]}) and not receives("{code}")', REGISTRY)
    selected: set[int] = set()
    for day in (dt.date(2026, 1, 1), D, dt.date(2031, 6, 30)):
        eligible = assert_backends_agree(rule, world_facts, day)
        matched = assert_backends_agree(matching, world_facts, day)
        assert matched <= eligible
        selected |= eligible
    assert selected, f"{code} selects nobody: the boundary people should cover it"


@pytest.mark.django_db
def test_one_persons_trace_explains_the_senior_allowance(
    world_facts: dict[int, PersonFacts],
) -> None:
    rule = compile_rule(RULES["gaoling-jintie"], REGISTRY)
    person = Person.objects.get(name="turns80", household__number="RULES-turns80")
    outcome = rule.evaluate(world_facts[person.pk], D)
    assert outcome.explain() == (
        "非（deceased = 否 ✗）✓; age = 80 ≥ 80 ✓; hukou 370830 以 37 开头 ✓ ⇒ 符合"
    )
    receiving = compile_rule(f'({rule.source}) and not receives("gaoling-jintie")', REGISTRY)
    paid = ReceivedBenefit.objects.filter(policy__code="gaoling-jintie").values_list("person_id")
    some = Person.objects.filter(pk__in=paid, birth_date__lte=dt.date(1946, 1, 1)).first()
    assert some is not None
    again = receiving.evaluate(facts_of(Person.objects.filter(pk=some.pk))[some.pk], D)
    assert "非（已享受「gaoling-jintie」 ✓）✗" in again.explain()


EXTRA_RULES = [
    "age + 5 >= 80",  # look-ahead: turning 80 within five years
    "age in (60, 65, 80) or age == 79.5",
    "age not in (60, 61) and age < 62.5",
    "-age <= -90 or 100 - age < 10",
    'not tag("残疾人").grade >= 3',
    'tag("残疾人").category != "肢体"',
    'tag("残疾人").category not in ("肢体", "视力")',
    'tag("城乡居民养老保险").contribution_years + age >= 75',
    'tag("退役军人").enlisted_on >= birth_date',
    'tag("残疾诊断").diagnosed_on > date("2025-06-01")',
    "household.size != 2 and household.size + 1 > 2",
    "lives_alone == deceased",
    'gender == null or gender != "女"',
    'hukou_type != "农村" and residence in ("流动", "外出")',
    "party_member and not lives_alone",
    'hukou.endswith("30") and area.contains("/001/")',
    "birth_date > death_date or death_date == null",
    'receives("gaoling-jintie") != has_tag("高龄老人")',
]


@pytest.mark.django_db
@pytest.mark.parametrize("source", EXTRA_RULES)
def test_other_rules_agree_between_sql_and_python(
    source: str, world_facts: dict[int, PersonFacts]
) -> None:
    rule = compile_rule(source, REGISTRY)
    for day in (dt.date(2026, 1, 1), D):
        assert_backends_agree(rule, world_facts, day)


# --- the durable explanation: recorded inputs give back the live trace ----------------------
def assert_recorded_trace_is_live(rule: Rule, facts: dict[int, PersonFacts], day: dt.date) -> int:
    """Select the matched persons with every leaf of the rule as extra columns (what a
    matching run stores with a match), store them as JSON, and re-derive the outcome
    from the stored inputs only: it must be the live evaluation, trace and all."""
    columns = rule.input_columns(day)
    rows = (
        rule.filter(Person.objects.filter(pk__in=list(facts)), day)
        .annotate(**columns)
        .values("pk", *columns)
    )
    count = 0
    for row in rows:
        stored = json.loads(json.dumps(rule.read_inputs(row), ensure_ascii=False))
        recorded = rule.evaluate_recorded(stored, day)
        live = rule.evaluate(facts[row["pk"]], day)
        assert recorded.matched and live.matched, (rule.source, recorded.explain())
        assert recorded.trace == live.trace, (rule.source, recorded.explain(), live.explain())
        assert recorded.check_items == live.check_items
        assert recorded.explain() == live.explain()
        count += 1
    return count


@pytest.mark.django_db
@settings(HYPOTHESIS, max_examples=20)
@given(population=populations)
def test_recorded_inputs_explain_every_match_of_every_policy_as_the_live_trace(
    unit: Area, population: tuple[list[HouseholdSpec], list[PersonSpec]]
) -> None:
    with transaction.atomic():
        facts = facts_of(Person.objects.filter(pk__in=insert(population, unit)))
        for source in RULES.values():
            rule = compile_rule(source, REGISTRY)
            for day in DAYS:
                assert_recorded_trace_is_live(rule, facts, day)
        transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.parametrize("code", list(RULES))
def test_recorded_inputs_explain_each_policy_on_the_tiny_county(
    code: str, world_facts: dict[int, PersonFacts]
) -> None:
    rule = compile_rule(RULES[code], REGISTRY)
    matching = compile_rule(f'({RULES[code]}) and not receives("{code}")', REGISTRY)
    found = 0
    for day in (dt.date(2026, 1, 1), D):
        found += assert_recorded_trace_is_live(rule, world_facts, day)
        assert_recorded_trace_is_live(matching, world_facts, day)
    assert found, f"{code} matched nobody: the recorded trace was not exercised"


@pytest.mark.django_db
def test_the_stored_explanation_outlives_a_change_of_the_record() -> None:
    # given a person matched by the senior allowance, with the inputs stored as JSON
    unit = Area.objects.filter(kind="unit").order_by("path").first()
    assert unit is not None
    p = Person.objects.create(name="记录", area=unit, birth_date=dt.date(1946, 11, 28),
                              hukou_code="370830")  # fmt: skip
    rule = compile_rule(RULES["gaoling-jintie"], REGISTRY)
    columns = rule.input_columns(D)
    row = rule.filter(Person.objects.filter(pk=p.pk), D).annotate(**columns).values(*columns).get()
    stored = json.loads(json.dumps(rule.read_inputs(row), ensure_ascii=False))
    assert stored == {"deceased": False, "age": 80, "hukou": "370830"}
    # when the person moves away and dies afterwards
    Person.objects.filter(pk=p.pk).update(hukou_code="110105", death_date=dt.date(2026, 12, 1))
    # then the stored explanation is still the one of the day of the match
    assert rule.evaluate_recorded(stored, D).explain() == (
        "非（deceased = 否 ✗）✓; age = 80 ≥ 80 ✓; hukou 370830 以 37 开头 ✓ ⇒ 符合"
    )


# --- unsafe or malformed policy rules are refused when saved -------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source", "zh", "en"),
    [
        ('__import__("os")', "未知的函数 __import__", "unknown function __import__"),
        ("person.__class__", "未知的名称 person", "unknown name person"),
        ("age.__class__ == 1", "没有属性 __class__", "has no attribute __class__"),
        ('exec("import os") and age > 1', "未知的函数 exec", "unknown function exec"),
        ("age >= ", "第1行第7列", "expected one of"),
        ('age >= 80 and hukou.startswith("37"', "缺少右括号", "missing ')'"),
        ("age >= 80 and salary > 3000", "未知的名称 salary", "unknown name salary"),
        ('age >= "80"', "不能比较整数“age”和字符串", "cannot compare"),
        ('receives("gaoling")', "您是否想写：gaoling-jintie", "did you mean gaoling-jintie"),
        ('receives("no-such-policy")', "未知的取值 no-such-policy", "unknown value"),
        ('tag("残疾人").grade in (1, 2) and not verify("无劳动能力")', "verify(…) 只能作为",
         "never negated or compared"),
    ],
)  # fmt: skip
def test_unsafe_or_malformed_policy_rules_are_refused_with_a_clear_error(
    source: str, zh: str, en: str
) -> None:
    with pytest.raises(RuleError) as caught:
        compile_policy_rule(source)
    err = caught.value
    assert isinstance(err, BilingualError) and err.status == 422 and err.field == "rule"
    assert zh in err.zh, err.zh
    assert en in err.en, err.en
    assert err.detail is not None and err.detail["line"] >= 1 and "start" in err.detail


@pytest.fixture
def unit() -> Area:
    found = Area.objects.filter(kind="unit").order_by("path").first()
    assert found is not None
    return found
