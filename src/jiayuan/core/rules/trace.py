"""Traces: the value of every sub-expression of a rule for one subject, as JSON.

A trace is plain JSON (dicts, lists, strings, numbers, booleans, null) so a match can
store it durably and render it years later without the rule or the registry: each node
has its ``kind``, its source text ``src``, its ``type`` and its ``value`` (dates as
``YYYY-MM-DD``, decimals as strings), plus what its kind needs (``op``, ``label``,
``children`` …). :func:`render` turns it into Chinese::

    age = 80 ≥ 80 ✓; hukou 370830 以 37 开头 ✓
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypedDict


class TraceNode(TypedDict, total=False):
    kind: str  # const field call attr method arith neg compare in and or not verify
    src: str
    type: str
    value: Any
    label: str
    op: str
    method: str
    arg: str
    items: list[Any]
    args: list[Any]
    negated: bool
    present: bool
    text: str
    children: list[TraceNode]


def encode(value: Any) -> Any:
    """A value as JSON: dates ISO, decimals as strings, lists element-wise."""
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


OPS = {"==": "等于", "!=": "不等于", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}
METHODS = {"startswith": "以 {} 开头", "endswith": "以 {} 结尾", "contains": "包含 {}"}


def fmt(value: Any) -> str:
    if value is None:
        return "空"
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)


def mark(value: Any) -> str:
    return "✓" if value is True else "✗"


def render(trace: TraceNode) -> str:
    """The trace in one line of Chinese: conditions joined by ``;``, each with ✓ or ✗."""
    return _cond(trace, top=True)


def render_lines(trace: TraceNode) -> list[str]:
    """One line per top-level condition (the parts of a top-level ``and``)."""
    if trace["kind"] == "and":
        return [_cond(c, top=False) for c in trace.get("children", [])]
    return [render(trace)]


def _operand(node: TraceNode) -> str:
    if node["kind"] == "const":
        return fmt(node["value"])
    return f"{node['src']} = {fmt(node['value'])}"


def _cond(node: TraceNode, top: bool) -> str:
    kind, value = node["kind"], node["value"]
    children = node.get("children", [])
    if kind in ("and", "or"):
        sep = "; " if kind == "and" else " 或 "
        body = sep.join(_cond(c, top=False) for c in children)
        return body if top else f"（{body}）{mark(value)}"
    if kind == "not":
        return f"非（{_cond(children[0], top=False)}）{mark(value)}"
    if kind == "verify":
        return f"※ 待上门核实：{node.get('text', '')}"
    if kind == "compare":
        left, right = children
        if right["kind"] == "const" and right["value"] is None:
            return f"{_operand(left)} {'为空' if node['op'] == '==' else '不为空'} {mark(value)}"
        if left["kind"] == "const" and left["value"] is None:
            return f"{_operand(right)} {'为空' if node['op'] == '==' else '不为空'} {mark(value)}"
        return f"{_operand(left)} {OPS[node['op']]} {_operand(right)} {mark(value)}"
    if kind == "in":
        items = ", ".join(fmt(i) for i in node.get("items", []))
        verb = "不属于" if node.get("negated") else "属于"
        return f"{_operand(children[0])} {verb} ({items}) {mark(value)}"
    if kind == "method":
        target = children[0]
        subject = fmt(target["value"])
        if target["kind"] != "const":
            subject = f"{target['src']} {subject}"
        phrase = METHODS[node.get("method", "contains")].format(node.get("arg", ""))
        return f"{subject} {phrase} {mark(value)}"
    if kind == "call":
        return f"{node.get('label', node['src'])} {mark(value)}"
    if kind == "const":
        return f"{fmt(value)} {mark(value)}"
    return f"{node['src']} = {fmt(value)} {mark(value)}"
