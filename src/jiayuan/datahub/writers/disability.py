"""The ``disability`` target (残联残疾人证): the 残疾人 tag with its attributes.

A second-generation disability certificate number (第二代残疾人证号) has 20
characters: the holder's 18-character ID number, the category (1 视力, 2 听力, 3 言语,
4 肢体, 5 智力, 6 精神, 7 多重) and the level (1–4). All three are checked, and the
category and level columns must agree with the number. The holder is found through the
blind index of the ID number (one query per batch); the certificate becomes the person's
``残疾人`` tag with ``category`` and ``grade`` — the attributes the rule language and
the policies read (``has_tag("残疾人")``, ``tag("残疾人").grade <= 2``) — valid from the
issue date until the certificate's expiry, with the run as evidence. The certificate
number itself is personal (it holds the ID number) and is kept masked only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q

from jiayuan.core import actions, idnumber, imports, pii
from jiayuan.core.imports import Context, Kind, Outcome, Problem, Row, TargetField, Written
from jiayuan.people.choices import TagSource
from jiayuan.people.models import Person, PersonTag, Tag
from jiayuan.people.tagging import recompute_tags

from .. import provenance
from ..provenance import PERSON, Claim
from . import common

TAG = "残疾人"
CATEGORIES = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
_LEVEL_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4}

FIELDS = (
    TargetField("certificate", "残疾人证号", required=True, pii=True),
    TargetField("name", "姓名", required=True),
    TargetField("category", "残疾类别"),
    TargetField("level", "残疾等级"),
    TargetField("issued", "发证日期", Kind.DATE),
    TargetField("valid_until", "有效期至", Kind.DATE),
)


def category_of(value: Any) -> int | None:
    """1–7 from a digit or a name (视力, 视力残疾 …); ``None`` when unreadable."""
    v = imports.text(value)
    if v.isdigit():
        n = int(v)
        return n if 1 <= n <= 7 else None
    for n, name in enumerate(CATEGORIES, start=1):
        if v.startswith(name):
            return n
    return None


def level_of(value: Any) -> int | None:
    """1–4 from ``1``, ``1级``, ``一级``, ``一``."""
    v = imports.text(value).removesuffix("级")
    if v.isdigit():
        n = int(v)
        return n if 1 <= n <= 4 else None
    return _LEVEL_WORDS.get(v)


def check_certificate(
    line: int, raw: str, category: Any, level: Any
) -> tuple[tuple[str, int, int] | None, Problem | None]:
    """``(ID number, category, level)`` of a certificate number, or the problem."""
    value = raw.strip().replace(" ", "").upper()
    masked = pii.mask_id_number(value[:18]) + value[18:] if len(value) >= 18 else "*" * len(value)
    if len(value) != 20 or not value[18:].isdigit():
        return None, imports.problem(
            line, "certificate", "invalid_certificate",
            "残疾人证号应为20位：18位身份证号码、1位残疾类别、1位残疾等级",
            "a disability certificate number has 20 characters: ID number, category, level",
            masked,
        )  # fmt: skip
    try:
        parsed = idnumber.parse(value[:18])
    except idnumber.InvalidIDNumber as exc:
        return None, imports.problem(
            line, "certificate", "invalid_certificate",
            f"残疾人证号中的身份证号码无效：{exc.zh}", f"the ID number in it is invalid: {exc.en}",
            masked,
        )  # fmt: skip
    cat, lvl = int(value[18]), int(value[19])
    if not 1 <= cat <= 7:
        return None, imports.problem(
            line, "certificate", "invalid_category", f"残疾人证号第19位残疾类别 {cat} 不在1–7之间",
            f"the category digit {cat} is not 1–7", masked,
        )  # fmt: skip
    if not 1 <= lvl <= 4:
        return None, imports.problem(
            line, "certificate", "invalid_level", f"残疾人证号第20位残疾等级 {lvl} 不在1–4之间",
            f"the level digit {lvl} is not 1–4", masked,
        )  # fmt: skip
    if imports.text(category) and category_of(category) != cat:
        return None, imports.problem(
            line, "category", "category_mismatch",
            f"残疾类别“{imports.text(category)}”与证号中的类别（{CATEGORIES[cat - 1]}）不一致",
            "the category column disagrees with the certificate number", category,
        )  # fmt: skip
    if imports.text(level) and level_of(level) != lvl:
        return None, imports.problem(
            line, "level", "level_mismatch",
            f"残疾等级“{imports.text(level)}”与证号中的等级（{lvl}级）不一致",
            "the level column disagrees with the certificate number", level,
        )  # fmt: skip
    return (parsed.value, cat, lvl), None


def describe(category: str, grade: int, masked: str) -> str:
    """The provenance value of a certificate: ``肢体 3级（3708…1234 43）``."""
    return f"{category} {grade}级（{masked}）"


class DisabilityTarget:
    """残联残疾人证 → the ``残疾人`` tag of the holder."""

    code = "disability"
    label = "残疾人证（残联）"
    fields: tuple[TargetField, ...] = FIELDS

    def write(self, context: Context, rows: Sequence[Row]) -> Written:
        with transaction.atomic():
            return self._write(context, rows)

    def _write(self, context: Context, rows: Sequence[Row]) -> Written:
        outcomes: list[Outcome] = [Outcome.REJECTED] * len(rows)
        problems: list[Problem] = []
        tag = Tag.objects.filter(code=TAG).first()
        checked: list[tuple[int, Row, str, int, int]] = []
        for i, row in enumerate(rows):
            v = row.values
            if tag is None:
                problems.append(imports.problem(
                    row.line, "", "unknown_tag", f"标签目录中没有“{TAG}”", f"there is no tag {TAG}",
                ))  # fmt: skip
                continue
            found, problem = check_certificate(
                row.line, imports.text(v.get("certificate")), v.get("category"), v.get("level")
            )
            if problem is not None or found is None:
                problems.extend([problem] if problem is not None else [])
                continue
            checked.append((i, row, *found))
        if not checked or tag is None:
            return Written(outcomes=outcomes, problems=problems)
        index = {i: pii.blind_index(number, purpose="id") for i, _r, number, _c, _l in checked}
        persons = {
            p.id_number_index: p
            for p in Person.objects.filter(id_number_index__in=set(index.values()))
        }
        today = context.as_of
        open_tags: dict[int, PersonTag] = {}
        for t in PersonTag.objects.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=today),
            tag=tag,
            person_id__in=[p.pk for p in persons.values()],
        ).order_by("valid_from"):
            open_tags[t.person_id] = t
        source = common.source_id(context)
        origin = common.origin_of(context, source)
        note = common.note(context)
        new: list[PersonTag] = []
        changed: list[PersonTag] = []
        previous: list[dict[str, Any]] = []
        claims: list[Claim] = []
        held: dict[tuple[int, str], str] = {}
        actor = context.actor
        seen: set[int] = set()
        for i, row, number, cat, lvl in checked:
            v = row.values
            person = persons.get(index[i])
            if person is None:
                problems.append(imports.problem(
                    row.line, "certificate", "unknown_person",
                    "证号中的身份证号码没有对应的居民", "no resident has the ID number in it",
                    pii.mask_id_number(number),
                ))  # fmt: skip
                continue
            if person.pk in seen:
                problems.append(imports.problem(
                    row.line, "certificate", "duplicate", "同一批数据中该居民的残疾人证重复出现",
                    "the same person's certificate appears twice in one batch",
                ))  # fmt: skip
                continue
            seen.add(person.pk)
            name = imports.text(v.get("name"))
            refused = imports.refuse_holder(row.line, "certificate", person, name, actor)
            if refused is not None:
                problems.append(refused)
                continue
            masked = pii.mask_id_number(number) + f"{cat}{lvl}"
            attrs: dict[str, Any] = {
                "category": CATEGORIES[cat - 1], "grade": lvl, "certificate": masked,
            }  # fmt: skip
            issued = imports.as_date(v.get("issued"))
            until = imports.as_date(v.get("valid_until"))
            evidence = {"来源": context.source_name, "批次": context.run_id, "行号": row.line}
            current = open_tags.get(person.pk)
            value = describe(CATEGORIES[cat - 1], lvl, masked)
            claims.append(Claim(person.pk, "disability", value))
            if current is None:
                held[(person.pk, "disability")] = value
                new.append(PersonTag(
                    person=person, tag=tag, attributes=attrs, valid_from=issued,
                    valid_until=until, source=TagSource.IMPORT, evidence=evidence,
                ))  # fmt: skip
                outcomes[i] = Outcome.INSERTED
                continue
            before = {"attributes": current.attributes, "valid_from": current.valid_from,
                      "valid_until": current.valid_until, "source": current.source}  # fmt: skip
            held[(person.pk, "disability")] = describe(
                str(current.attributes.get("category", "")),
                current.attributes.get("grade", 0),
                str(current.attributes.get("certificate", "")),
            )
            after = {"attributes": attrs, "valid_from": issued or current.valid_from,
                     "valid_until": until, "source": TagSource.IMPORT}  # fmt: skip
            if after == before:
                outcomes[i] = Outcome.UNCHANGED
                continue
            for name_, val in after.items():
                setattr(current, name_, val)
            current.evidence = evidence
            changed.append(current)
            previous.append({**before, "evidence": None})
            outcomes[i] = Outcome.UPDATED
        if new:
            actions.bulk_create(PersonTag, new, actor=actor, note=note)
        if changed:
            actions.bulk_update_each(
                changed, ["attributes", "valid_from", "valid_until", "source", "evidence"],
                actor=actor, note=note, previous=previous,
            )  # fmt: skip
        if claims:
            provenance.settle(PERSON, claims, origin, held)
        persons_written = sorted({t.person_id for t in (*new, *changed)})
        if persons_written:
            recompute_tags(persons=persons_written, note="标签规则计算（数据导入）")
        return Written(outcomes=outcomes, problems=problems)
