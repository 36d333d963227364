"""The OpenFisca peer of the policy matching benchmark: three of Jiayuan's policies
written as an OpenFisca tax-benefit system and computed over the same population.

OpenFisca (openfisca-core, installed for the benchmark only: ``pip install -e
'.[bench]'``) is the anchor issue 4 names: vectorised formulas over the whole
population. To compare like with like this module builds the smallest system that
can say what Jiayuan's rules say:

* entities ``person`` and ``household`` (one role, ``member``);
* input variables, one value per person (or household) for the reference day: birth
  and death dates, the hukou division code, and the tags the three rules read, each
  as booleans or integers (a tag counts when it is valid on the day, the same
  validity the rule language applies; the loader selects the rows valid on the day,
  as an OpenFisca input is a value *for a period*);
* formulas in numpy: ``age`` from the birth date on the period (for the dead, on the
  date of death: the rule language's formula), ``deceased``, ``shandong_hukou``,
  the household tag ``tekun`` seen from the person through the household
  projection, and the three eligibility variables:

  - ``gaoling_jintie``: not deceased and age ≥ 80 and hukou starts with 37;
  - ``laonian_gongjiao``: not deceased and age ≥ 65;
  - ``zhongdu_canji_huli``: not deceased, 残疾人 grade 1–2 of category
    智力/精神/视力/肢体, household not 特困, no 工伤护理费 (Jiayuan's
    ``verify("需要长期照护")`` is a check item at the door, true for matching);

  each also false when the person already receives that benefit on the day
  (``policies_receivedbenefit``), as Jiayuan's matching excludes receivers.

:func:`load` reads the population from PostgreSQL with psycopg (timed apart from the
computation by the caller), :func:`compute` builds the simulation and calculates the
three variables. Nothing here imports Django: the peer sees only the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

POLICIES = ("gaoling-jintie", "laonian-gongjiao", "zhongdu-canji-huli")
CARE_CATEGORIES = ("智力", "精神", "视力", "肢体")
NO_DATE = np.datetime64("9999-12-31", "D")  # OpenFisca dates cannot be missing


@dataclass
class Population:
    """The arrays OpenFisca is fed, one entry per person or per household."""

    person_ids: np.ndarray
    household_ids: np.ndarray  # sorted
    person_household: np.ndarray  # household id of each person
    birth_date: np.ndarray  # datetime64[D]; NO_DATE when unknown
    death_date: np.ndarray  # datetime64[D]; NO_DATE when alive
    hukou: np.ndarray  # str
    disability_grade: np.ndarray  # int, 0 without a valid 残疾人 tag
    disability_care_category: np.ndarray  # bool: category among CARE_CATEGORIES
    work_injury_care: np.ndarray  # bool: 工伤护理费
    household_tekun: np.ndarray  # bool per household: 特困
    receives: dict[str, np.ndarray] = field(default_factory=dict)  # policy code → bool

    @property
    def persons(self) -> int:
        return len(self.person_ids)


def _valid(alias: str) -> str:
    return (
        f"({alias}.valid_from IS NULL OR {alias}.valid_from <= %(day)s) AND "
        f"({alias}.valid_until IS NULL OR {alias}.valid_until > %(day)s)"
    )


def load(conn: Any, day: dt.date) -> Population:
    """Read the population from the Jiayuan database (psycopg connection ``conn``)."""
    cur = conn.cursor()
    cur.execute(
        "SELECT id, household_id, "
        "COALESCE(birth_date - DATE '1970-01-01', 2932896), "
        "COALESCE(death_date - DATE '1970-01-01', 2932896), hukou_code "
        "FROM people_person ORDER BY id"
    )
    rows = cur.fetchall()
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    raw_household = np.fromiter(
        (-1 if r[1] is None else r[1] for r in rows), dtype=np.int64, count=n
    )
    birth = np.fromiter((r[2] for r in rows), dtype=np.int64, count=n).astype("datetime64[D]")
    death = np.fromiter((r[3] for r in rows), dtype=np.int64, count=n).astype("datetime64[D]")
    hukou = np.array([r[4] for r in rows], dtype="U6")
    del rows
    # a person with no household gets one of their own (negative id), no tags
    alone = raw_household < 0
    raw_household[alone] = -ids[alone]
    household_ids = np.unique(raw_household)

    def person_index(person_id: np.ndarray) -> np.ndarray:
        return np.searchsorted(ids, person_id)

    params = {"day": day}
    cur.execute(
        "SELECT pt.person_id, COALESCE((pt.attributes ->> 'grade')::int, 0), "
        "pt.attributes ->> 'category' "
        "FROM people_persontag pt JOIN people_tag t ON t.id = pt.tag_id "
        f"WHERE t.code = '残疾人' AND {_valid('pt')}",
        params,
    )
    disabled = cur.fetchall()
    grade = np.zeros(n, dtype=np.int32)
    care = np.zeros(n, dtype=bool)
    if disabled:
        at = person_index(np.array([r[0] for r in disabled], dtype=np.int64))
        grade[at] = [r[1] for r in disabled]
        care[at] = [r[2] in CARE_CATEGORIES for r in disabled]

    def person_flags(code: str) -> np.ndarray:
        cur.execute(
            "SELECT pt.person_id FROM people_persontag pt JOIN people_tag t ON t.id = pt.tag_id "
            f"WHERE t.code = %(code)s AND {_valid('pt')}",
            {**params, "code": code},
        )
        flags = np.zeros(n, dtype=bool)
        found = np.array([r[0] for r in cur.fetchall()], dtype=np.int64)
        flags[person_index(found)] = True
        return flags

    cur.execute(
        "SELECT ht.household_id FROM people_householdtag ht JOIN people_tag t "
        f"ON t.id = ht.tag_id WHERE t.code = '特困' AND {_valid('ht')}",
        params,
    )
    tekun = np.zeros(len(household_ids), dtype=bool)
    found = np.array([r[0] for r in cur.fetchall()], dtype=np.int64)
    tekun[np.searchsorted(household_ids, found)] = True

    receives = {}
    for code in POLICIES:
        cur.execute(
            "SELECT DISTINCT rb.person_id FROM policies_receivedbenefit rb "
            "JOIN policies_policy p ON p.id = rb.policy_id WHERE p.code = %(code)s AND "
            "(rb.since IS NULL OR rb.since <= %(day)s) AND "
            "(rb.until IS NULL OR rb.until > %(day)s)",
            {**params, "code": code},
        )
        flags = np.zeros(n, dtype=bool)
        flags[person_index(np.array([r[0] for r in cur.fetchall()], dtype=np.int64))] = True
        receives[code] = flags
    return Population(
        ids, household_ids, raw_household, birth, death, hukou, grade, care,
        person_flags("工伤护理费"), tekun, receives,
    )  # fmt: skip


def tax_benefit_system() -> Any:
    """The minimal OpenFisca system: two entities, the inputs and the three formulas."""
    from openfisca_core import periods
    from openfisca_core.entities import build_entity
    from openfisca_core.taxbenefitsystems import TaxBenefitSystem
    from openfisca_core.variables import Variable

    household = build_entity(
        key="household",
        plural="households",
        label="家庭",
        roles=[{"key": "member", "plural": "members", "label": "成员"}],
    )
    person = build_entity(key="person", plural="persons", label="居民", is_person=True)
    DAY = periods.DAY

    def var(name: str, entity: Any, value_type: type, **extra: Any) -> type:
        attrs = {"value_type": value_type, "entity": entity, "definition_period": DAY, **extra}
        return type(name, (Variable,), attrs)

    def ymd(day: np.ndarray) -> np.ndarray:
        years = day.astype("datetime64[Y]").astype(np.int64) + 1970
        months = day.astype("datetime64[M]").astype(np.int64) % 12 + 1
        days = (day - day.astype("datetime64[M]")).astype(np.int64) + 1
        return years * 10000 + months * 100 + days

    def age(person: Any, period: Any) -> np.ndarray:
        birth = person("birth_date", period)
        death = person("death_date", period)
        on = np.datetime64(period.start.date, "D")
        until = np.minimum(death, on)  # the dead: age on the date of death
        known = birth <= until
        return np.where(known, (ymd(until) - ymd(np.minimum(birth, until))) // 10000, -1)

    def deceased(person: Any, period: Any) -> np.ndarray:
        return person("death_date", period) <= np.datetime64(period.start.date, "D")

    def shandong_hukou(person: Any, period: Any) -> np.ndarray:
        return np.char.startswith(person("hukou", period).astype("U6"), "37")

    def household_tekun(person: Any, period: Any) -> np.ndarray:
        return person.household("tekun", period)

    def gaoling_jintie(person: Any, period: Any) -> np.ndarray:
        return (
            ~person("deceased", period)
            * (person("age", period) >= 80)
            * person("shandong_hukou", period)
            * ~person("receives_gaoling_jintie", period)
        )

    def laonian_gongjiao(person: Any, period: Any) -> np.ndarray:
        return (
            ~person("deceased", period)
            * (person("age", period) >= 65)
            * ~person("receives_laonian_gongjiao", period)
        )

    def zhongdu_canji_huli(person: Any, period: Any) -> np.ndarray:
        grade = person("disability_grade", period)
        return (
            ~person("deceased", period)
            * ((grade == 1) + (grade == 2))
            * person("disability_care_category", period)
            * ~person("household_tekun", period)
            * ~person("work_injury_care", period)
            * ~person("receives_zhongdu_canji_huli", period)
        )

    system = TaxBenefitSystem([person, household])
    unknown = dt.date(9999, 12, 31)
    system.add_variables(
        var("birth_date", person, dt.date, default_value=unknown, label="出生日期"),
        var("death_date", person, dt.date, default_value=unknown, label="死亡日期"),
        var("hukou", person, str, max_length=6, label="户籍地区划代码"),
        var("disability_grade", person, int, label="残疾等级（0：无残疾人证）"),
        var("disability_care_category", person, bool, label="残疾类别为智力/精神/视力/肢体"),
        var("work_injury_care", person, bool, label="领取工伤护理费"),
        var("tekun", household, bool, label="特困家庭"),
        *(var(f"receives_{c.replace('-', '_')}", person, bool) for c in POLICIES),
        var("age", person, int, formula=age, label="年龄"),
        var("deceased", person, bool, formula=deceased, label="已故"),
        var("shandong_hukou", person, bool, formula=shandong_hukou, label="山东户籍"),
        var("household_tekun", person, bool, formula=household_tekun, label="家庭特困"),
        var("gaoling_jintie", person, bool, formula=gaoling_jintie, label="高龄津贴"),
        var("laonian_gongjiao", person, bool, formula=laonian_gongjiao, label="老年人免费公交"),
        var("zhongdu_canji_huli", person, bool, formula=zhongdu_canji_huli,
            label="重度残疾人护理补贴"),
    )  # fmt: skip
    return system


def simulation(system: Any, pop: Population, day: dt.date) -> Any:
    """A simulation of ``pop`` with its inputs set for the day ``day``."""
    from openfisca_core import periods
    from openfisca_core.simulations import SimulationBuilder

    builder = SimulationBuilder()
    builder.create_entities(system)
    builder.declare_person_entity("person", pop.person_ids)
    households = builder.declare_entity("household", pop.household_ids)
    builder.join_with_persons(
        households, pop.person_household, np.zeros(pop.persons, dtype=np.int64)
    )
    sim = builder.build(system)
    period = periods.period(day.isoformat())
    sim.set_input("birth_date", period, pop.birth_date)
    sim.set_input("death_date", period, pop.death_date)
    sim.set_input("hukou", period, pop.hukou)
    sim.set_input("disability_grade", period, pop.disability_grade)
    sim.set_input("disability_care_category", period, pop.disability_care_category)
    sim.set_input("work_injury_care", period, pop.work_injury_care)
    sim.set_input("tekun", period, pop.household_tekun)
    for code, flags in pop.receives.items():
        sim.set_input(f"receives_{code.replace('-', '_')}", period, flags)
    return sim


def compute(pop: Population, day: dt.date, system: Any = None) -> dict[str, int]:
    """Build the simulation and calculate the three policies: eligible persons each."""
    from openfisca_core import periods

    sim = simulation(system or tax_benefit_system(), pop, day)
    period = periods.period(day.isoformat())
    return {code: int(sim.calculate(code.replace("-", "_"), period).sum()) for code in POLICIES}
