"""The 20 policies Jiayuan ships (../shared/policies.md), with their rules in the rule
language, legal basis, benefit text, materials and dated parameters.

Amounts the catalogue does not know stay unknown: a parameter with no value and a note
("由县级主管部门确定"), never an invented figure. Installed by a data migration and by
``jiayuan policies sync``; an installed policy an administrator has edited keeps its
edits (only missing policies and parameters are added).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

UNKNOWN = "由县级主管部门确定，系统不预设金额"
D = dt.date


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    unit: str
    start: dt.date
    value: Decimal | None = None
    note: str = UNKNOWN


@dataclass(frozen=True)
class PolicySpec:
    code: str
    name: str
    level: str
    legal_basis: str
    article: str
    benefit: str
    rule: str
    office: str
    materials: tuple[str, ...] = ("居民身份证", "户口簿")
    summary: str = ""
    active_from: dt.date | None = None
    parameters: tuple[Param, ...] = field(default=())


CIVIL = "县民政局（社区党群服务中心代办）"
DISABLED = "县残联（社区党群服务中心代办）"
HEALTH = "县卫生健康局（社区卫生服务中心）"
SOCIAL = "县人力资源和社会保障局（社区代办）"
MEDICAL = "县医疗保障局（社区代办）"
VETERANS = "县退役军人事务局（街道退役军人服务站）"
TRANSPORT = "县交通运输局（公交公司服务点）"

CATALOGUE: tuple[PolicySpec, ...] = (
    PolicySpec(
        "gaoling-jintie", "高龄津贴", "province", "山东省老年人权益保障条例", "第三十六条",
        "80周岁以上本省户籍老年人按月发放高龄津贴，分80–89、90–99、100周岁以上三档。",
        'not deceased and age >= 80 and hukou.startswith("37")', CIVIL,
        summary="80周岁以上山东户籍老人",
        parameters=(
            Param("amount_80", "80–89周岁月标准", "元/月", D(2014, 1, 1)),
            Param("amount_90", "90–99周岁月标准", "元/月", D(2014, 1, 1)),
            Param("amount_100", "100周岁以上月标准", "元/月", D(2014, 1, 1)),
        ),
    ),
    PolicySpec(
        "laonian-youdai", "老年人社会优待", "province", "山东省老年人权益保障条例",
        "第四十五条、第四十六条",
        "就医优先，公园、博物馆等免费或优惠；凭居民身份证即可享受，无需办理优待证。",
        "not deceased and age >= 60", CIVIL, materials=("居民身份证",),
        summary="60周岁以上老人（含在本地居住的外地老人）",
    ),
    PolicySpec(
        "laonian-gongjiao", "老年人免费乘坐市内公交", "province", "山东省老年人权益保障条例",
        "第四十六条", "65周岁以上老年人免费乘坐市内公共交通；60–64周岁按当地规定（未纳入匹配）。",
        "not deceased and age >= 65", TRANSPORT, materials=("居民身份证", "一寸照片"),
        summary="65周岁以上老人",
    ),
    PolicySpec(
        "laonian-tijian", "65岁以上老年人免费健康体检", "national", "国家基本公共卫生服务规范",
        "老年人健康管理", "每年一次免费健康体检，建立健康档案。",
        'not deceased and age >= 65 and residence == "常住"', HEALTH,
        materials=("居民身份证",), summary="65周岁以上常住老人",
    ),
    PolicySpec(
        "kunnan-laoren-butie", "经济困难老年人养老服务补贴", "province", "山东省养老服务条例",
        "第三十二条", "为经济困难老年人提供养老服务补贴，标准由县级确定。",
        'not deceased and age >= 60 and (household.has_tag("低保") or household.has_tag("特困")'
        ' or household.has_tag("低收入")) and verify("经济困难（经核实）")',
        CIVIL, materials=("居民身份证", "户口簿", "家庭经济状况证明"),
        summary="60周岁以上低保、特困、低收入家庭老人",
        parameters=(Param("amount", "补贴标准", "元/月", D(2020, 1, 1)),),
    ),
    PolicySpec(
        "tekun-gongyang", "特困人员救助供养", "national", "社会救助暂行办法", "第十四条至第十九条",
        "提供基本生活条件，对生活不能自理的给予照料，提供疾病治疗、办理丧葬事宜；"
        "全额资助参加城乡居民基本医疗保险。",
        'not deceased and (age >= 60 or has_tag("残疾人") or age < 16)'
        ' and household.has_tag("低收入") and not household.has_tag("特困")'
        ' and verify("无劳动能力") and verify("无生活来源")'
        ' and verify("无法定赡养、抚养、扶养义务人，或其无履行义务能力")',
        CIVIL, materials=("居民身份证", "户口簿", "残疾人证（如有）", "家庭经济状况核对授权书"),
        summary="无劳动能力、无生活来源、无赡养人的老年人、残疾人和未成年人",
        parameters=(Param("basic_living", "基本生活标准", "元/月", D(2019, 1, 1)),),
    ),
    PolicySpec(
        "dibao", "最低生活保障", "national", "社会救助暂行办法", "第九条至第十三条",
        "按家庭人均收入低于当地低保标准的差额按月发放；在户籍所在地申请。",
        'not deceased and household.has_tag("低收入") and not household.has_tag("低保")'
        ' and verify("家庭人均收入低于当地低保标准") and verify("家庭财产状况符合规定")',
        CIVIL, materials=("居民身份证", "户口簿", "家庭收入和财产状况证明", "核对授权书"),
        summary="家庭人均收入低于当地低保标准的家庭",
        parameters=(Param("line", "城乡低保标准", "元/人·月", D(2019, 1, 1)),),
    ),
    PolicySpec(
        "canji-shenghuo-butie", "困难残疾人生活补贴", "province", "鲁政发〔2015〕27号",
        "国发〔2015〕52号", "低保家庭中的残疾人按月发放生活补贴，不低于每人每月80元（2016年起）。",
        'not deceased and has_tag("残疾人") and household.has_tag("低保")'
        ' and hukou.startswith("37")',
        DISABLED, materials=("居民身份证", "第二代残疾人证", "低保证"),
        summary="低保家庭中持证残疾人",
        parameters=(
            Param("amount", "补贴标准", "元/月", D(2016, 1, 1), Decimal(80),
                  "2016年起不低于每人每月80元；现行标准由县级确定"),
        ),
    ),
    PolicySpec(
        "zhongdu-canji-huli", "重度残疾人护理补贴", "province", "鲁政发〔2015〕27号",
        "国发〔2015〕52号", "一、二级智力、精神、视力、肢体残疾人按月发放护理补贴，"
        "不低于每人每月80元（2016年起）。",
        'not deceased and tag("残疾人").grade in (1, 2)'
        ' and tag("残疾人").category in ("智力", "精神", "视力", "肢体")'
        ' and not household.has_tag("特困") and not has_tag("工伤护理费")'
        ' and verify("需要长期照护")',
        DISABLED, materials=("居民身份证", "第二代残疾人证"),
        summary="一、二级重度残疾人（智力、精神、视力、肢体）",
        parameters=(
            Param("amount", "补贴标准", "元/月", D(2016, 1, 1), Decimal(80),
                  "2016年起不低于每人每月80元；现行标准由县级确定"),
        ),
    ),
    PolicySpec(
        "canji-jiuyi-jianmian", "残疾人就医费用减免", "province",
        "山东省实施《中华人民共和国残疾人保障法》办法", "第二十二条",
        "在公立医疗机构就医免交挂号费、诊查费。", 'not deceased and has_tag("残疾人")', HEALTH,
        materials=("第二代残疾人证",), summary="持证残疾人",
    ),
    PolicySpec(
        "canji-gongjiao", "残疾人免费乘坐市内公交", "province",
        "山东省实施《中华人民共和国残疾人保障法》办法", "第四十六条",
        "免费乘坐市内公共交通工具，并享受其他出行优待。", 'not deceased and has_tag("残疾人")',
        TRANSPORT, materials=("第二代残疾人证", "一寸照片"), summary="持证残疾人",
    ),
    PolicySpec(
        "canji-daijiao", "残疾人参保代缴", "province",
        "山东省实施《中华人民共和国残疾人保障法》办法", "第四十七条、第四十八条",
        "一、二级重度残疾人由政府代缴城乡居民养老保险费；低保家庭持证残疾人资助参加医疗保险。",
        'not deceased and ((tag("残疾人").grade <= 2 and has_tag("城乡居民养老保险"))'
        ' or (has_tag("残疾人") and household.has_tag("低保")))',
        SOCIAL, materials=("居民身份证", "第二代残疾人证"),
        summary="重度残疾人参加居民养老保险；低保家庭持证残疾人",
        parameters=(Param("premium", "代缴标准", "元/年", D(2017, 1, 1)),),
    ),
    PolicySpec(
        "canji-ertong-kangfu", "残疾儿童康复救助", "province", "鲁政字〔2025〕188号", "第二条",
        "0–6岁机构康复训练每人每年最高20000元，7岁以上15000元，社区和家庭康复5000元，"
        "视力残疾6000元。",
        'not deceased and ((age < 18 and has_tag("残疾人"))'
        ' or (age < 7 and has_tag("残疾诊断"))) and hukou.startswith("37")',
        DISABLED, materials=("居民身份证或户口簿", "残疾人证或医疗机构诊断证明"),
        summary="18岁以下持证残疾儿童、7岁以下经诊断的残疾儿童（山东户籍）",
        active_from=D(2026, 1, 1),
        parameters=(
            Param("centre_0_6", "0–6岁机构康复", "元/年", D(2026, 1, 1), Decimal(20000), ""),
            Param("centre_7", "7岁以上机构康复", "元/年", D(2026, 1, 1), Decimal(15000), ""),
            Param("community", "社区和家庭康复", "元/年", D(2026, 1, 1), Decimal(5000), ""),
            Param("visual", "视力残疾康复", "元/年", D(2026, 1, 1), Decimal(6000), ""),
        ),
    ),
    PolicySpec(
        "jumin-yanglao", "城乡居民基本养老保险待遇", "national", "国发〔2014〕8号", "第六条",
        "按月领取基础养老金加个人账户养老金（个人账户储存额除以139）。",
        'not deceased and age >= 60 and tag("城乡居民养老保险").contribution_years >= 15',
        SOCIAL, materials=("居民身份证", "户口簿"),
        summary="年满60周岁、累计缴费满15年的参保居民",
        parameters=(
            Param("basic_pension", "基础养老金", "元/月", D(2014, 1, 1)),
            Param("account_divisor", "个人账户计发月数", "月", D(2014, 1, 1), Decimal(139), ""),
        ),
    ),
    PolicySpec(
        "yibao-zizhu", "城乡居民医保参保资助", "national", "国办发〔2021〕42号",
        "国办发〔2024〕38号", "特困人员全额资助、低保对象定额资助参加城乡居民医保；"
        "经基本医保、大病保险报销后政策范围内费用按不低于70%救助。",
        'not deceased and (household.has_tag("特困") or household.has_tag("低保"))',
        MEDICAL, materials=("居民身份证", "低保证或特困供养证"),
        summary="特困人员、低保对象",
        parameters=(
            Param("subsidy", "低保对象定额资助", "元/年", D(2021, 1, 1)),
            Param("assist_rate", "救助比例下限", "%", D(2021, 1, 1), Decimal(70), ""),
        ),
    ),
    PolicySpec(
        "jisheng-jiangli", "计划生育家庭奖励扶助", "province", "山东省人口与计划生育条例",
        "第二十六条", "年满60周岁的独生子女父母按年发放奖励扶助金。",
        'not deceased and has_tag("独生子女父母") and age >= 60', HEALTH,
        materials=("居民身份证", "独生子女父母光荣证"), summary="年满60周岁的独生子女父母",
        parameters=(Param("amount", "奖励扶助金", "元/年", D(2016, 1, 1)),),
    ),
    PolicySpec(
        "jisheng-tebie", "计划生育特别扶助", "province", "山东省人口与计划生育条例", "第二十六条",
        "独生子女伤残或死亡家庭按月发放特别扶助金，公办养老机构优先免费供养。",
        'not deceased and household.has_tag("计生特殊家庭")', HEALTH,
        materials=("居民身份证", "户口簿", "独生子女伤残或死亡证明"),
        summary="计划生育特殊家庭",
        parameters=(Param("amount", "特别扶助金", "元/月", D(2016, 1, 1)),),
    ),
    PolicySpec(
        "tuiyi-dingqi-buzhu", "退役军人定期生活补助", "national", "军人抚恤优待条例",
        "第五十二条", "参战、带病回乡退役军人，农村籍年满60周岁退役士兵，"
        "1954年10月31日前入伍的退役军人按月发放定期生活补助。",
        'not deceased and (tag("退役军人").kind in ("参战", "带病回乡")'
        ' or (tag("退役军人").kind == "退役士兵" and hukou_type == "农村" and age >= 60)'
        ' or tag("退役军人").enlisted_on < date("1954-10-31"))',
        VETERANS, materials=("居民身份证", "退役证件"), summary="参战、带病回乡、农村老年退役士兵",
        parameters=(Param("amount", "补助标准", "元/月", D(2024, 10, 1)),),
    ),
    PolicySpec(
        "canji-junren", "残疾军人抚恤及交通优待", "national", "军人抚恤优待条例",
        "第二十七条、第三十一条、第三十三条、第四十四条",
        "按残疾等级发放残疾抚恤金；免费乘坐市内公共交通，长途客运半价。",
        'not deceased and (tag("残疾军人").cause in ("因战", "因公")'
        ' and tag("残疾军人").grade <= 10'
        ' or tag("残疾军人").cause == "因病" and tag("残疾军人").grade <= 6)',
        VETERANS, materials=("居民身份证", "残疾军人证"), summary="持残疾军人证人员",
        parameters=(Param("pension", "残疾抚恤金", "元/年", D(2024, 10, 1)),),
    ),
    PolicySpec(
        "sangzang-mianchu", "免除基本丧葬服务费", "province", "山东省民政厅惠民殡葬政策",
        "基本殡葬服务免费", "60周岁以上特困、低保、重点优抚对象去世后免除遗体接运、暂存、"
        "火化、骨灰寄存等基本殡葬服务费（告知家属）。",
        'deceased and age >= 60 and hukou.startswith("37")'
        ' and (household.has_tag("特困") or household.has_tag("低保")'
        ' or has_tag("重点优抚对象"))',
        "县民政局（殡仪馆）", materials=("死亡证明", "逝者居民身份证", "家属居民身份证"),
        summary="60周岁以上去世的特困、低保、重点优抚对象",
    ),
)  # fmt: skip

RULES: dict[str, str] = {spec.code: spec.rule for spec in CATALOGUE}


def install(apps: Any = None) -> int:
    """Add the missing policies and parameters (keeps administrators' edits); returns
    how many policies were added. ``apps`` is a migration's app registry, if any."""
    if apps is None:
        from django.apps import apps as live

        apps = live
    Policy = apps.get_model("policies", "Policy")
    RuleVersion = apps.get_model("policies", "RuleVersion")
    Parameter = apps.get_model("policies", "Parameter")
    added = 0
    for spec in CATALOGUE:
        policy, created = Policy.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name, "summary": spec.summary, "level": spec.level,
                "legal_basis": spec.legal_basis, "article": spec.article,
                "benefit": spec.benefit, "materials": list(spec.materials),
                "office": spec.office, "active_from": spec.active_from, "rule": spec.rule,
            },
        )  # fmt: skip
        if created:
            added += 1
            RuleVersion.objects.create(policy=policy, version=1, rule=spec.rule)
        for p in spec.parameters:
            Parameter.objects.get_or_create(
                policy=policy, name=p.name, start=p.start,
                defaults={"label": p.label, "unit": p.unit, "value": p.value, "note": p.note},
            )  # fmt: skip
    return added
