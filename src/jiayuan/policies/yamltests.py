"""Policy tests in YAML (政策测试用例), OpenFisca-style: ``jiayuan policies test PATH...``.

A file holds a list of cases. Each describes one person on one date and says what the
matching run must conclude for one shipped policy::

    - name: 刚满80周岁的本省户籍老人享受高龄津贴
      policy: gaoling-jintie
      date: 2026-11-28
      person:
        birth_date: 1946-11-28
        gender: female            # or 女 / 男 / male
        hukou: "370830"
        hukou_type: 农村           # 城镇 / 农村
        residence: 常住            # 常住 / 流动 / 外出
        deceased: 2026-03-01      # date of death, if any
        tags:
          - 独生子女父母
          - {code: 残疾人, category: 肢体, grade: 2}
          - {code: 退役军人, kind: 参战, valid_until: 2030-01-01}
        benefits:
          - {policy: gaoling-jintie, since: 2024-01-01}
      household:
        size: 1
        tags: [低保]
      expect: eligible          # eligible / candidate / not_eligible

The case is turned into the same :class:`~jiayuan.people.rules_fields.PersonFacts` the
Python back end reads for a resident, and :func:`jiayuan.policies.matching.classify`
answers, so the test exercises the rule as stored in the database (administrators'
edits included), not a copy; a policy not in force on the case's date (before its
``active_from``, after its ``active_until``, disabled) matches nobody, as in a run.
What a case leaves out takes the ordinary default: alive, no tags, no benefits, a
household of one, 常住, the county's hukou (370830). ``household: null`` means the
person belongs to no household. Tags may carry ``valid_from``/``valid_until`` besides
their attributes; enum values are written as in rules (农村, 常住, 女) or as stored.

Anything the file gets wrong (an unknown key, tag code, attribute or policy, a bad
date, an enum value outside its list) is reported as a failed case naming the file,
the case and the field — a typo must not pass silently or crash the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Protocol

import yaml

from jiayuan.core.rules import EnumType, Rule, RuleType, TagFact
from jiayuan.core.rules.types import BOOL, DATE, DECIMAL, INT, STR
from jiayuan.people.choices import Gender, HukouType, PoliticalStatus, ResidenceStatus
from jiayuan.people.rules_fields import (
    ATTRIBUTE_TYPES,
    HOUSEHOLD_TAGS,
    PERSON_TAGS,
    Benefit,
    HouseholdFacts,
    PersonFacts,
)

from .matching import CANDIDATE, ELIGIBLE, NOT_ELIGIBLE, classify
from .models import Policy
from .registry import compile_policy_rule

SHIPPED = Path(__file__).resolve().with_name("tests")
EXPECTATIONS = (ELIGIBLE, CANDIDATE, NOT_ELIGIBLE)
CASE_KEYS = ("name", "policy", "date", "person", "household", "expect")
PERSON_KEYS = (
    "birth_date", "gender", "hukou", "hukou_type", "residence", "political_status",
    "deceased", "tags", "benefits",
)  # fmt: skip
HOUSEHOLD_KEYS = ("size", "tags")
TAG_RESERVED = ("code", "valid_from", "valid_until")
BENEFIT_KEYS = ("policy", "since", "until")
PERSON_ID = 1


class CaseLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that dates stay text: PyYAML turns ``2026-02-30``
    into an exception for the whole file, and :func:`date` should name the field."""


CaseLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class Writer(Protocol):
    def write(self, msg: str, /) -> Any: ...


class CaseError(Exception):
    """What is wrong with a case, and where: ``field`` is a dotted path in the case
    (``person.tags[0].grade``)."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}: {zh} / {en}")
        self.field = field
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class Case:
    """One YAML case, checked and turned into facts."""

    file: str
    index: int
    name: str
    policy: str
    date: dt.date
    facts: PersonFacts
    expect: str


@dataclass(frozen=True)
class Result:
    """The outcome of one case: ``passed``, and one line of report when it did not."""

    file: str
    name: str
    passed: bool
    line: str = ""


# --- running ------------------------------------------------------------------------------
def run_paths(paths: Iterable[str | Path], out: Writer) -> tuple[int, int]:
    """Run every case of the given files (directories: every ``*.yaml`` below them);
    write one line per failure, then ``N passed, M failed``. Returns (passed, failed)."""
    passed = failed = 0
    for result in run(paths):
        if result.passed:
            passed += 1
        else:
            failed += 1
            out.write(result.line + "\n")
    out.write(f"{passed} passed, {failed} failed\n")
    return passed, failed


def run(paths: Iterable[str | Path]) -> Iterator[Result]:
    policies = {p.code: p for p in Policy.objects.all()}
    rules: dict[str, Rule] = {}
    for path in yaml_files(paths):
        if isinstance(path, CaseError):
            yield Result(path.field, "", False, f"{path.field}: {path.zh} / {path.en}")
            continue
        for item in load_file(path, set(policies)):
            if isinstance(item, Result):
                yield item
                continue
            policy = policies[item.policy]
            if item.policy not in rules:
                rules[item.policy] = compile_policy_rule(policy.rule)
            yield check_case(item, policy, rules[item.policy])


def check_case(case: Case, policy: Policy, rule: Rule) -> Result:
    """Classify the case's person as a matching run on the case's date would, and
    compare with ``expect``. A policy not in force that day matches nobody."""
    got, outcome = classify(case.policy, case.facts, case.date, rule)
    in_force = policy.active_on(case.date)
    if not in_force:
        got = NOT_ELIGIBLE
    if got == case.expect:
        return Result(case.file, case.name, True)
    line = (
        f"{case.file}: #{case.index} {case.name}: 预期 {case.expect}，实际 {got} / "
        f"expected {case.expect}, got {got} — {outcome.explain()}"
    )
    if not in_force:
        line += f" （{case.date} 政策未执行 / the policy is not in force on {case.date}）"
    elif got == NOT_ELIGIBLE and outcome.matched:
        line += " （已享受该待遇 / already receives the benefit）"
    return Result(case.file, case.name, False, line)


def yaml_files(paths: Iterable[str | Path]) -> Iterator[Path | CaseError]:
    """The files to run, in a stable order; a path that does not exist is an error."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.yaml") if p.is_file())
        elif path.is_file():
            yield path
        else:
            yield CaseError(str(path), "文件或目录不存在", "no such file or directory")


# --- loading --------------------------------------------------------------------------------
def load_file(path: Path, policies: set[str]) -> Iterator[Case | Result]:
    """The cases of one file; each bad case (or an unreadable file) as a failed result."""
    name = str(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=CaseLoader)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        yield Result(name, "", False, f"{name}: 无法读取 YAML / cannot read YAML: {detail}")
        return
    if not isinstance(document, list) or not document:
        yield Result(
            name, "", False, f"{name}: 文件应为用例列表 / the file must be a list of cases"
        )
        return
    for index, raw in enumerate(document, start=1):
        label = f"#{index}"
        if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) and raw["name"]:
            label = f"#{index} {raw['name']}"
        try:
            yield parse_case(raw, name, index, policies)
        except CaseError as err:
            yield Result(name, label, False, f"{name}: {label}: {err.field}: {err.zh} / {err.en}")


def parse_case(raw: Any, file: str, index: int, policies: set[str]) -> Case:
    case = mapping(raw, "case", CASE_KEYS)
    for key in ("name", "policy", "date", "expect"):
        if key not in case:
            raise CaseError(key, "缺少必填项", "missing")
    name = text(case["name"], "name")
    policy = text(case["policy"], "policy")
    if policy not in policies:
        raise CaseError(
            "policy",
            f"未知的政策 {policy}{suggest(policy, policies, zh=True)}",
            f"unknown policy {policy}{suggest(policy, policies)}",
        )
    expect = case["expect"]
    if expect not in EXPECTATIONS:
        raise CaseError(
            "expect",
            f"应为 {' / '.join(EXPECTATIONS)}",
            f"must be one of {', '.join(EXPECTATIONS)}",
        )
    day = date(case["date"], "date")
    facts = person_facts(case.get("person") or {}, case.get("household", {}), policies)
    return Case(file, index, name, policy, day, facts, expect)


def person_facts(raw: Any, household: Any, policies: set[str]) -> PersonFacts:
    person = mapping(raw, "person", PERSON_KEYS)
    death = optional(person.get("deceased"), date, "person.deceased")
    facts = PersonFacts(
        id=PERSON_ID,
        birth_date=optional(person.get("birth_date"), date, "person.birth_date"),
        death_date=death,
    )
    for key, attr, choices in (
        ("gender", "gender", Gender),
        ("hukou_type", "hukou_type", HukouType),
        ("residence", "residence_status", ResidenceStatus),
        ("political_status", "political_status", PoliticalStatus),
    ):
        if key in person:
            setattr(facts, attr, choice(person[key], choices, f"person.{key}"))
    if "hukou" in person:
        facts.hukou_code = hukou(person["hukou"])
    facts.tags = tags(person.get("tags"), PERSON_TAGS, "person.tags")
    facts.benefits = benefits(person.get("benefits"), policies)
    facts.household = household_facts(household, death)
    return facts


def household_facts(raw: Any, death: dt.date | None) -> HouseholdFacts | None:
    if raw is None:
        return None
    household = mapping(raw, "household", HOUSEHOLD_KEYS)
    size = household.get("size", 1)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise CaseError("household.size", "应为不小于1的整数", "must be an integer ≥ 1")
    # the person counts in the size while alive; the others are living housemates
    members = [(PERSON_ID, death), *((PERSON_ID + i, None) for i in range(1, size))]
    return HouseholdFacts(
        id=1, tags=tags(household.get("tags"), HOUSEHOLD_TAGS, "household.tags"), members=members
    )


def tags(raw: Any, codes: tuple[str, ...], where: str) -> list[TagFact]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CaseError(where, "应为列表", "must be a list")
    out: list[TagFact] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        fact = tag(item, codes, at)
        if fact.code in seen:
            raise CaseError(at, f"标签 {fact.code} 重复", f"tag {fact.code} given twice")
        seen.add(fact.code)
        out.append(fact)
    return out


def tag(raw: Any, codes: tuple[str, ...], at: str) -> TagFact:
    """A plain code, or a mapping ``{code, valid_from?, valid_until?, <attributes>}``."""
    if isinstance(raw, str):
        return TagFact(tag_code(raw, codes, at))
    if not isinstance(raw, Mapping):
        raise CaseError(at, "应为标签代码或映射", "must be a tag code or a mapping")
    if "code" not in raw:
        raise CaseError(f"{at}.code", "缺少必填项", "missing")
    code = tag_code(raw["code"], codes, f"{at}.code")
    types = ATTRIBUTE_TYPES.get(code, {})
    attributes: dict[str, Any] = {}
    for key, value in raw.items():
        if key in TAG_RESERVED:
            continue
        if key not in types:
            known = ", ".join(types) or "无 / none"
            raise CaseError(
                f"{at}.{key}",
                f"标签 {code} 没有属性 {key}（可用：{known}）",
                f"tag {code} has no attribute {key} (known: {known})",
            )
        attributes[str(key)] = attribute(value, types[key], f"{at}.{key}")
    return TagFact(
        code,
        attributes,
        optional(raw.get("valid_from"), date, f"{at}.valid_from"),
        optional(raw.get("valid_until"), date, f"{at}.valid_until"),
    )


def tag_code(raw: Any, codes: tuple[str, ...], at: str) -> str:
    if not isinstance(raw, str) or raw not in codes:
        word = str(raw)
        raise CaseError(
            at,
            f"未知的标签 {word}{suggest(word, codes, zh=True)}",
            f"unknown tag {word}{suggest(word, codes)}",
        )
    return raw


def attribute(value: Any, rtype: RuleType, at: str) -> Any:
    """An attribute as the database stores it (JSON: dates as ISO text)."""
    if value is None:
        return None
    if rtype == INT and isinstance(value, int) and not isinstance(value, bool):
        return value
    if rtype == DECIMAL and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if rtype == BOOL and isinstance(value, bool):
        return value
    if rtype == DATE:
        return date(value, at).isoformat()
    if rtype == STR and isinstance(value, str):
        return value
    if isinstance(rtype, EnumType) and value in rtype.values:
        return rtype.to_db(value)
    allowed = f"：{'、'.join(rtype.values)}" if isinstance(rtype, EnumType) else ""
    allowed_en = f": {', '.join(rtype.values)}" if isinstance(rtype, EnumType) else ""
    raise CaseError(
        at, f"应为{rtype.zh}{allowed}，实际为 {value!r}", f"must be a {rtype}{allowed_en}"
    )


def benefits(raw: Any, policies: set[str]) -> list[Benefit]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CaseError("person.benefits", "应为列表", "must be a list")
    out: list[Benefit] = []
    for i, item in enumerate(raw):
        at = f"person.benefits[{i}]"
        entry = mapping(item, at, BENEFIT_KEYS)
        code = text(entry.get("policy"), f"{at}.policy")
        if code not in policies:
            raise CaseError(
                f"{at}.policy",
                f"未知的政策 {code}{suggest(code, policies, zh=True)}",
                f"unknown policy {code}{suggest(code, policies)}",
            )
        since = optional(entry.get("since"), date, f"{at}.since")
        until = optional(entry.get("until"), date, f"{at}.until")
        out.append((code, since, until))
    return out


# --- small validators ---------------------------------------------------------------------
def mapping(raw: Any, where: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise CaseError(where, "应为映射（键: 值）", "must be a mapping (key: value)")
    for key in raw:
        if key not in keys:
            at = str(key) if where == "case" else f"{where}.{key}"
            raise CaseError(
                at,
                f"未知的键 {key}（可用：{'、'.join(keys)}）",
                f"unknown key {key} (known: {', '.join(keys)})",
            )
    return raw


def text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise CaseError(where, "应为非空文本", "must be non-empty text")
    return raw


def date(raw: Any, where: str) -> dt.date:
    """``YYYY-MM-DD`` (:class:`CaseLoader` leaves dates as text)."""
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        return raw
    if isinstance(raw, str) and len(raw) == 10:
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    raise CaseError(
        where, f"日期无效：{raw!r}（应为 YYYY-MM-DD）", f"invalid date {raw!r} (use YYYY-MM-DD)"
    )


def optional(raw: Any, parse: Any, where: str) -> Any:
    return None if raw is None else parse(raw, where)


def choice(raw: Any, choices: Any, where: str) -> str:
    """A value of a ``TextChoices`` written as its Chinese label (农村) or as stored
    (rural); anything else is an error listing the labels."""
    by_label = {str(label): value for value, label in choices.choices}
    if isinstance(raw, str):
        if raw in by_label:
            return str(by_label[raw])
        if raw in choices.values:
            return raw
    labels = "、".join(by_label)
    raise CaseError(
        where,
        f"未知的取值 {raw!r}（可用：{labels}）",
        f"unknown value {raw!r} (use one of {', '.join([*by_label, *choices.values])})",
    )


def hukou(raw: Any) -> str:
    """A division code; YAML reads an unquoted 370830 as a number, which is accepted."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.isdigit():
        raise CaseError(
            "person.hukou",
            f"户籍地应为行政区划代码（数字），实际为 {raw!r}",
            "must be a division code (digits)",
        )
    return raw


def suggest(word: str, options: Iterable[str], *, zh: bool = False) -> str:
    close = get_close_matches(word, sorted(options), n=1, cutoff=0.5)
    if not close:
        return ""
    return f"；您是否想写：{close[0]}" if zh else f"; did you mean {close[0]}"
