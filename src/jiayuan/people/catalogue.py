"""The tag catalogue (标签目录) every county starts with, and the rules of computed tags.

Codes are the Chinese names the policy rules use (see shared/policies.md). A tag with a
``rule`` is computed (:mod:`jiayuan.people.tagging`): nobody hands it out, a nightly job
and every change to a resident or a household keep it true. The others are given by hand
or imported from the departments that certify them (残联, 退役军人事务局, 民政).

Installed by the data migration ``people 0002`` so that a real county has the catalogue
without the demo; the demo plans its tag holders from the same tuple. ``install`` keeps
what administrators changed: it adds missing tags and fills a rule only where the
installed tag has none.

Not computed, and why:

* 留守儿童 (父母双方外出务工): the registry knows a household's size and tags, not
  who in it is a child's parent nor where a parent works, so the rule cannot be
  written; the tag stays manual (网格员 after a home visit).
* 独生子女 / 独生子女父母: follow a certificate (《独生子女父母光荣证》), not the
  household's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .choices import TagScope

#: 60+ and alive on the reference date: the base of the elderly living-situation tags.
ELDERLY = "age >= 60 and not deceased"


@dataclass(frozen=True)
class CatalogueTag:
    """One catalogue entry; ``rule`` (rule language) makes the tag computed."""

    code: str
    name: str
    category: str
    scope: str = TagScope.PERSON
    attributes: tuple[str, ...] = ()
    description: str = ""
    rule: str = ""


TAG_CATALOGUE: tuple[CatalogueTag, ...] = (
    CatalogueTag("残疾人", "残疾人", "特殊人群", attributes=("category", "grade"),
                 description="持有第二代残疾人证；category：视力/听力/言语/肢体/智力/精神/多重；"
                             "grade：1–4级"),
    CatalogueTag("残疾诊断", "残疾诊断", "特殊人群", attributes=("diagnosed_on",),
                 description="经医疗机构诊断为残疾但尚未办证（多为学龄前儿童）"),
    CatalogueTag("失能老人", "失能老人", "特殊人群", attributes=("level",),
                 description="经评估失能的老年人；level：轻度/中度/重度"),
    CatalogueTag("独居老人", "独居老人", "特殊人群",
                 description="60周岁以上、户内没有其他在世成员的老年人；由规则计算",
                 rule=f"{ELDERLY} and lives_alone"),
    CatalogueTag("空巢老人", "空巢老人", "特殊人群",
                 description="60周岁以上、与其同户的在世成员均已满60周岁的老年人（不含独居）；"
                             "由规则计算",
                 rule=f"{ELDERLY} and household.size >= 2 and household.members_under(60) == 0"),
    CatalogueTag("高龄老人", "高龄老人", "特殊人群",
                 description="80周岁以上老年人；由规则按出生日期计算，不手工标注",
                 rule="age >= 80 and not deceased"),
    CatalogueTag("留守儿童", "留守儿童", "特殊人群",
                 description="父母双方外出务工、由祖辈照料的16岁以下儿童；人工标注"
                             "（规则无从得知父母外出务工）"),
    CatalogueTag("孤儿", "孤儿", "特殊人群", description="父母均已死亡或宣告失踪的未满18周岁儿童"),
    CatalogueTag("事实无人抚养儿童", "事实无人抚养儿童", "特殊人群",
                 description="父母无力履行抚养义务的未满18周岁儿童"),
    CatalogueTag("退役军人", "退役军人", "优抚对象", attributes=("kind", "enlisted_on"),
                 description="kind：参战/带病回乡/退役士兵/其他；enlisted_on：入伍日期"),
    CatalogueTag("残疾军人", "残疾军人", "优抚对象", attributes=("cause", "grade"),
                 description="持有残疾军人证；cause：因战/因公/因病；grade：1–10级（因病1–6级）"),
    CatalogueTag("重点优抚对象", "重点优抚对象", "优抚对象",
                 description="享受定期抚恤补助的优抚对象"),
    CatalogueTag("烈士遗属", "烈士遗属", "优抚对象", description="烈士的父母、配偶、子女"),
    CatalogueTag("独生子女父母", "独生子女父母", "计划生育",
                 description="持有《独生子女父母光荣证》"),
    CatalogueTag("独生子女", "独生子女", "计划生育",
                 description="领取《独生子女父母光荣证》家庭的子女"),
    CatalogueTag("城乡居民养老保险", "城乡居民养老保险", "社会保障",
                 attributes=("contribution_years",),
                 description="参加城乡居民基本养老保险；contribution_years：累计缴费年限"),
    CatalogueTag("工伤护理费", "工伤护理费", "社会保障", description="领取工伤保险生活护理费"),
    CatalogueTag("在职党员", "在职党员", "党员", attributes=("organisation",),
                 description="到居住地社区报到服务的在职党员；organisation：工作单位"),
    CatalogueTag("低保", "低保", "社会救助", scope=TagScope.HOUSEHOLD,
                 description="享受最低生活保障的家庭"),
    CatalogueTag("特困", "特困", "社会救助", scope=TagScope.HOUSEHOLD,
                 description="特困人员救助供养家庭"),
    CatalogueTag("低收入", "低收入", "社会救助", scope=TagScope.HOUSEHOLD,
                 description="低收入家庭（动态监测的筛查信号）"),
    CatalogueTag("计生特殊家庭", "计划生育特殊家庭", "计划生育", scope=TagScope.HOUSEHOLD,
                 description="独生子女伤残（三级以上）或死亡、未再生育或收养的家庭"),
)  # fmt: skip

#: Codes of the computed tags.
RULE_TAGS = frozenset(t.code for t in TAG_CATALOGUE if t.rule)


def install(apps: Any = None) -> int:
    """Add missing catalogue tags, and the rule of a computed tag whose installed row has
    none (a county seeded before tags were computed); returns how many rows changed.
    ``apps`` is a migration's app registry, if any. Catalogue rows belong to no area and
    are written by the system, like the policies catalogue."""
    if apps is None:
        from django.apps import apps as live

        apps = live
    Tag = apps.get_model("people", "Tag")
    changed = 0
    for spec in TAG_CATALOGUE:
        tag, created = Tag.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name, "category": spec.category, "scope": spec.scope,
                "attributes": list(spec.attributes), "description": spec.description,
                "rule": spec.rule, "rule_version": 1 if spec.rule else 0,
            },
        )  # fmt: skip
        if created:
            changed += 1
        elif spec.rule and not tag.rule:
            # an UPDATE: the same in a migration (historical model) as live
            Tag.objects.filter(pk=tag.pk).update(rule=spec.rule, rule_version=tag.rule_version + 1)
            changed += 1
    return changed
