"""Personal answers (个人答复): "我能领高龄津贴吗？" from a verified resident, answered from
their own record through the policy engine.

A question is about the asker when it names them (我/俺/咱/我家 …) and asks whether they
qualify (能不能/可以/符合/够不够 …). When the answer's top entry is about a catalogue
policy, :func:`jiayuan.policies.matching.classify` decides on the resident's own facts
today: eligible, a candidate with the items to verify at the door, or not eligible
with the failing conditions of the rule's trace in plain words. Only the asker's own
record is read; the entry stays cited. Nothing is written here.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

from jiayuan.core.rules import RuleError
from jiayuan.core.rules.trace import TraceNode, render
from jiayuan.people.models import Person
from jiayuan.people.rules_fields import facts_of
from jiayuan.policies.matching import CANDIDATE, ELIGIBLE, classify
from jiayuan.policies.registry import compile_policy_rule, load_benefits, receives

from .answering import Answer
from .models import Entry

# The asker speaks of themselves (or their own household) ...
SELF_RE = re.compile(r"我|俺|咱|本人|自己")
# ... and asks whether they qualify.
QUALIFY_RE = re.compile(
    r"能不能|能否|可不可以|可以|符合|够不够|够格|够条件|有没有资格|有资格|能领|能拿|能享受|能办|"
    r"能申请|中不中|行不行|算不算|能.{0,8}[吗不么]"
)


def is_about_self(question: str) -> bool:
    """Whether ``question`` asks if the asker themselves qualifies."""
    return bool(SELF_RE.search(question) and QUALIFY_RE.search(question))


def _plain(node: TraceNode) -> TraceNode:
    """A copy of ``node`` whose fields read by their Chinese labels (``年龄`` for ``age``)."""
    out = copy.deepcopy(node)
    stack = [out]
    while stack:
        item = stack.pop()
        if item.get("kind") in ("field", "attr") and item.get("label"):
            item["src"] = item["label"]
        stack.extend(item.get("children", []))
    return out


def failing_conditions(trace: TraceNode) -> list[str]:
    """The conditions of a failed rule that do not hold, one line each in Chinese: the
    leaves under the failing parts of its top-level ``and`` (an ``or`` that fails is one
    line: none of its options holds)."""
    if trace.get("value") is not False:
        return []
    if trace.get("kind") == "and":
        lines: list[str] = []
        for child in trace.get("children", []):
            lines.extend(failing_conditions(child))
        return lines
    text = render(_plain(trace)).replace(" ✗", "").replace(" ✓", "")
    return [text]


def _entry_policy(key: str) -> Entry | None:
    if not key:
        return None
    return Entry.objects.select_related("policy").filter(key=key, policy__isnull=False).first()


def personal_answer(answer: Answer, person: Person, day: dt.date) -> Answer | None:
    """The personal version of ``answer`` for ``person``, or ``None`` when the top entry
    is about no catalogue policy (the general answer stands)."""
    if answer.abstained or not answer.citations:
        return None
    entry = _entry_policy(answer.entry or answer.citations[0].entry)
    if entry is None or entry.policy is None:
        return None
    policy = entry.policy
    try:
        rule = compile_policy_rule(policy.rule)
    except RuleError:
        return None
    facts = facts_of(Person.objects.filter(pk=person.pk), load_benefits).get(person.pk)
    if facts is None:
        return None
    verdict, outcome = classify(policy.code, facts, day, rule)
    lines = [_verdict_text(verdict, outcome, policy.name, facts, policy.code, day)]
    lines.append(f"（以上根据您在社区登记的信息判断，以{policy.office or '主管部门'}审核为准。）")
    lines.append(answer.text)
    extra: dict[str, Any] = {
        **answer.extra,
        "verdict": verdict,
        "policy": policy.code,
        "check_items": list(outcome.check_items),
    }
    return Answer(
        question=answer.question,
        text="\n".join(lines),
        abstained=False,
        reason="",
        citations=list(answer.citations),
        score=answer.score,
        entry=answer.entry,
        office=answer.office,
        personal=True,
        extra=extra,
    )


def _verdict_text(
    verdict: str, outcome: Any, name: str, facts: Any, code: str, day: dt.date
) -> str:
    if verdict == ELIGIBLE:
        return f"根据您的登记信息，您符合「{name}」的条件，可以到社区党群服务中心申请。"
    if verdict == CANDIDATE:
        items = "、".join(outcome.check_items)
        return f"根据您的登记信息，您可能符合「{name}」的条件，还需要工作人员上门核实：{items}。"
    if outcome.matched and receives(facts.benefits, code, day):
        return f"根据您的登记信息，您已经在享受「{name}」，不需要再申请。"
    reasons = "；".join(failing_conditions(outcome.trace)) or "登记信息不满足条件"
    return f"根据您的登记信息，您暂不符合「{name}」的条件：{reasons}。"
