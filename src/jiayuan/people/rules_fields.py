"""What the rule language may say about a resident (居民): the person registry.

Fields of issue 4 over ``Person``/``Household``/``PersonTag``/``HouseholdTag``: age on
the reference date, birth and death dates, gender, political status, hukou code and
type, residence, area, living alone, the household's size and tags, the person's tags
and their attributes. Apps above add their own names (``policies`` adds
``receives(...)``) with :func:`person_registry`'s ``extra`` argument, so the arrows keep
pointing down.

The Python back end reads :class:`PersonFacts`: plain data loaded from the database
(:func:`facts_of`) or built from a YAML policy test case, never model instances.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import In, IsNull, LessThanOrEqual

from jiayuan.core.rules import (
    BOOL,
    DATE,
    INT,
    STR,
    EnumType,
    Env,
    Field,
    Function,
    Registry,
    SqlEnv,
    TagFact,
    TagSpec,
    age_field,
    age_on,
    tag_functions,
)
from jiayuan.core.rules.age import years_before

from .choices import PARTY, Gender, HukouType, PoliticalStatus, ResidenceStatus
from .models import HouseholdTag, Person, PersonTag

# --- the tag vocabulary rules may use ----------------------------------------------------
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
PERSON_TAGS = (
    "残疾人", "残疾诊断", "失能老人", "独居老人", "空巢老人", "高龄老人", "留守儿童", "孤儿",
    "事实无人抚养儿童", "退役军人", "残疾军人", "重点优抚对象", "烈士遗属", "独生子女父母",
    "独生子女", "城乡居民养老保险", "工伤护理费", "在职党员",
)  # fmt: skip
HOUSEHOLD_TAGS = ("低保", "特困", "低收入", "计生特殊家庭")

Benefit = tuple[str, dt.date | None, dt.date | None]  # policy code, since, until


# --- facts: what the Python back end reads ----------------------------------------------
@dataclass
class HouseholdFacts:
    id: int
    tags: list[TagFact] = field(default_factory=list)
    members: list[tuple[int, dt.date | None]] = field(default_factory=list)  # id, death
    births: dict[int, dt.date | None] = field(default_factory=dict)  # member id → birth


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
    benefits: list[Benefit] = field(default_factory=list)


FACTS_PREFETCH = ("tags__tag", "household__tags__tag", "household__members")
BenefitLoader = Callable[[list[int]], dict[int, list[Benefit]]]


def _fact(row: PersonTag | HouseholdTag) -> TagFact:
    return TagFact(row.tag.code, row.attributes or {}, row.valid_from, row.valid_until)


def load_facts(
    persons: Iterable[Person], benefits: BenefitLoader | None = None
) -> Iterator[PersonFacts]:
    """Facts for persons fetched with :data:`FACTS_PREFETCH` (a handful of queries);
    ``benefits`` loads the benefits received (the ``policies`` app passes its own)."""
    persons = list(persons)
    received = benefits([p.pk for p in persons]) if benefits else {}
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
                    {m.pk: m.birth_date for m in p.household.members.all()},
                )
        yield PersonFacts(
            p.pk, p.birth_date, p.death_date, p.gender, p.political_status, p.hukou_code,
            p.hukou_type, p.residence_status, p.area_path, [_fact(t) for t in p.tags.all()],
            hh, received.get(p.pk, []),
        )  # fmt: skip


def facts_of(
    queryset: QuerySet[Person], benefits: BenefitLoader | None = None
) -> dict[int, PersonFacts]:
    """Facts of every person in ``queryset``, by primary key."""
    qs = queryset.select_related("household").prefetch_related(*FACTS_PREFETCH)
    return {f.id: f for f in load_facts(qs, benefits)}


# --- the registry ------------------------------------------------------------------------
def choices_type(choices: Any) -> EnumType:
    """A Django ``TextChoices`` as an enum written with its Chinese labels."""
    return EnumType.of(choices.__name__, {str(label): value for value, label in choices.choices})


def alive_on(day: dt.date) -> Q:
    return Q(death_date__isnull=True) | Q(death_date__gt=day)


def _alive(death: dt.date | None, day: dt.date) -> bool:
    return death is None or death > day


def household_registry() -> Registry:
    def size_sql(env: SqlEnv) -> Any:
        members = (
            Person.objects.filter(alive_on(env.ref_date), household=env.outer("pk"))
            .order_by()
            .values("household")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(members), Value(0))

    def size(h: HouseholdFacts, env: Env) -> int:
        return sum(_alive(death, env.ref_date) for _, death in h.members)

    def members_under_sql(env: SqlEnv, years: int) -> Any:
        day = env.ref_date
        members = Person.objects.filter(
            alive_on(day), household=env.outer("pk"), birth_date__lte=day
        )
        cutoff = years_before(day, years)
        if cutoff is not None:
            members = members.filter(birth_date__gt=cutoff)
        counted = members.order_by().values("household").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted), Value(0))

    def members_under(h: HouseholdFacts, env: Env, years: int) -> int:
        """Members alive on the day and younger than ``years`` (unknown birth: not)."""
        day = env.ref_date
        return sum(
            1
            for pid, death in h.members
            if _alive(death, day)
            and (age := age_on(h.births.get(pid), death, day)) is not None
            and age < years
        )

    has_tag, tag = tag_functions(
        [TagSpec(code) for code in HOUSEHOLD_TAGS],
        rows=lambda env: HouseholdTag.objects.filter(household=env.outer("pk")),
        facts=lambda h: h.tags,
    )
    return Registry("家庭").add(
        Field("size", INT, "家庭人数", size_sql, size, nullable=False),
        Function(
            "members_under", (INT,), INT, "家庭中未满{0}周岁的在世成员数", members_under_sql,
            members_under,
        ),
        has_tag,
        tag,
    )  # fmt: skip


def person_registry(extra: Sequence[Field | Function] = ()) -> Registry:
    """The registry of a resident, with ``extra`` names registered by apps above."""

    def deceased_sql(env: SqlEnv) -> Q:
        return Q(IsNull(env.f("death_date"), False)) & Q(
            LessThanOrEqual(env.f("death_date"), env.ref_date)
        )

    def lives_alone_sql(env: SqlEnv) -> Q:
        others = Person.objects.filter(alive_on(env.ref_date), household=env.outer("household"))
        return Q(household__isnull=False) & ~Q(Exists(others.exclude(pk=env.outer("pk"))))

    def lives_alone(p: PersonFacts, env: Env) -> bool:
        if p.household is None:
            return False
        return not any(
            pid != p.id and _alive(death, env.ref_date) for pid, death in p.household.members
        )

    has_tag, tag = tag_functions(
        [TagSpec(code, ATTRIBUTE_TYPES.get(code, {})) for code in PERSON_TAGS],
        rows=lambda env: PersonTag.objects.filter(person=env.outer("pk")),
        facts=lambda p: p.tags,
    )
    party = [str(v) for v in PARTY]
    registry = Registry("居民").add(
        age_field(lambda p: (p.birth_date, p.death_date)),
        Field("birth_date", DATE, "出生日期", "birth_date", lambda p, env: p.birth_date),
        Field("death_date", DATE, "死亡日期", "death_date", lambda p, env: p.death_date),
        Field("deceased", BOOL, "已故", deceased_sql,
              lambda p, env: p.death_date is not None and p.death_date <= env.ref_date),
        Field("gender", choices_type(Gender), "性别", "gender", lambda p, env: p.gender),
        Field("political_status", choices_type(PoliticalStatus), "政治面貌", "political_status",
              lambda p, env: p.political_status),
        Field("party_member", BOOL, "党员", lambda env: Q(In(env.f("political_status"), party)),
              lambda p, env: p.political_status in party),
        Field("hukou", STR, "户籍地", "hukou_code", lambda p, env: p.hukou_code, nullable=False),
        Field("hukou_type", choices_type(HukouType), "户籍类型", "hukou_type",
              lambda p, env: p.hukou_type),
        Field("residence", choices_type(ResidenceStatus), "居住状态", "residence_status",
              lambda p, env: p.residence_status),
        Field("area", STR, "所在区域", "area_path", lambda p, env: p.area_path, nullable=False),
        Field("lives_alone", BOOL, "独居", lives_alone_sql, lives_alone),
        has_tag,
        tag,
        *extra,
    )  # fmt: skip
    return registry.add_namespace(
        "household",
        household_registry(),
        label="家庭",
        sql_path="household",
        python=lambda p: p.household,
    )
