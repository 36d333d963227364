"""Recorded inputs: the values a rule read, captured by the query that matched.

A matching run selects the whole population in SQL; to explain each match later it
does not reload every person into Python. Instead the same query also selects every
*leaf* of the rule (``age``, ``hukou``, ``household.has_tag("低保")``,
``tag("残疾人").grade``) as extra columns: :func:`input_columns` builds them and
:func:`read_inputs` turns one result row into JSON keyed by the leaf's source text::

    {"age": 80, "hukou": "370830", "deceased": false}

Stored with the match and the rule's version, those inputs *are* the explanation:
:func:`evaluate_recorded` runs the ordinary Python evaluator over them and produces
the same trace :meth:`Rule.evaluate` would have produced on the day of the match, no
matter how the person's record changes afterwards. Tests prove the recorded trace and
the live one agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from . import typed as t
from .evaluate import Evaluator
from .registry import Env
from .sql import leaf_expressions
from .trace import TraceNode, encode
from .types import BOOL, DATE, DECIMAL, INT, EnumType, coerce_json

LEAF_TYPES = (t.TField, t.TCall, t.TRecordAttr)


def leaves(tree: t.TNode) -> list[t.TNode]:
    """The rule's leaves, one per distinct source text, in reading order."""
    seen: dict[str, t.TNode] = {}
    for node in tree.walk():
        if isinstance(node, LEAF_TYPES) and node.src not in seen:
            seen[node.src] = node
    return list(seen.values())


def input_columns(tree: t.TNode, ref_date: dt.date, prefix: str = "rule_in_") -> dict[str, Any]:
    """``annotate(**input_columns(...))`` selects every leaf's value (``{prefix}{i}``)
    and, for record attributes, whether the record exists (``{prefix}{i}_p``)."""
    columns: dict[str, Any] = {}
    for i, node in enumerate(leaves(tree)):
        value, present = leaf_expressions(node, ref_date)
        columns[f"{prefix}{i}"] = value
        if present is not None:
            columns[f"{prefix}{i}_p"] = present
    return columns


def read_inputs(tree: t.TNode, row: Mapping[str, Any], prefix: str = "rule_in_") -> dict[str, Any]:
    """One result row's leaf columns as JSON keyed by source text."""
    out: dict[str, Any] = {}
    for i, node in enumerate(leaves(tree)):
        value = _from_sql(node, row[f"{prefix}{i}"])
        if isinstance(node, t.TRecordAttr):
            out[node.src] = [encode(value), bool(row[f"{prefix}{i}_p"])]
        else:
            out[node.src] = encode(value)
    return out


def evaluate_recorded(
    tree: t.TNode, inputs: Mapping[str, Any], ref_date: dt.date
) -> tuple[Any, TraceNode]:
    """Evaluate ``tree`` over recorded inputs instead of a live subject."""
    return _Recorded(inputs, Env(ref_date)).eval(tree)


class _Recorded(Evaluator):
    def __init__(self, inputs: Mapping[str, Any], env: Env) -> None:
        super().__init__(None, env)
        self.inputs = inputs

    def read_field(self, node: t.TField) -> Any:
        return _from_json(node, self.inputs.get(node.src))

    def read_call(self, node: t.TCall) -> Any:
        value = _from_json(node, self.inputs.get(node.src))
        return bool(value) if node.type == BOOL else value

    def read_record_attr(self, node: t.TRecordAttr) -> tuple[Any, bool]:
        recorded = self.inputs.get(node.src)
        if not isinstance(recorded, list) or len(recorded) != 2:
            return None, False
        return _from_json(node, recorded[0]), bool(recorded[1])


def _from_sql(node: t.TNode, raw: Any) -> Any:
    """A value as the database returned it, as the Python back end would hold it."""
    if raw is None:
        return None
    rtype = node.type
    if isinstance(node, t.TRecordAttr):
        if rtype == DATE and isinstance(raw, dt.date):
            return raw
        if rtype == BOOL:
            return bool(raw)
        if rtype == DECIMAL and isinstance(raw, Decimal | int | float):
            return Decimal(str(raw))
        return coerce_json(rtype, raw)
    if isinstance(rtype, EnumType):
        return rtype.from_db(raw)
    return _typed(rtype, raw)


def _from_json(node: t.TNode, raw: Any) -> Any:
    if raw is None:
        return None
    return _typed(node.type, raw)


def _typed(rtype: Any, raw: Any) -> Any:
    if rtype == BOOL:
        return bool(raw)
    if rtype == DATE:
        return dt.date.fromisoformat(raw) if isinstance(raw, str) else raw
    if rtype == DECIMAL:
        return Decimal(str(raw))
    if rtype == INT:
        return int(raw)
    return raw
