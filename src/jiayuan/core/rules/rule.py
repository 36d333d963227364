"""A compiled rule: checked once when saved, then run by either back end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from . import typed as t
from .checker import check
from .evaluate import check_items, evaluate
from .inputs import evaluate_recorded, input_columns, read_inputs
from .parser import parse
from .registry import Env, Registry
from .sql import compile_q
from .trace import TraceNode, render

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Outcome:
    """What a rule says about one subject on one date, and why.

    ``matched``: the rule holds (``verify`` items counted as true). ``check_items``:
    the ``verify`` texts the match rests on, to check at the door. ``trace``: JSON,
    every sub-expression's value (see :mod:`.trace`).
    """

    matched: bool
    check_items: list[str]
    trace: TraceNode
    ref_date: dt.date

    @property
    def eligible(self) -> bool:
        """Holds with nothing to verify."""
        return self.matched and not self.check_items

    @property
    def candidate(self) -> bool:
        """Holds if the check items are confirmed at the door."""
        return self.matched and bool(self.check_items)

    def explain(self) -> str:
        """One line of Chinese: every condition with its value, then the verdict."""
        verdict = "不符合"
        if self.matched:
            verdict = "待核实" if self.check_items else "符合"
        return f"{render(self.trace)} ⇒ {verdict}"

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "check_items": list(self.check_items),
            "ref_date": self.ref_date.isoformat(),
            "trace": self.trace,
        }


@dataclass(frozen=True)
class Rule:
    """A rule compiled against a registry. Build with :func:`compile_rule`."""

    source: str
    registry: Registry = field(repr=False)
    tree: t.TNode = field(repr=False)

    def q(self, ref_date: dt.date) -> Q:
        """The rule as a filter on the registry's base model, for ``ref_date``."""
        return compile_q(self.tree, ref_date)

    def filter(self, queryset: QuerySet[M], ref_date: dt.date) -> QuerySet[M]:
        return queryset.filter(self.q(ref_date))

    def evaluate(self, subject: Any, ref_date: dt.date) -> Outcome:
        """The rule for one subject (what the registry's getters read), with a trace."""
        value, trace = evaluate(self.tree, subject, Env(ref_date))
        matched = value is True
        items = check_items(trace) if matched else []
        return Outcome(matched, items, trace, ref_date)

    def input_columns(self, ref_date: dt.date) -> dict[str, Any]:
        """Columns selecting the value of every leaf, to record with a match."""
        return input_columns(self.tree, ref_date)

    def read_inputs(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row annotated with :meth:`input_columns` as JSON keyed by source text."""
        return read_inputs(self.tree, row)

    def evaluate_recorded(self, inputs: dict[str, Any], ref_date: dt.date) -> Outcome:
        """:meth:`evaluate` over inputs recorded by a matching query (:mod:`.inputs`)."""
        value, trace = evaluate_recorded(self.tree, inputs, ref_date)
        matched = value is True
        return Outcome(matched, check_items(trace) if matched else [], trace, ref_date)

    @property
    def fixed_check_items(self) -> list[str] | None:
        """The check items of every match when they do not depend on the subject: each
        ``verify`` is a conjunct of the top-level ``and`` (or there is none). ``None``
        when a ``verify`` sits under an ``or``, and the items must be read per match."""
        conjuncts = [self.tree]
        if isinstance(self.tree, t.TBool) and self.tree.op == "and":
            conjuncts = list(self.tree.operands)
        top = {id(c) for c in conjuncts if isinstance(c, t.TVerify)}
        if any(isinstance(n, t.TVerify) and id(n) not in top for n in self.tree.walk()):
            return None
        return self.check_items

    @property
    def check_items(self) -> list[str]:
        """Every ``verify`` text in the rule, in order."""
        out: list[str] = []
        for node in self.tree.walk():
            if isinstance(node, t.TVerify) and node.text not in out:
                out.append(node.text)
        return out

    @property
    def names(self) -> list[str]:
        """The registry names the rule uses (``household.has_tag`` for namespaced)."""
        out: list[str] = []
        for node in self.tree.walk():
            name = None
            if isinstance(node, t.TField):
                name = node.field.name
            elif isinstance(node, t.TCall | t.TRecordAttr):
                name = node.function.name
            if name is not None and isinstance(node, t.TField | t.TCall | t.TRecordAttr):
                full = ".".join([*(ns.name for ns in node.path), name])
                if full not in out:
                    out.append(full)
        return out


def compile_rule(source: str, registry: Registry) -> Rule:
    """Parse and check ``source`` against ``registry``; :class:`RuleError` if it is not a
    valid, well-typed, safe rule. Call it when a rule is saved."""
    return Rule(source, registry, check(parse(source), registry, source))
