"""A realistic person registry for the rule language, and tests of its semantics.

The real registry will live in ``people`` (with ``receives`` added by ``policies``);
this one is the example the rule tests run on: the fields of issue 4 over the real
``Person``/``Household``/``PersonTag``/``HouseholdTag`` models, plus a test-only
table of benefits received (the ``policies`` app does not exist yet).

The Python back end reads :class:`PersonFacts`, plain data loaded from the database
(or, later, built from a YAML policy test case), never model instances.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from django.apps.registry import Apps
from django.db import connection, models
from django.db.models import Count, Exists, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import In, IsNull, LessThanOrEqual

from jiayuan.core.rules import (
    BOOL,
    DATE,
    DECIMAL,
    INT,
    STR,
    EnumType,
    Env,
    Field,
    Function,
    Registry,
    Rule,
    SqlEnv,
    TagFact,
    TagSpec,
    age_field,
    compile_rule,
    tag_functions,
)
from jiayuan.org.models import Area
from jiayuan.people.choices import (
    PARTY,
    Gender,
    HukouType,
    PoliticalStatus,
    ResidenceStatus,
    TagScope,
)
from jiayuan.people.models import Household, HouseholdTag, Person, PersonTag, Tag

# --- a benefits table (test-only until the policies app exists) ------------------------
_apps = Apps()


class ReceivedBenefit(models.Model):
    """A benefit a person receives (享受待遇): policy × since/until."""

    person_id = models.BigIntegerField(db_index=True)
    policy = models.CharField(max_length=40)
    since = models.DateField(null=True)
    until = models.DateField(null=True)

    objects: ClassVar[models.Manager[ReceivedBenefit]] = models.Manager()

    class Meta:
        apps = _apps
        app_label = "rules_test"
        db_table = "rules_test_benefit"


@pytest.fixture(scope="session")
def benefits_table(django_db_setup: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        if ReceivedBenefit._meta.db_table not in connection.introspection.table_names():
            with connection.schema_editor() as editor:
                editor.create_model(ReceivedBenefit)


# --- the policies of ../shared/policies.md, in the rule language -----------------------
POLICY_RULES: dict[str, str] = {
    "gaoling-jintie": 'not deceased and age >= 80 and hukou.startswith("37")',
    "laonian-youdai": "not deceased and age >= 60",
    "laonian-gongjiao": "not deceased and age >= 65",
    "laonian-tijian": 'not deceased and age >= 65 and residence == "常住"',
    "kunnan-laoren-butie": (
        "not deceased and age >= 60"
        ' and (household.has_tag("低保") or household.has_tag("特困")'
        ' or household.has_tag("低收入"))'
        ' and verify("经济困难（经核实）")'
    ),
    "tekun-gongyang": (
        'not deceased and (age >= 60 or has_tag("残疾人") or age < 16)'
        ' and household.has_tag("低收入") and not household.has_tag("特困")'
        ' and verify("无劳动能力") and verify("无生活来源")'
        ' and verify("无法定赡养、抚养、扶养义务人，或其无履行义务能力")'
    ),
    "dibao": (
        'not deceased and household.has_tag("低收入") and not household.has_tag("低保")'
        ' and verify("家庭人均收入低于当地低保标准") and verify("家庭财产状况符合规定")'
    ),
    "canji-shenghuo-butie": (
        'not deceased and has_tag("残疾人") and household.has_tag("低保")'
        ' and hukou.startswith("37")'
    ),
    "zhongdu-canji-huli": (
        'not deceased and tag("残疾人").grade in (1, 2)'
        ' and tag("残疾人").category in ("智力", "精神", "视力", "肢体")'
        ' and not household.has_tag("特困") and not has_tag("工伤护理费")'
        ' and verify("需要长期照护")'
    ),
    "canji-jiuyi-jianmian": 'not deceased and has_tag("残疾人")',
    "canji-gongjiao": 'not deceased and has_tag("残疾人")',
    "canji-daijiao": (
        'not deceased and ((tag("残疾人").grade <= 2 and has_tag("城乡居民养老保险"))'
        ' or (has_tag("残疾人") and household.has_tag("低保")))'
    ),
    "canji-ertong-kangfu": (
        'not deceased and ((age < 18 and has_tag("残疾人"))'
        ' or (age < 7 and has_tag("残疾诊断"))) and hukou.startswith("37")'
    ),
    "jumin-yanglao": (
        'not deceased and age >= 60 and tag("城乡居民养老保险").contribution_years >= 15'
    ),
    "yibao-zizhu": 'not deceased and (household.has_tag("特困") or household.has_tag("低保"))',
    "jisheng-jiangli": 'not deceased and has_tag("独生子女父母") and age >= 60',
    "jisheng-tebie": 'not deceased and household.has_tag("计生特殊家庭")',
    "tuiyi-dingqi-buzhu": (
        'not deceased and (tag("退役军人").kind in ("参战", "带病回乡")'
        ' or (tag("退役军人").kind == "退役士兵" and hukou_type == "农村" and age >= 60)'
        ' or tag("退役军人").enlisted_on < date("1954-10-31"))'
    ),
    "canji-junren": (
        'not deceased and (tag("残疾军人").cause in ("因战", "因公")'
        ' and tag("残疾军人").grade <= 10'
        ' or tag("残疾军人").cause == "因病" and tag("残疾军人").grade <= 6)'
    ),
    "sangzang-mianchu": (
        'deceased and age >= 60 and hukou.startswith("37")'
        ' and (household.has_tag("特困") or household.has_tag("低保")'
        ' or has_tag("重点优抚对象"))'
    ),
}


# --- facts: what the Python back end reads ----------------------------------------------
@dataclass
class HouseholdFacts:
    id: int
    tags: list[TagFact] = field(default_factory=list)
    members: list[tuple[int, dt.date | None]] = field(default_factory=list)  # id, death


@dataclass
class PersonFacts:
    id: int
    birth_date: dt.date | None
    death_date: dt.date | None = None
    gender: str = Gender.FEMALE
    political_status: str = PoliticalStatus.MASSES
    hukou_code: str = "370830"
    hukou_type: str = HukouType.URBAN
    residence_status: str = ResidenceStatus.RESIDENT
    area_path: str = ""
    tags: list[TagFact] = field(default_factory=list)
    household: HouseholdFacts | None = None
    benefits: list[tuple[str, dt.date | None, dt.date | None]] = field(default_factory=list)


def _fact(row: PersonTag | HouseholdTag) -> TagFact:
    return TagFact(row.tag.code, row.attributes or {}, row.valid_from, row.valid_until)


def load_facts(persons: Iterable[Person]) -> Iterator[PersonFacts]:
    """Facts for persons fetched with :data:`FACTS_PREFETCH` (a handful of queries)."""
    persons = list(persons)
    benefits: dict[int, list[tuple[str, dt.date | None, dt.date | None]]] = {}
    rows = ReceivedBenefit.objects.filter(person_id__in=[p.pk for p in persons])
    for b in rows:
        benefits.setdefault(b.person_id, []).append((b.policy, b.since, b.until))
    households: dict[int, HouseholdFacts] = {}
    for p in persons:
        hh = None
        if p.household is not None:
            hh = households.get(p.household.pk)
            if hh is None:
                hh = households[p.household.pk] = HouseholdFacts(
                    p.household.pk,
                    [_fact(t) for t in p.household.tags.all()],
                    [(m.pk, m.death_date) for m in p.household.members.all()],
                )
        yield PersonFacts(
            p.pk, p.birth_date, p.death_date, p.gender, p.political_status, p.hukou_code,
            p.hukou_type, p.residence_status, p.area_path, [_fact(t) for t in p.tags.all()],
            hh, benefits.get(p.pk, []),
        )  # fmt: skip


FACTS_PREFETCH = ("tags__tag", "household__tags__tag", "household__members")


def facts_of(queryset: Any) -> dict[int, PersonFacts]:
    qs = queryset.select_related("household").prefetch_related(*FACTS_PREFETCH)
    return {f.id: f for f in load_facts(qs)}


# --- the registry ------------------------------------------------------------------------
ATTRIBUTE_TYPES: dict[str, dict[str, Any]] = {
    "残疾人": {
        "category": EnumType.of(
            "残疾类别", ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"]
        ),
        "grade": INT,
    },
    "残疾诊断": {"diagnosed_on": DATE},
    "失能老人": {"level": EnumType.of("失能等级", ["轻度", "中度", "重度"])},
    "退役军人": {
        "kind": EnumType.of("退役军人类别", ["参战", "带病回乡", "退役士兵", "其他"]),
        "enlisted_on": DATE,
    },
    "残疾军人": {"cause": EnumType.of("致残原因", ["因战", "因公", "因病"]), "grade": INT},
    "城乡居民养老保险": {"contribution_years": INT},
    "在职党员": {"organisation": STR},
}
# The tag catalogue (the demo seeds these; a test below checks they exist).
PERSON_TAGS = [
    "残疾人", "残疾诊断", "失能老人", "独居老人", "空巢老人", "高龄老人", "留守儿童", "孤儿",
    "事实无人抚养儿童", "退役军人", "残疾军人", "重点优抚对象", "烈士遗属", "独生子女父母",
    "独生子女", "城乡居民养老保险", "工伤护理费", "在职党员",
]  # fmt: skip
HOUSEHOLD_TAGS = ["低保", "特困", "低收入", "计生特殊家庭"]


def _choices(choices: Any) -> EnumType:
    return EnumType.of(choices.__name__, {str(label): value for value, label in choices.choices})


def _alive_on(day: dt.date) -> Q:
    return Q(death_date__isnull=True) | Q(death_date__gt=day)


def _alive(death: dt.date | None, day: dt.date) -> bool:
    return death is None or death > day


def household_registry() -> Registry:
    def size_sql(env: SqlEnv) -> Any:
        members = (
            Person.objects.filter(_alive_on(env.ref_date), household=env.outer("pk"))
            .order_by()
            .values("household")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(members), Value(0))

    def size(h: HouseholdFacts, env: Env) -> int:
        return sum(_alive(death, env.ref_date) for _, death in h.members)

    has_tag, tag = tag_functions(
        [TagSpec(code) for code in HOUSEHOLD_TAGS],
        rows=lambda env: HouseholdTag.objects.filter(household=env.outer("pk")),
        facts=lambda h: h.tags,
    )
    return Registry("家庭").add(
        Field("size", INT, "家庭人数", size_sql, size, nullable=False), has_tag, tag
    )


def people_registry() -> Registry:
    day_fields = [
        Field("birth_date", DATE, "出生日期", "birth_date", lambda p, env: p.birth_date),
        Field("death_date", DATE, "死亡日期", "death_date", lambda p, env: p.death_date),
    ]

    def deceased_sql(env: SqlEnv) -> Q:
        return Q(IsNull(env.f("death_date"), False)) & Q(
            LessThanOrEqual(env.f("death_date"), env.ref_date)
        )

    def lives_alone_sql(env: SqlEnv) -> Q:
        others = Person.objects.filter(_alive_on(env.ref_date), household=env.outer("household"))
        return Q(household__isnull=False) & ~Q(Exists(others.exclude(pk=env.outer("pk"))))

    def lives_alone(p: PersonFacts, env: Env) -> bool:
        if p.household is None:
            return False
        return not any(
            pid != p.id and _alive(death, env.ref_date) for pid, death in p.household.members
        )

    def receives_sql(env: SqlEnv, code: str) -> Q:
        day = env.ref_date
        rows = ReceivedBenefit.objects.filter(
            Q(since__isnull=True) | Q(since__lte=day),
            Q(until__isnull=True) | Q(until__gt=day),
            person_id=env.outer("pk"),
            policy=code,
        )
        return Q(Exists(rows))

    def receives(p: PersonFacts, env: Env, code: str) -> bool:
        day = env.ref_date
        return any(
            policy == code and (since is None or since <= day) and (until is None or until > day)
            for policy, since, until in p.benefits
        )

    has_tag, tag = tag_functions(
        [TagSpec(code, ATTRIBUTE_TYPES.get(code, {})) for code in PERSON_TAGS],
        rows=lambda env: PersonTag.objects.filter(person=env.outer("pk")),
        facts=lambda p: p.tags,
    )
    party = [str(v) for v in PARTY]
    registry = Registry("居民").add(
        age_field(lambda p: (p.birth_date, p.death_date)),
        *day_fields,
        Field("deceased", BOOL, "已故", deceased_sql,
              lambda p, env: p.death_date is not None and p.death_date <= env.ref_date),
        Field("gender", _choices(Gender), "性别", "gender", lambda p, env: p.gender),
        Field("political_status", _choices(PoliticalStatus), "政治面貌", "political_status",
              lambda p, env: p.political_status),
        Field("party_member", BOOL, "党员", lambda env: Q(In(env.f("political_status"), party)),
              lambda p, env: p.political_status in party),
        Field("hukou", STR, "户籍地", "hukou_code", lambda p, env: p.hukou_code, nullable=False),
        Field("hukou_type", _choices(HukouType), "户籍类型", "hukou_type",
              lambda p, env: p.hukou_type),
        Field("residence", _choices(ResidenceStatus), "居住状态", "residence_status",
              lambda p, env: p.residence_status),
        Field("area", STR, "所在区域", "area_path", lambda p, env: p.area_path, nullable=False),
        Field("lives_alone", BOOL, "独居", lives_alone_sql, lives_alone),
        has_tag,
        tag,
        Function("receives", (EnumType.of("policy", list(POLICY_RULES)),), BOOL,
                 "已享受「{0}」", receives_sql, receives),
    )  # fmt: skip
    return registry.add_namespace(
        "household",
        household_registry(),
        label="家庭",
        sql_path="household",
        python=lambda p: p.household,
    )


REGISTRY = people_registry()


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
def unit(benefits_table: None) -> Area:
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


def test_age_turns_on_the_birthday_in_both_back_ends(benefits_table: None, unit: Area) -> None:
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


def test_the_dead_keep_their_age_at_death(benefits_table: None, unit: Area) -> None:
    dead = make_person(unit, dt.date(1940, 6, 1), death_date=dt.date(2019, 5, 31))
    facts = facts_of(Person.objects.filter(pk=dead.pk))
    day = dt.date(2026, 1, 1)
    assert assert_backends_agree(compile_rule("age == 78", REGISTRY), facts, day) == {dead.pk}
    assert assert_backends_agree(compile_rule("age >= 79", REGISTRY), facts, day) == set()
    assert assert_backends_agree(compile_rule("age + 1 >= 79", REGISTRY), facts, day) == {dead.pk}
    funeral = compile_rule(POLICY_RULES["sangzang-mianchu"], REGISTRY)
    outcome = funeral.evaluate(facts[dead.pk], day)
    assert not outcome.matched  # no 特困/低保/优抚 in this household
    assert "deceased = 是 ✓" in outcome.explain()
    assert "age = 78 ≥ 60 ✓" in outcome.explain()
    # before the death the person was alive
    assert assert_backends_agree(compile_rule("deceased", REGISTRY), facts, day) == {dead.pk}
    before = dt.date(2019, 5, 30)
    assert assert_backends_agree(compile_rule("deceased", REGISTRY), facts, before) == set()


def test_tags_count_only_while_valid(benefits_table: None, unit: Area) -> None:
    p = make_person(unit, dt.date(1950, 1, 1))
    tag(p, "残疾人", attributes={"category": "肢体", "grade": 2},
        valid_from=dt.date(2024, 1, 1), valid_until=dt.date(2026, 1, 1))  # fmt: skip
    facts = facts_of(Person.objects.filter(pk=p.pk))
    rule = compile_rule('tag("残疾人").grade in (1, 2)', REGISTRY)
    assert assert_backends_agree(rule, facts, dt.date(2023, 12, 31)) == set()
    assert assert_backends_agree(rule, facts, dt.date(2024, 1, 1)) == {p.pk}
    assert assert_backends_agree(rule, facts, dt.date(2025, 12, 31)) == {p.pk}
    assert assert_backends_agree(rule, facts, dt.date(2026, 1, 1)) == set()


def test_household_size_lives_alone_and_receives(benefits_table: None, unit: Area) -> None:
    hh = Household.objects.create(number="T-RULES-1", area=unit)
    alone = Household.objects.create(number="T-RULES-2", area=unit)
    a = make_person(unit, dt.date(1950, 1, 1), household=hh)
    b = make_person(unit, dt.date(1952, 1, 1), household=hh, death_date=dt.date(2025, 6, 1))
    c = make_person(unit, dt.date(1948, 1, 1), household=alone)
    d = make_person(unit, dt.date(1948, 1, 1))  # no household
    HouseholdTag.objects.create(household=alone, tag=Tag.objects.get(code="低保"))
    ReceivedBenefit.objects.create(person_id=c.pk, policy="gaoling-jintie",
                                   since=dt.date(2024, 1, 1))  # fmt: skip
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
    assert selected('receives("gaoling-jintie")') == {c.pk}
    assert selected('receives("gaoling-jintie")', dt.date(2023, 12, 31)) == set()


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
