"""The rule language: syntax, errors, safety, type checking and traces, on the real
person registry (the 20 policies are tested in tests/policies/test_rules_policies.py)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from jiayuan.core.errors import BilingualError
from jiayuan.core.rules import (
    BOOL,
    INT,
    Field,
    Registry,
    RuleError,
    TagFact,
    compile_rule,
    render,
)
from jiayuan.core.rules import nodes as n
from jiayuan.core.rules.parser import parse
from jiayuan.people.rules_fields import HouseholdFacts, PersonFacts
from jiayuan.policies.catalogue import RULES

from .test_rules_people import REGISTRY

D = dt.date(2026, 11, 28)


def error_of(source: str) -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_rule(source, REGISTRY)
    return caught.value


# --- parsing -----------------------------------------------------------------------------
def test_the_examples_of_the_issue_parse_into_the_expected_tree() -> None:
    tree = parse('age >= 80 and hukou.startswith("37")')
    assert isinstance(tree, n.BoolOp) and tree.op == "and"
    left, right = tree.operands
    assert isinstance(left, n.Compare) and left.op == ">="
    assert left.left == n.Name(left.left.span, "age")
    assert isinstance(left.right, n.Literal) and left.right.value == 80
    assert isinstance(right, n.Call) and right.name == "startswith"
    assert isinstance(right.target, n.Name) and right.target.id == "hukou"
    assert [a.value for a in right.args if isinstance(a, n.Literal)] == ["37"]

    tree = parse(
        'has_tag("残疾人") and tag("残疾人").grade in (1, 2) and not household.has_tag("特困")'
    )
    assert isinstance(tree, n.BoolOp) and len(tree.operands) == 3
    member, negated = tree.operands[1], tree.operands[2]
    assert isinstance(member, n.Membership) and not member.negated
    assert isinstance(member.operand, n.Attribute) and member.operand.name == "grade"
    assert [i.value for i in member.items if isinstance(i, n.Literal)] == [1, 2]
    assert isinstance(negated, n.Unary) and negated.op == "not"


def test_precedence_is_pythons_not_then_and_then_or() -> None:
    tree = parse("not a or b and c")
    assert isinstance(tree, n.BoolOp) and tree.op == "or"
    assert isinstance(tree.operands[0], n.Unary)
    assert isinstance(tree.operands[1], n.BoolOp) and tree.operands[1].op == "and"
    grouped = parse("(a or b) and c")
    assert isinstance(grouped, n.BoolOp) and grouped.op == "and"


def test_literals_comments_lists_and_arithmetic() -> None:
    tree = parse(
        """# 看未来五年（look-ahead）
        age + 5 - 1 >= 60.5   # decimal
        and x not in ['a', "b\\"c", '\\u4e2d',]
        and d == date("2026-01-01") and -3 < y and z == null and t != true"""
    )
    assert isinstance(tree, n.BoolOp)
    arith = tree.operands[0]
    assert isinstance(arith, n.Compare) and arith.right == n.Literal(
        arith.right.span, Decimal("60.5")
    )
    assert isinstance(arith.left, n.Binary) and arith.left.op == "-"
    assert isinstance(arith.left.left, n.Binary) and arith.left.left.op == "+"
    member = tree.operands[1]
    assert isinstance(member, n.Membership) and member.negated
    assert [i.value for i in member.items if isinstance(i, n.Literal)] == ["a", 'b"c', "中"]
    negative = tree.operands[3]
    assert isinstance(negative, n.Compare) and negative.left == n.Literal(negative.left.span, -3)


# --- syntax errors -----------------------------------------------------------------------
def test_a_missing_parenthesis_names_the_position_and_the_expected_tokens() -> None:
    err = error_of('(age >= 80 and hukou == "370830"')
    assert isinstance(err, BilingualError) and err.code == "invalid_rule"
    assert err.zh == (
        "第1行第33列：缺少右括号；此处应为以下之一：右括号 ')'、'.'、and、or、'+' 或 '-'，"
        "实际为规则结尾"
    )
    assert err.en == (
        "line 1, column 33: missing ')'; expected one of ')', '.', 'and', 'or', '+' or '-', "
        "found end of rule"
    )
    assert err.detail == {
        "line": 1, "column": 33, "start": 32, "end": 32,
        "expected": ["')'", "'.'", "'and'", "'or'", "'+' or '-'"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("source", "where", "zh", "en"),
    [
        ("age >= ", "第1行第7列", "此处应为以下之一：左括号 '('", "expected one of '('"),
        ("age = 80", "第1行第5列", "比较是否相等请用 ==", "use == to compare"),
        ("60 <= age < 80", "第1行第11列", "比较不能连写", "comparisons cannot be chained"),
        ("age >= 60 && lives_alone", "第1行第11列", "“并且”请用 and", "use 'and'"),
        ('has_tag（"残疾人"）', "第1行第8列", "请使用半角", "use ASCII punctuation"),
        ('hukou.startswith("37)', "第1行第18列", "字符串缺少结束引号", "no closing quote"),
        ("age >= 60 and\n  (lives_alone or", "第2行第18列", "规则结尾", "found end of rule"),
        ("x in (1, 2", "第1行第11列", "缺少右括号", "missing ')'"),
        ("   ", "第1行第1列", "规则为空", "the rule is empty"),
    ],
)
def test_syntax_errors_are_positioned_and_bilingual(
    source: str, where: str, zh: str, en: str
) -> None:
    err = error_of(source)
    assert err.zh.startswith(where), err.zh
    assert zh in err.zh
    assert en in err.en
    assert err.status == 422 and err.field == "rule"


# --- safety ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "zh", "en"),
    [
        ('__import__("os")', "未知的函数 __import__", "unknown function __import__"),
        ('eval("1")', "未知的函数 eval", "unknown function eval"),
        ('open("/etc/passwd")', "未知的函数 open", "unknown function open"),
        ("().__class__", "第1行第2列：此处应为", "expected one of"),
        ('"".__class__', "字符串没有属性 __class__", "a string has no attribute __class__"),
        ("age.__class__ == 1", "整数“age”没有属性 __class__", "has no attribute __class__"),
        ("household.__dict__", "未知的名称 household.__dict__", "unknown name household.__dict__"),
        ('tag("残疾人").__class__', "未知的属性", "unknown attribute"),
        ("os.system", "未知的名称 os", "unknown name os"),
        ("lambda x: 1", "不支持 lambda", "lambdas are not supported"),
        ("hukou[0]", "第1行第6列", "found '['"),
        ('hukou.startswith("37")[0]', "第1行第23列", "found '['"),
        ("{'a': 1}", "第1行第1列", "found character '{'"),
        ('hukou.format("x")', "没有方法 format", "has no method format"),
        ("hukou.startswith(hukou)", "参数必须是常量", "must be constants"),
    ],
)
def test_unsafe_inputs_are_rejected_with_clear_errors(source: str, zh: str, en: str) -> None:
    err = error_of(source)
    assert zh in err.zh, err.zh
    assert en in err.en, err.en


# --- type errors at compile time -----------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "zh", "en"),
    [
        ("hukou == 37", "不能比较字符串“hukou”和整数“37”", "cannot compare a str"),
        ('age == "80"', "不能比较整数“age”和字符串", "cannot compare a int"),
        ('hukou > "37"', "字符串不能比较大小", "a str is not ordered"),
        ('gender < "女"', "枚举值不能比较大小", "is not ordered"),
        ('age.startswith("8")', "startswith 只能用于字符串", "applies to strings only"),
        ('tag("残疾人").grade.startswith("1")', "只能用于字符串", "applies to strings only"),
        ("has_tag(1)", "has_tag 的参数应为枚举值，而不是整数", "must be a"),
        ('has_tag("残疾仁")', "未知的取值 残疾仁；您是否想写：残疾人", "did you mean 残疾人"),
        ("has_tag()", "has_tag 需要 1 个参数，实际 0 个", "takes 1 argument"),
        ('has_tag("残疾人", "肢体")', "需要 1 个参数，实际 2 个", "2 given"),
        ('tag("残疾人").grad > 1', '未知的属性 tag("残疾人").grad；您是否想写：grade', "grade"),
        ('tag("残疾人") == null', "是记录，请读取它的属性", "is a record"),
        ('tag("低保").x', "未知的取值 低保", "unknown value 低保"),
        ("household == null", "household 不是值", "is not a value"),
        ("household.size", "规则的结果必须是条件", "a rule must be a condition"),
        ('hukou_type == "农民"', "未知的取值 农民", "unknown value 农民"),
        ('gender in ("男", "未知")', "未知的取值 未知", "unknown value 未知"),
        ("age + hukou > 1", "“+”只能用于数字，“hukou”是字符串", "applies to numbers only"),
        ("not age", "“age”是整数，这里需要条件", "a condition (true/false) is needed"),
        ("age", "规则的结果必须是条件（真/假），而不是整数", "not a int"),
        ('verify("无劳动能力") == true', "verify(…) 只能作为", "never negated or compared"),
        ('not verify("无劳动能力")', "verify(…) 只能作为", "never negated or compared"),
        ('date("2026-13-01") < birth_date', "日期“2026-13-01”无效", "invalid date"),
        ('age in (1, "2")', "不能比较整数“age”和字符串", "cannot compare"),
        ("age in ()", "in 后的列表不能为空", "the list after in is empty"),
        ("age in (1, age)", "只能包含常量", "constants only"),
        ("age < null", "空值 null 只能用 == 或 != 比较", "null can only be compared"),
        ("houshold.size > 1", "未知的名称 houshold；您是否想写：household", "did you mean"),
        ("agee >= 80", "您是否想写：age", "did you mean age"),
        ("household.sise > 1", "未知的名称 household.sise", "did you mean size"),
        ('household.has_tag("残疾人")', "未知的取值 残疾人", "unknown value"),
        ("lives_alone == True", "请写 true", "write true"),
        ("has_tag", "has_tag 是函数，需要带括号调用", "is a function"),
        ('receives("gaoling")', "您是否想写：gaoling-jintie", "did you mean gaoling-jintie"),
        ("lives_alone in (true)", "真假值请用 == 比较", "compare a bool with =="),
        ("birth_date > 2000", "不能比较日期", "cannot compare a date"),
    ],
)
def test_type_errors_are_found_when_the_rule_is_saved(source: str, zh: str, en: str) -> None:
    err = error_of(source)
    assert zh in err.zh, err.zh
    assert en in err.en, err.en
    assert err.detail is not None and err.detail["line"] == 1


def test_well_typed_rules_compile() -> None:
    for source in [
        'age + 5 >= 60 and tag("残疾人").grade + 0.5 <= 2.5',
        'tag("退役军人").enlisted_on < date("1954-10-31") or birth_date == death_date',
        "lives_alone == deceased or household.size != null",
        'gender == "女" and hukou_type in ["农村"] and residence != "外出"',
        '-age < -60 and "37" == hukou and 1 == 1',
        'area.startswith("370830/") and hukou.endswith("30") and hukou.contains("08")',
        'political_status == "中共党员" or party_member',
    ]:
        compile_rule(source, REGISTRY)


# --- the Python back end and its trace, on plain facts ------------------------------------
def facts(**kw: Any) -> PersonFacts:
    kw.setdefault("birth_date", dt.date(1946, 11, 28))
    return PersonFacts(id=1, **kw)


def test_the_trace_explains_the_outcome_in_chinese() -> None:
    rule = compile_rule('age >= 80 and hukou.startswith("37")', REGISTRY)
    outcome = rule.evaluate(facts(hukou_code="370830"), D)
    assert outcome.matched and outcome.eligible and not outcome.candidate
    assert render(outcome.trace) == "age = 80 ≥ 80 ✓; hukou 370830 以 37 开头 ✓"
    assert outcome.explain() == "age = 80 ≥ 80 ✓; hukou 370830 以 37 开头 ✓ ⇒ 符合"
    day_before = rule.evaluate(facts(hukou_code="370830"), D - dt.timedelta(days=1))
    assert day_before.explain() == "age = 79 ≥ 80 ✗; hukou 370830 以 37 开头 ✓ ⇒ 不符合"
    beijing = rule.evaluate(facts(hukou_code="110105"), D)
    assert beijing.explain().endswith("hukou 110105 以 37 开头 ✗ ⇒ 不符合")


def test_the_trace_is_json_and_renders_after_a_round_trip() -> None:
    household = HouseholdFacts(7, [TagFact("特困")], [(1, None)])
    person = facts(tags=[TagFact("残疾人", {"category": "肢体", "grade": 2})], household=household)
    rule = compile_rule(
        'has_tag("残疾人") and tag("残疾人").grade in (1, 2) and not household.has_tag("特困")',
        REGISTRY,
    )
    outcome = rule.evaluate(person, D)
    stored = json.loads(json.dumps(outcome.to_json(), ensure_ascii=False))
    assert stored["matched"] is False and stored["ref_date"] == "2026-11-28"
    assert render(stored["trace"]) == (
        '持有标签「残疾人」 ✓; tag("残疾人").grade = 2 属于 (1, 2) ✓; 非（家庭持有标签「特困」 ✓）✗'
    )
    leaves = stored["trace"]["children"]
    assert [c["value"] for c in leaves] == [True, True, False]
    assert leaves[1]["children"][0] == {
        "kind": "attr", "src": 'tag("残疾人").grade', "type": "int", "value": 2,
        "label": "标签「残疾人」.grade", "present": True,
    }  # fmt: skip


def test_missing_values_make_comparisons_false_and_their_negation_true() -> None:
    nobody = PersonFacts(id=1, birth_date=None, hukou_code="")
    cases = {
        "age >= 0": False,
        "not age >= 0": True,
        "age != 5": False,
        "age == null": True,
        "age + 1 == null": True,
        'tag("残疾人").grade not in (1, 2)': False,
        'not tag("残疾人").grade in (1, 2)': True,
        "household.size == null": True,
        "not household.size < 3": True,
        'not household.has_tag("低保")': True,
        "lives_alone": False,
        'hukou.startswith("")': True,
    }
    for source, expected in cases.items():
        assert compile_rule(source, REGISTRY).evaluate(nobody, D).matched is expected, source
    trace = compile_rule("age >= 60 or age == null", REGISTRY).evaluate(nobody, D).explain()
    assert trace == "age = 空 ≥ 60 ✗ 或 age = 空 为空 ✓ ⇒ 符合"


def test_verify_items_become_check_items_of_a_candidate() -> None:
    household = HouseholdFacts(7, [TagFact("低收入")], [(1, None)])
    rule = compile_rule(RULES["tekun-gongyang"], REGISTRY)
    assert rule.check_items == [
        "无劳动能力",
        "无生活来源",
        "无法定赡养、抚养、扶养义务人，或其无履行义务能力",
    ]
    outcome = rule.evaluate(facts(household=household), D)
    assert outcome.matched and outcome.candidate and not outcome.eligible
    assert outcome.check_items == rule.check_items
    assert "※ 待上门核实：无劳动能力" in outcome.explain()
    assert outcome.explain().endswith("⇒ 待核实")
    # a rule that fails has no check items
    assert rule.evaluate(facts(household=None), D).check_items == []
    # under "or", the branch needing fewest checks carries the match
    either = compile_rule(
        '(age >= 60 and verify("甲")) or (age >= 80 and verify("乙") and verify("丙"))'
        ' or (age > 100 and has_tag("残疾人"))',
        REGISTRY,
    )
    assert either.evaluate(facts(), D).check_items == ["甲"]
    assert compile_rule('age >= 60 or verify("甲")', REGISTRY).evaluate(facts(), D).eligible


def test_decimals_dates_and_enums_in_python() -> None:
    veteran = facts(
        tags=[TagFact("退役军人", {"kind": "参战", "enlisted_on": "1951-03-01"})],
        hukou_type="rural",
        gender="male",
    )
    checks = {
        'tag("退役军人").enlisted_on < date("1954-10-31")': True,
        'tag("退役军人").kind in ("参战", "带病回乡")': True,
        'hukou_type == "农村" and gender != "女"': True,
        "age + 0.5 > 80": True,
        "age - 0.5 >= 80": False,
        "age == 80.0": True,
        "age in (79.5, 81)": False,
        'birth_date == date("1946-11-28")': True,
    }
    for source, expected in checks.items():
        assert compile_rule(source, REGISTRY).evaluate(veteran, D).matched is expected, source
    # a stored value outside an enum's list is missing: neither == nor != holds
    odd = facts(gender="unknown")
    assert not compile_rule('gender == "男" or gender != "男"', REGISTRY).evaluate(odd, D).matched


# --- the registry API ----------------------------------------------------------------------
def test_registry_refuses_bad_or_duplicate_names() -> None:
    registry = Registry("测试")
    field = Field("x", INT, "x", "x", lambda s, env: 1)
    registry.add(field)
    with pytest.raises(ValueError, match="already registered"):
        registry.add(field)
    for bad in ("and", "date", "verify", "class", "_x", "a-b", "年龄"):
        with pytest.raises(ValueError, match="not a usable rule name"):
            registry.add(Field(bad, BOOL, bad, bad, lambda s, env: True))
    extended = registry.copy().add(Field("y", INT, "y", "y", lambda s, env: 2))
    assert registry.names() == ["x"] and extended.names() == ["x", "y"]
    described = {d["name"]: d for d in REGISTRY.describe()}
    assert described["age"] == {"name": "age", "kind": "field", "type": "int", "label": "年龄"}
    assert described["household"]["kind"] == "namespace"
    assert compile_rule('household.has_tag("低保") and age > 1', REGISTRY).names == [
        "household.has_tag",
        "age",
    ]
