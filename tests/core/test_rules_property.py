"""Property: for any population and any well-typed rule, the SQL back end and the Python
back end select exactly the same persons.

Hypothesis generates persons (odd and missing values included: unknown birth dates,
deaths before the reference date, enum values outside their lists, tags with missing
or null attributes, validity windows, households whose members died), and rules from
the grammar (numbers with arithmetic and decimals, dates, enums, strings, booleans,
null tests, tags and their attributes, ``and``/``or``/``not`` nested, ``verify``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiayuan.core.rules import compile_rule, render
from jiayuan.org.models import Area
from jiayuan.people.models import Household, HouseholdTag, Person, PersonTag, Tag
from jiayuan.policies.catalogue import RULES
from jiayuan.policies.models import Policy, ReceivedBenefit

from .test_rules_people import REGISTRY, PersonFacts, assert_backends_agree, facts_of, grant

pytestmark = pytest.mark.django_db

DAYS = (dt.date(2026, 1, 1), dt.date(2026, 11, 28))
HYPOTHESIS = settings(
    deadline=None,
    database=None,  # no .hypothesis directory in the repository
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# --- populations -------------------------------------------------------------------------
near = st.dates(dt.date(2024, 1, 1), dt.date(2028, 12, 31))
maybe_near = st.one_of(st.none(), near)
iso = st.dates(dt.date(1940, 1, 1), dt.date(2027, 12, 31)).map(dt.date.isoformat)


def attrs(**keys: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Attribute dicts where each key may be absent or JSON null."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(v, st.none()) for k, v in keys.items()})


PERSON_TAGS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "残疾人": attrs(
        category=st.sampled_from(["肢体", "视力", "智力", "精神", "多重", "未知类"]),
        grade=st.integers(1, 4),
    ),
    "残疾诊断": attrs(diagnosed_on=iso),
    "退役军人": attrs(
        kind=st.sampled_from(["参战", "带病回乡", "退役士兵", "其他"]), enlisted_on=iso
    ),
    "残疾军人": attrs(cause=st.sampled_from(["因战", "因公", "因病"]), grade=st.integers(1, 10)),
    "城乡居民养老保险": attrs(contribution_years=st.integers(0, 30)),
    "独生子女父母": st.just({}),
    "工伤护理费": st.just({}),
    "重点优抚对象": st.just({}),
    "高龄老人": st.just({}),
}
HOUSEHOLD_TAGS = ["低保", "特困", "低收入", "计生特殊家庭"]
BENEFITS = ["gaoling-jintie", "dibao", "canji-gongjiao"]


@dataclass
class TagSpec:
    code: str
    attributes: dict[str, Any]
    valid_from: dt.date | None
    valid_until: dt.date | None


@dataclass
class PersonSpec:
    birth: dt.date | None
    death: dt.date | None
    gender: str
    political: str
    hukou: str
    hukou_type: str
    residence: str
    tags: list[TagSpec] = field(default_factory=list)
    benefits: list[tuple[str, dt.date | None, dt.date | None]] = field(default_factory=list)


@dataclass
class HouseholdSpec:
    members: list[PersonSpec]
    tags: list[TagSpec]


@st.composite
def tag_specs(draw: st.DrawFn, catalogue: dict[str, st.SearchStrategy[dict[str, Any]]]) -> Any:
    codes = draw(st.lists(st.sampled_from(sorted(catalogue)), unique=True, max_size=3))
    return [
        TagSpec(code, draw(catalogue[code]), draw(maybe_near), draw(maybe_near)) for code in codes
    ]


persons = st.builds(
    PersonSpec,
    birth=st.one_of(st.none(), st.dates(dt.date(1915, 1, 1), dt.date(2027, 6, 30))),
    death=st.one_of(st.none(), st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2027, 12, 31))),
    gender=st.sampled_from(["male", "female", ""]),
    political=st.sampled_from(["party_member", "probationary", "masses", "odd"]),
    hukou=st.sampled_from(["370830", "370811", "110105", "", "37", "3708"]),
    hukou_type=st.sampled_from(["urban", "rural"]),
    residence=st.sampled_from(["resident", "floating", "away", "unknown"]),
    tags=tag_specs(PERSON_TAGS),
    benefits=st.lists(st.tuples(st.sampled_from(BENEFITS), maybe_near, maybe_near), max_size=2),
)
households = st.builds(
    HouseholdSpec,
    members=st.lists(persons, min_size=1, max_size=4),
    tags=tag_specs({code: st.just({}) for code in HOUSEHOLD_TAGS}),
)
populations = st.tuples(st.lists(households, min_size=1, max_size=6), st.lists(persons, max_size=3))


def insert(population: tuple[list[HouseholdSpec], list[PersonSpec]], unit: Area) -> list[int]:
    """Write exactly the rows the specs describe, in bulk: no signals run (computed tags
    and match rechecks would add rows the spec did not ask for), and it is fast."""
    tags = {t.code: t for t in Tag.objects.all()}
    policies = {p.code: p for p in Policy.objects.filter(code__in=BENEFITS)}
    path = unit.path
    households = Household.objects.bulk_create(
        Household(number=f"GEN-{i}", area=unit, area_path=path) for i in range(len(population[0]))
    )
    household_tags = [
        HouseholdTag(
            household=household, tag=tags[t.code], area_path=path,
            valid_from=t.valid_from, valid_until=t.valid_until,
        )
        for household, spec in zip(households, population[0], strict=True)
        for t in spec.tags
    ]  # fmt: skip
    HouseholdTag.objects.bulk_create(household_tags)
    members: list[tuple[PersonSpec, Household | None]] = [
        (member, household)
        for household, spec in zip(households, population[0], strict=True)
        for member in spec.members
    ]
    members += [(loner, None) for loner in population[1]]
    persons = Person.objects.bulk_create(
        Person(
            name="生成", area=unit, area_path=path, household=household,
            birth_date=spec.birth, death_date=spec.death, gender=spec.gender,
            political_status=spec.political, hukou_code=spec.hukou,
            hukou_type=spec.hukou_type, residence_status=spec.residence,
        )
        for spec, household in members
    )  # fmt: skip
    PersonTag.objects.bulk_create(
        PersonTag(
            person=p, tag=tags[t.code], attributes=t.attributes, area_path=path,
            valid_from=t.valid_from, valid_until=t.valid_until,
        )
        for p, (spec, _) in zip(persons, members, strict=True)
        for t in spec.tags
    )  # fmt: skip
    ReceivedBenefit.objects.bulk_create(
        ReceivedBenefit(person=p, policy=policies[code], since=since, until=until, area_path=path)
        for p, (spec, _) in zip(persons, members, strict=True)
        for code, since, until in spec.benefits
    )
    return [p.pk for p in persons]


# --- rules from the grammar ----------------------------------------------------------------
NUM_TERMS = [
    "age",
    "household.size",
    'tag("残疾人").grade',
    'tag("残疾军人").grade',
    'tag("城乡居民养老保险").contribution_years',
]
DATE_TERMS = [
    "birth_date",
    "death_date",
    'tag("退役军人").enlisted_on',
    'tag("残疾诊断").diagnosed_on',
]
ENUMS: dict[str, list[str]] = {
    "gender": ["男", "女"],
    "hukou_type": ["城镇", "农村"],
    "residence": ["常住", "流动", "外出"],
    "political_status": ["中共党员", "中共预备党员", "群众"],
    'tag("残疾人").category': ["肢体", "视力", "智力", "精神"],
    'tag("退役军人").kind': ["参战", "带病回乡", "退役士兵"],
    'tag("残疾军人").cause': ["因战", "因公", "因病"],
}
BOOL_TERMS = [
    "deceased",
    "lives_alone",
    "party_member",
    *(f'has_tag("{c}")' for c in PERSON_TAGS),
    *(f'household.has_tag("{c}")' for c in HOUSEHOLD_TAGS),
    *(f'receives("{c}")' for c in BENEFITS),
    "true",
    "false",
]
OPS = ["==", "!=", "<", "<=", ">", ">="]

numbers = st.one_of(
    st.integers(-2, 100).map(str), st.sampled_from(["0.5", "1.5", "59.5", "79.5", "80.0"])
)
date_consts = st.dates(dt.date(1930, 1, 1), dt.date(2028, 12, 31)).map(lambda d: f'date("{d}")')


def num_expr(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NUM_TERMS), numbers)
    if depth == 0:
        return leaf
    inner = num_expr(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(inner, st.sampled_from(["+", "-"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda e: f"-{e}"),
    )


def listing(items: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(items, min_size=1, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ")")


@st.composite
def enum_atom(draw: st.DrawFn) -> str:
    term = draw(st.sampled_from(sorted(ENUMS)))
    value = st.sampled_from(ENUMS[term]).map(lambda v: f'"{v}"')
    form = draw(st.sampled_from(["==", "!=", "in", "not in", "flip"]))
    if form in ("in", "not in"):
        return f"{term} {form} {draw(listing(value))}"
    if form == "flip":
        return f"{draw(value)} == {term}"
    return f"{term} {form} {draw(value)}"


def atoms() -> st.SearchStrategy[str]:
    nums = num_expr(2)
    value_terms = st.sampled_from([*NUM_TERMS, *DATE_TERMS, *ENUMS, "hukou", "lives_alone"])
    return st.one_of(
        st.tuples(nums, st.sampled_from(OPS), nums).map(" ".join),
        st.tuples(
            st.sampled_from(NUM_TERMS), st.sampled_from(["in", "not in"]), listing(numbers)
        ).map(" ".join),
        st.tuples(
            st.sampled_from(DATE_TERMS),
            st.sampled_from(OPS),
            st.one_of(st.sampled_from(DATE_TERMS), date_consts),
        ).map(" ".join),
        enum_atom(),
        st.tuples(
            st.sampled_from(["hukou", "area"]),
            st.sampled_from(["startswith", "endswith", "contains"]),
            st.sampled_from(["37", "3708", "", "30", "08", "/"]),
        ).map(lambda t: f'{t[0]}.{t[1]}("{t[2]}")'),
        st.sampled_from(['hukou == "370830"', 'hukou != ""', 'hukou in ("370830", "110105")']),
        st.sampled_from(BOOL_TERMS),
        st.tuples(
            st.sampled_from(BOOL_TERMS), st.sampled_from(["==", "!="]), st.sampled_from(BOOL_TERMS)
        ).map(" ".join),
        st.tuples(value_terms, st.sampled_from(["== null", "!= null"])).map(" ".join),
    )


def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pairs = st.tuples(children, st.sampled_from(["and", "or"]), children)
    return st.one_of(pairs.map(lambda t: f"({t[0]} {t[1]} {t[2]})"), children.map("not {}".format))


conditions = st.recursive(atoms(), combine, max_leaves=10)
# verify(…) only where it is allowed: as a condition under and/or, never negated
rules = st.one_of(
    conditions,
    st.tuples(conditions, conditions).map(lambda t: f'{t[0]} and verify("甲")'),
    st.tuples(conditions, conditions).map(lambda t: f'({t[0]} and verify("甲")) or {t[1]}'),
)


@pytest.fixture
def unit() -> Area:
    found = Area.objects.filter(kind="unit").order_by("path").first()
    assert found is not None
    return found


@settings(HYPOTHESIS, max_examples=40)
@given(population=populations, sources=st.lists(rules, min_size=4, max_size=8))
def test_backends_agree_on_generated_populations(
    unit: Area,
    population: tuple[list[HouseholdSpec], list[PersonSpec]],
    sources: list[str],
) -> None:
    with transaction.atomic():
        ids = insert(population, unit)
        facts = facts_of(Person.objects.filter(pk__in=ids))
        for source in sources:
            rule = compile_rule(source, REGISTRY)
            for day in DAYS:
                assert_backends_agree(rule, facts, day)
        for source in RULES.values():
            assert_backends_agree(compile_rule(source, REGISTRY), facts, DAYS[1])
        transaction.set_rollback(True)


@pytest.fixture
def world() -> dict[int, PersonFacts]:
    for p in Person.objects.filter(birth_date__lte=dt.date(1950, 1, 1)).order_by("pk")[::4]:
        grant(p.pk, "gaoling-jintie")
    return facts_of(Person.objects.all())


@settings(HYPOTHESIS, max_examples=25)
@given(sources=st.lists(rules, min_size=3, max_size=6))
def test_backends_agree_on_the_tiny_county(
    world: dict[int, PersonFacts], sources: list[str]
) -> None:
    for source in sources:
        rule = compile_rule(source, REGISTRY)
        for day in DAYS:
            assert_backends_agree(rule, world, day)


@settings(HYPOTHESIS, max_examples=100)
@given(source=rules)
def test_generated_rules_compile_and_their_traces_quote_the_source(source: str) -> None:
    """Every generated rule compiles; each trace node quotes a piece of the rule, and the
    rule made of the top node's text gives the same outcome."""
    rule = compile_rule(source, REGISTRY)
    nobody = PersonFacts(id=0, birth_date=None)
    outcome = rule.evaluate(nobody, DAYS[0])
    assert outcome.matched == (outcome.trace["value"] is True)
    stack = [outcome.trace]
    while stack:
        node = stack.pop()
        assert node["src"] in source
        stack.extend(node.get("children", []))
    again = compile_rule(outcome.trace["src"], REGISTRY).evaluate(nobody, DAYS[0])
    assert again.trace == outcome.trace
    assert render(again.trace) == render(outcome.trace)
