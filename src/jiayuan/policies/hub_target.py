"""The ``benefit`` import target (民政救助): benefits residents already receive.

The civil-affairs bureau's assistance list names the person (ID number, name), the
assistance category (救助类别) and its dates. A category that is a policy of the
catalogue becomes a :class:`~.models.ReceivedBenefit` of that policy with the source
``import`` (数据导入): 低保 → ``dibao``, 特困 → ``tekun-gongyang``. The matching run
then leaves the person alone for that policy (``_candidate_q`` excludes receivers) and
closes an open match with 已享受该待遇 on its next, incremental pass: new benefit rows
are found by their ``created_at``, changed ones through the database triggers that log
``PersonChange`` (see ``matching``), so the bulk path needs no signal.

低保边缘 and 临时救助 are not policies of the catalogue (no rule, nothing to match), so
their rows are refused with ``no_policy`` and sent back, rather than stored nowhere.
保障人数 (a whole number) and 月保障金额 (yuan, two decimals) are checked and stored on
the benefit; a later file that leaves them empty keeps what an earlier one said.

The target registers when ``PoliciesConfig.ready`` imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q

from jiayuan.core import actions, idnumber, imports, pii
from jiayuan.core.imports import (
    Context,
    Kind,
    Outcome,
    Problem,
    Row,
    TargetField,
    Written,
    as_date,
    problem,
    refuse_holder,
    text,
)
from jiayuan.people.models import Person

from .choices import BenefitSource
from .models import Policy, ReceivedBenefit

#: 救助类别 → the policy whose benefit it is (None: not a policy of the catalogue).
CATEGORY_POLICY: dict[str, str | None] = {
    "低保": "dibao",
    "特困": "tekun-gongyang",
    "低保边缘": None,
    "临时救助": None,
}

FIELDS = (
    TargetField("id_number", "身份证号", Kind.ID_NUMBER, required=True, pii=True),
    TargetField("name", "姓名"),
    TargetField("category", "救助类别", Kind.CHOICE, required=True,
                choices=tuple(CATEGORY_POLICY)),
    TargetField("persons", "保障人数", Kind.INT),
    TargetField("monthly_amount", "月保障金额", Kind.DECIMAL),
    TargetField("since", "起始日期", Kind.DATE),
    TargetField("until", "终止日期", Kind.DATE),
    TargetField("community", "所属社区"),
)  # fmt: skip


def _category(value: Any) -> str:
    """救助类别 as the bureau writes it (低保, 城市低保, 农村特困 …) in the list's terms."""
    v = text(value)
    if "边缘" in v:
        return "低保边缘"
    if "临时" in v:
        return "临时救助"
    if "特困" in v or "五保" in v:
        return "特困"
    if "低保" in v or "最低生活" in v:
        return "低保"
    return v


#: The largest values the columns hold (保障人数 is a small integer, 月保障金额 ten digits).
MAX_PERSONS = 32767
MAX_AMOUNT = Decimal("99999999.99")


def _numbers(row: Row) -> tuple[dict[str, Any], Problem | None]:
    """保障人数 and 月保障金额 of the row (None when empty), or the problem refusing it."""
    out: dict[str, Any] = {"persons": None, "monthly_amount": None}
    for name, label in (("persons", "保障人数"), ("monthly_amount", "月保障金额")):
        value = row.values.get(name)
        if value is None or value == "":
            continue
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = Decimal(-1)
        if not number.is_finite() or number < 0:
            return out, problem(row.line, name, "invalid_number", f"{label}不是有效的非负数",
                                 f"{name} is not a non-negative number", value)  # fmt: skip
        if name == "persons":
            if number != number.to_integral_value() or number > MAX_PERSONS:
                return out, problem(row.line, name, "invalid_number", "保障人数须为整数",
                                     "persons must be a whole number", value)  # fmt: skip
            out[name] = int(number)
        else:
            if number > MAX_AMOUNT:
                return out, problem(row.line, name, "invalid_number", "月保障金额过大",
                                     "the monthly amount is too large", value)  # fmt: skip
            out[name] = number.quantize(Decimal("0.01"))
    return out, None


#: What an import writes of a benefit it finds already recorded.
BENEFIT_FIELDS = ("since", "until", "persons", "monthly_amount")


class BenefitTarget:
    """民政救助 → the benefits residents receive (享受待遇)."""

    code = "benefit"
    label = "享受待遇（民政救助）"
    fields: tuple[TargetField, ...] = FIELDS

    def write(self, context: Context, rows: Sequence[Row]) -> Written:
        with transaction.atomic():
            return self._write(context, rows)

    def _write(self, context: Context, rows: Sequence[Row]) -> Written:
        outcomes: list[Outcome] = [Outcome.REJECTED] * len(rows)
        problems: list[Problem] = []
        policies = {p.code: p for p in Policy.objects.filter(code__in=[
            c for c in CATEGORY_POLICY.values() if c])}  # fmt: skip
        checked: list[tuple[int, Row, str, Policy, dict[str, Any]]] = []
        for i, row in enumerate(rows):
            v = row.values
            raw_id = v.get("id_number")
            try:
                number = (
                    raw_id.value
                    if isinstance(raw_id, idnumber.IDNumber)
                    else idnumber.parse(text(raw_id)).value
                )
            except idnumber.InvalidIDNumber as exc:
                problems.append(problem(row.line, "id_number", exc.code, exc.zh, exc.en,
                                         pii.mask_id_number(text(raw_id))))  # fmt: skip
                continue
            category = _category(v.get("category"))
            if category not in CATEGORY_POLICY:
                problems.append(problem(
                    row.line, "category", "unknown_category",
                    f"救助类别“{text(v.get('category'))}”不是低保、特困、低保边缘或临时救助",
                    "the category is not one of 低保, 特困, 低保边缘, 临时救助", v.get("category"),
                ))  # fmt: skip
                continue
            code = CATEGORY_POLICY[category]
            policy = policies.get(code) if code else None
            if policy is None:
                problems.append(problem(
                    row.line, "category", "no_policy",
                    f"救助类别“{category}”在政策目录中没有对应的政策，未导入",
                    f"no policy of the catalogue stands for {category}; not imported", category,
                ))  # fmt: skip
                continue
            numbers, refused = _numbers(row)
            if refused is None:
                since, until = as_date(v.get("since")), as_date(v.get("until"))
                if since and until and until <= since:
                    refused = problem(row.line, "until", "dates_out_of_order",
                                      "终止日期须晚于起始日期", "until must be after since",
                                      until)  # fmt: skip
            if refused is not None:
                problems.append(refused)
                continue
            checked.append((i, row, pii.blind_index(number, purpose="id"), policy, numbers))
        if not checked:
            return Written(outcomes=outcomes, problems=problems)
        persons = {
            p.id_number_index: p
            for p in Person.objects.filter(id_number_index__in={c[2] for c in checked})
        }
        existing: dict[tuple[int, int], ReceivedBenefit] = {}
        for b in ReceivedBenefit.objects.filter(
            Q(until__isnull=True) | Q(until__gt=context.as_of),
            person_id__in=[p.pk for p in persons.values()],
            policy_id__in=[p.pk for p in policies.values()],
        ).order_by("since", "pk"):
            existing.setdefault((b.person_id, b.policy_id), b)
        actor = context.actor
        recorder = actor if getattr(actor, "pk", None) else None
        note = f"数据导入：{context.source_name} 批次 #{context.run_id}"
        new: list[ReceivedBenefit] = []
        changed: list[ReceivedBenefit] = []
        previous: list[dict[str, Any]] = []
        seen: set[tuple[int, int]] = set()
        for i, row, index, policy, numbers in checked:
            v = row.values
            person = persons.get(index)
            if person is None:
                problems.append(problem(row.line, "id_number", "unknown_person",
                                         "该身份证号码没有对应的居民",
                                         "no resident has this ID number"))  # fmt: skip
                continue
            refused = refuse_holder(row.line, "id_number", person, text(v.get("name")), actor)
            if refused is not None:
                problems.append(refused)
                continue
            key = (person.pk, policy.pk)
            if key in seen:
                problems.append(problem(row.line, "id_number", "duplicate",
                                         "同一批数据中该居民的同一救助重复出现",
                                         "the same benefit appears twice"))  # fmt: skip
                continue
            seen.add(key)
            since, until = as_date(v.get("since")), as_date(v.get("until"))
            current = existing.get(key)
            if current is None:
                new.append(ReceivedBenefit(
                    person=person, policy=policy, since=since, until=until,
                    persons=numbers["persons"], monthly_amount=numbers["monthly_amount"],
                    source=BenefitSource.IMPORT, recorded_by=recorder,
                ))  # fmt: skip
                outcomes[i] = Outcome.INSERTED
                continue
            before = {name: getattr(current, name) for name in BENEFIT_FIELDS}
            after = {"since": since or current.since, "until": until}
            for name in ("persons", "monthly_amount"):  # an empty cell keeps the value
                after[name] = before[name] if numbers[name] is None else numbers[name]
            if before == after:
                outcomes[i] = Outcome.UNCHANGED
                continue
            for name, value in after.items():
                setattr(current, name, value)
            changed.append(current)
            previous.append(before)
            outcomes[i] = Outcome.UPDATED
        if new:
            actions.bulk_create(ReceivedBenefit, new, actor=actor, note=note)
        if changed:
            actions.bulk_update_each(
                changed, list(BENEFIT_FIELDS), actor=actor, note=note, previous=previous
            )
        return Written(outcomes=outcomes, problems=problems)


# Importing this module (PoliciesConfig.ready) registers the target, as panels do.
imports.register(BenefitTarget())
