"""Who holds which tag in the demo county, with the prevalences of a real county:
disability, veterans, assistance. The catalogue itself is the county's
(:mod:`jiayuan.people.catalogue`); computed tags (高龄老人, 独居老人, 空巢老人) are left to
their rules, run over the written world by the seed."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from jiayuan.people.catalogue import RULE_TAGS
from jiayuan.people.catalogue import TAG_CATALOGUE as CATALOGUE
from jiayuan.people.choices import Gender, HukouType, Relation, TagScope, TagSource

from . import names
from .records import AS_OF, TagAssignmentSpec, TagSpec, rng_for, weighted

if TYPE_CHECKING:
    from .plan import Planner

# --- tag catalogue -----------------------------------------------------------------------
# The county's catalogue (jiayuan.people.catalogue, installed by a migration): the demo
# plans who holds each tag, and leaves the computed ones to their rules.
TAG_CATALOGUE: tuple[TagSpec, ...] = tuple(
    TagSpec(t.code, t.name, t.category, t.scope, t.attributes, t.description) for t in CATALOGUE
)

# Tags that follow from age or household shape: never handed out at random. The rule
# tags are computed by ``recompute_tags`` once the world is written (see seed.py); the
# others follow the planned household (left-behind children, one-child families).
DERIVED_TAGS = RULE_TAGS | {"留守儿童", "独生子女"}

FALLBACK_AGES: dict[str, tuple[int, int]] = {
    "残疾诊断": (0, 6),
    "失能老人": (70, 95),
    "留守儿童": (3, 15),
    "孤儿": (3, 17),
    "事实无人抚养儿童": (3, 17),
    "独生子女": (5, 30),
    "独生子女父母": (35, 70),
    "城乡居民养老保险": (45, 70),
    "烈士遗属": (55, 85),
    "在职党员": (25, 55),
}


def plan_tags(pl: Planner) -> None:
    """Hand out the catalogue's tags with a county's prevalences, and the living-situation
    tags exactly where the household shape says so."""
    w = pl.world
    w.tags = list(TAG_CATALOGUE)
    rng = rng_for(pl.seed, "tags")
    persons = w.persons
    tagged: dict[int, set[str]] = {}

    def tag(i: int, code: str, attrs: dict[str, Any] | None = None, *,
            source: str = TagSource.MANUAL, since: dt.date | None = None,
            evidence: dict[str, Any] | None = None) -> None:  # fmt: skip
        if code in tagged.setdefault(i, set()):
            return
        tagged[i].add(code)
        valid_from = since or AS_OF - dt.timedelta(days=rng.randint(30, 3650))
        w.person_tags.append(
            TagAssignmentSpec(i, code, attrs or {}, max(valid_from, persons[i].birth_date),
                              source, evidence or {})
        )  # fmt: skip

    def htag(h: int, code: str, source: str = TagSource.IMPORT) -> None:
        valid_from = AS_OF - dt.timedelta(days=rng.randint(30, 2000))
        evidence = {"来源": "县民政局社会救助系统"} if source == TagSource.IMPORT else {}
        w.household_tags.append(TagAssignmentSpec(h, code, {}, valid_from, source, evidence))

    categories = (("肢体", 45), ("视力", 14), ("听力", 16), ("言语", 1), ("智力", 7),
                  ("精神", 10), ("多重", 7))  # fmt: skip
    grades = ((1, 10), (2, 20), (3, 30), (4, 40))

    def disabled(i: int) -> None:
        attrs = {"category": weighted(rng, categories), "grade": weighted(rng, grades)}
        if rng.random() < 0.6:
            tag(
                i,
                "残疾人",
                attrs,
                source=TagSource.IMPORT,
                evidence={"来源": "县残联残疾人证数据"},
            )
        else:
            tag(i, "残疾人", attrs)

    def veteran(i: int) -> None:
        p = persons[i]
        if p.birth_date.year < 1963 and rng.random() < 0.15:
            kind = "参战"
        else:
            kind = weighted(rng, (("退役士兵", 80), ("带病回乡", 5), ("其他", 12)))
        enlisted = p.birth_date + dt.timedelta(days=int(365.25 * rng.randint(18, 20)))
        tag(i, "退役军人", {"kind": kind, "enlisted_on": enlisted.isoformat()},
            source=TagSource.IMPORT, since=enlisted + dt.timedelta(days=365 * 3),
            evidence={"来源": "县退役军人事务局"})  # fmt: skip
        if kind in ("参战", "带病回乡") or rng.random() < 0.04:
            if rng.random() < 0.5 or kind == "其他":
                cause = "因战" if kind == "参战" else rng.choice(("因公", "因病"))
                grade = rng.randint(1, 6) if cause == "因病" else rng.randint(4, 10)
                tag(i, "残疾军人", {"cause": cause, "grade": grade})
            tag(i, "重点优抚对象")

    for hh_index, hh in enumerate(w.households):
        alive = [i for i in hh.members if persons[i].alive]
        ages = {i: persons[i].age() for i in hh.members}
        elderly = [i for i in alive if ages[i] >= 60]
        for i in hh.members:
            p = persons[i]
            age = ages[i]
            # disability certificates: more common with age
            share = 0.015 if age < 18 else 0.05 if age < 60 else 0.12 if age < 80 else 0.22
            if rng.random() < share:
                disabled(i)
            if age < 7 and rng.random() < 0.006:
                tag(
                    i,
                    "残疾诊断",
                    {"diagnosed_on": (AS_OF - dt.timedelta(days=rng.randint(30, 700))).isoformat()},
                )
            if age >= 20 and rng.random() < (0.04 if p.gender == Gender.MALE else 0.0015):
                veteran(i)
            if age >= 60 and p.alive and rng.random() < (0.025 if age < 80 else 0.12):
                tag(i, "失能老人", {"level": rng.choice(("轻度", "中度", "重度"))})
            if age >= 45 and rng.random() < (0.7 if p.hukou_type == HukouType.RURAL else 0.15):
                years = max(1, min(age - 16, rng.randint(3, 25)))
                tag(i, "城乡居民养老保险", {"contribution_years": years}, source=TagSource.IMPORT,
                    evidence={"来源": "县社保中心"})  # fmt: skip
            if 18 <= age < 65 and rng.random() < 0.0008:
                tag(i, "工伤护理费", source=TagSource.IMPORT)
            if age >= 50 and rng.random() < 0.0004:
                tag(i, "烈士遗属")
                tag(i, "重点优抚对象")
        # household shapes decide the left-behind children, consistently (独居老人 and
        # 空巢老人 are computed by their rules from the written world)
        if hh.kind == "left_behind":
            for i in alive:
                if ages[i] < 16 and persons[i].relation == Relation.OTHER:
                    tag(i, "留守儿童")
                    if rng.random() < 0.03:
                        tag(i, "事实无人抚养儿童")
                    elif rng.random() < 0.005:
                        tag(i, "孤儿")
        if hh.kind == "one_child" and rng.random() < 0.55:
            if 1955 <= persons[hh.members[0]].birth_date.year <= 1990:
                for i in hh.members:
                    tag(
                        i,
                        "独生子女" if persons[i].relation == Relation.CHILD else "独生子女父母",
                    )
        # household assistance tags
        any_disabled = any("残疾人" in tagged.get(i, ()) for i in hh.members)
        p_dibao = (
            0.012 + (0.08 if any_disabled else 0) + (0.03 if elderly == alive and alive else 0)
        )
        dibao = rng.random() < p_dibao
        tekun = len(alive) == 1 and elderly == alive and rng.random() < 0.05
        if dibao:
            htag(hh_index, "低保")
        if tekun:
            htag(hh_index, "特困")
        if (dibao and rng.random() < 0.7) or rng.random() < 0.025:
            htag(hh_index, "低收入", TagSource.MANUAL)
        if hh.kind == "elder_couple" and 1945 <= persons[hh.members[0]].birth_date.year <= 1966:
            if rng.random() < 0.03:
                htag(hh_index, "计生特殊家庭", TagSource.MANUAL)
                for i in hh.members:
                    tag(i, "独生子女父母")
    for i in pl.in_service:
        org = next(f.organisation for f in w.forces if f.person == i)
        tag(i, "在职党员", {"organisation": org})

    # a small world still shows a few of every tag
    present = {t.tag for t in w.person_tags} | {t.tag for t in w.household_tags}
    for spec in w.tags:
        if spec.code in present or spec.code in DERIVED_TAGS:
            continue
        if spec.scope == TagScope.HOUSEHOLD:
            h = rng.randrange(len(w.households))
            htag(h, spec.code, TagSource.MANUAL)
            continue
        wanted = FALLBACK_AGES.get(spec.code, (18, 90))
        candidates = [
            i for i, p in enumerate(persons) if wanted[0] <= p.age() <= wanted[1] and p.alive
        ]
        i = rng.choice(candidates)
        if spec.code == "残疾人":
            disabled(i)
        elif spec.code == "退役军人":
            veteran(i)
        else:
            defaults: dict[str, dict[str, Any]] = {
                "残疾诊断": {"diagnosed_on": (AS_OF - dt.timedelta(days=200)).isoformat()},
                "失能老人": {"level": "中度"},
                "残疾军人": {"cause": "因公", "grade": 8},
                "城乡居民养老保险": {"contribution_years": 15},
                "在职党员": {"organisation": names.WORKPLACES[0]},
            }
            tag(i, spec.code, defaults.get(spec.code, {}))
